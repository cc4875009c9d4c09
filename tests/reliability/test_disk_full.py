"""Disk full on a real 2 MiB tmpfs mounted as the output folder: fail cleanly, pause, say why, resume by itself."""

from __future__ import annotations

import errno
import subprocess
import time
from pathlib import Path

import pytest

from tests.reliability.helpers import Daemon, make_clip, metric, rows, scrape, temp_leftovers, wait_for, write_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _mounted(folder: Path, size: str):
    folder.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True,
                         text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): {res.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path):
    """``tmp_path/out`` as a 2 MiB tmpfs; unmounted whatever happens."""
    yield from _mounted(tmp_path / "out", "2m")


@pytest.fixture
def small_state_disk(tmp_path):
    """``tmp_path/state`` as a 4 MiB tmpfs (the journal and the workdirs live there)."""
    yield from _mounted(tmp_path / "state", "4m")


def fill(folder: Path) -> Path:
    """Write a filler file until the filesystem refuses another byte."""
    filler = folder / "filler.bin"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\xff" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        try:  # tmpfs may still take a last partial page
            while True:
                f.write(b"\xff")
        except OSError:
            pass
    return filler


def test_output_disk_full_pauses_then_resumes_by_itself(tmp_path, small_disk):
    cfg = write_config(tmp_path, settle_s=0.2, settle_max_s=1.0, folder_extra='output = "out"')
    filler = fill(small_disk)
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        make_clip(tmp_path / "in" / "first.mp4")
        d.wait_log('"why": "disk_full"', timeout=60)
        # failed cleanly: nothing of this job under a final name, no temp files, back in the queue
        assert sorted(p.name for p in small_disk.iterdir()) == ["filler.bin"]
        assert temp_leftovers(small_disk) == []
        (job,) = rows(tmp_path)
        assert job["state"] in ("pending", "running") and job["reason"] in ("disk_full", None), job
        assert job["attempts"] <= 1  # a full disk is not the file's fault: no attempt is spent
        # a metric and a log line say why
        page = scrape(d)
        assert metric(page, "flickerd_intake_paused", folder="in") == 1.0
        assert metric(page, "flickerd_failures_total", reason="disk_full") >= 1.0
        assert "No space left on device" in d.log()
        # intake is paused: a new file is not taken in, and the job is not retried in a loop
        make_clip(tmp_path / "in" / "second.mp4", seed=1)
        time.sleep(2.0)
        assert [r["path"] for r in rows(tmp_path)] == [job["path"]]
        assert d.log().count('"job_started"') == 1
        # space returns: work resumes by itself
        filler.unlink()
        d.wait_log('"folder_resumed"', timeout=30)
        wait_for(lambda: len(rows(tmp_path, "state = 'done'")) == 2, 60, what="both jobs done")
        assert metric(scrape(d), "flickerd_intake_paused", folder="in") == 0.0
        for name in ("first", "second"):
            assert (small_disk / f"{name}.report.json").stat().st_size > 0
        assert rows(tmp_path, "path LIKE '%first.mp4'")[0]["attempts"] == 1
        assert temp_leftovers(small_disk) == []
    finally:
        assert d.stop() == 0, d.log()[-3000:]
    assert d.proc.returncode == 0


def test_state_disk_full_pauses_all_intake_and_resumes(tmp_path, small_state_disk):
    cfg = write_config(tmp_path, settle_s=0.2, settle_max_s=1.0)
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        filler = fill(small_state_disk)
        make_clip(tmp_path / "in" / "during.mp4")
        d.wait_log('"why": "state_disk_full"', timeout=60)
        assert d.proc.poll() is None, "the daemon died of a full state disk"
        assert metric(scrape(d), "flickerd_intake_paused", folder="in") == 1.0
        time.sleep(1.5)
        assert not rows(tmp_path, "state = 'done'")
        filler.unlink()
        d.wait_log('"intake_resumed"', timeout=30)
        wait_for(lambda: rows(tmp_path, "state = 'done'"), 60, what="the job done after space returned")
        (job,) = rows(tmp_path)
        assert job["attempts"] <= 1 and (tmp_path / "in.fixed" / "during.report.json").exists()
        assert metric(scrape(d), "flickerd_intake_paused", folder="in") == 0.0
    finally:
        assert d.stop() == 0, d.log()[-3000:]
    assert "Traceback" not in d.log()

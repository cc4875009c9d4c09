"""Junk in a hot folder is set aside at once and said, and ``run --once`` always ends."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.service.helpers import ENV, FLICKERD, Daemon, make_clip, rows, run_cli, wait_for, write_config

pytestmark = pytest.mark.timeout(60)
JUNK = 200  # the trial had 2,000; a tenth shows the same


def _events(text: str, event: str) -> list[dict]:
    return [e for e in map(json.loads, filter(None, text.splitlines())) if e.get("event") == event]


def test_junk_is_quarantined_at_once_with_a_line_a_row_and_a_report(tmp_path):
    cfg = write_config(tmp_path, settle_max_s=3600.0)  # the default patience for a paused writer
    d = Daemon(tmp_path, "--metrics-address", "off", config=cfg)
    try:
        d.wait_log("daemon_started")
        staged = tmp_path / "notes.mp4"
        staged.write_text("call the colourist\n")
        staged.rename(tmp_path / "in" / "notes.mp4")  # copy-then-rename, as the trial did
        for i in range(JUNK):
            (tmp_path / "in" / f"junk{i:04d}.mp4").write_bytes(b"not a video at all " * 8 + bytes([i % 251]))
        wait_for(lambda: len(rows(tmp_path, "state = 'quarantined'")) == JUNK + 1, 40,
                 what=f"{JUNK + 1} quarantined rows")
        status = run_cli(tmp_path, "status", "-c", str(cfg), "-n", str(JUNK + 1))
    finally:
        assert d.stop() == 0
    got = rows(tmp_path)
    assert {r["reason"] for r in got} == {"not_a_video"} and len(got) == JUNK + 1
    notes = next(r for r in got if r["path"].endswith("notes.mp4"))
    assert "is not a video" in notes["error"]
    assert Path(notes["report_path"]) == tmp_path / "in.fixed" / "_failed" / "notes.report.json"
    assert json.loads(Path(notes["report_path"]).read_text())["failure"] == "not_a_video"
    quarantined = _events(d.log(), "job_quarantined")
    assert len(quarantined) == JUNK + 1 and all(e["reason"] == "not_a_video" for e in quarantined)
    assert "notes.mp4" in status.stdout and "not_a_video" in status.stdout


def test_run_once_always_ends_and_names_what_it_left(tmp_path):
    cfg = write_config(tmp_path, settle_max_s=3600.0)
    inbox = tmp_path / "in"
    make_clip(inbox / "good.mp4")
    (inbox / "notes.mp4").write_text("not a video\n")
    paused = make_clip(inbox / "paused.mp4")  # a render whose writer stopped before the moov
    paused.write_bytes(paused.read_bytes()[: paused.stat().st_size // 2])
    t0 = time.monotonic()
    done = subprocess.run([*FLICKERD, "run", "-c", str(cfg), "--once", "--metrics-address", "off"], cwd=tmp_path,
                          capture_output=True, text=True, env=ENV, timeout=50)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - t0 < 30
    by_name = {Path(r["path"]).name: r for r in rows(tmp_path)}
    assert by_name["good.mp4"]["state"] == "done"
    assert (by_name["notes.mp4"]["state"], by_name["notes.mp4"]["reason"]) == ("quarantined", "not_a_video")
    assert "paused.mp4" not in by_name  # not given up: the next run looks again
    (left,) = _events(done.stdout, "file_not_taken")
    assert left["file"].endswith("paused.mp4") and left["why"]

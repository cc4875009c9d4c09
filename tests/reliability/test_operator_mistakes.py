"""What a careless operator does to a running ``flickerd run``: rename a source mid-job, drop a folder from
the config, delete the state dir. Nothing may be stranded, and no two daemons may work the same files."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.reliability.helpers import (
    FINAL_STATES, Daemon, make_clip, metric, rows, run_cli, scrape, wait_for, write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

FFMPEG_RULES = """
[[rules]]
name = "deflicker-all"
action = "fix"
steps = [{ route = "ffmpeg", params = { deflicker = true, deband = false } }]
"""
OLD_FOLDER = """
[[folders]]
name = "old"
path = "old"
settle_s = 0.2
"""


def long_clip(root: Path, dest: Path, seed: int = 0) -> Path:
    """A clip whose ffmpeg job runs a few seconds: long enough to act on it while it runs."""
    staged = make_clip(root / "stage" / dest.name, frames=100, width=160, height=120, flicker=10, seed=seed)
    return staged.rename(dest)


def row(root: Path, path: Path, states: set[str]) -> dict | None:
    got = [r for r in rows(root, f"path = '{path}'") if r["state"] in states]
    return got[-1] if got else None


def test_a_source_renamed_during_its_job_still_gets_an_output(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.2, rules=FFMPEG_RULES, folder_extra="auto_accept = true")
    a, b = tmp_path / "in" / "a.mp4", tmp_path / "in" / "b.mp4"
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        long_clip(tmp_path, a)
        wait_for(lambda: row(tmp_path, a, {"running"}), 30, interval=0.02, what="a's job running")
        os.rename(a, b)  # the operator tidies up a name while the job runs
        job = wait_for(lambda: row(tmp_path, b, FINAL_STATES), 90, interval=0.1, what="b's job")
        assert job["state"] == "done" and job["output_path"], (job, d.log()[-3000:])
        assert Path(job["output_path"]).is_file()
        # a retry gives it an output again, not a copy of a failed original's nothing
        assert run_cli(tmp_path, "retry", "-c", str(cfg), str(job["id"])).returncode == 0
        wait_for(lambda: row(tmp_path, b, {"pending", "running"}) is None, 60, interval=0.1, what="the retry")
        job = row(tmp_path, b, FINAL_STATES)
        assert job["state"] == "done" and job["output_path"] and Path(job["output_path"]).is_file(), job
    finally:
        assert d.stop() == 0, d.log()[-3000:]


def test_reload_cancels_a_removed_folders_jobs_and_keeps_a_renamed_ones(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.2, rules=FFMPEG_RULES, folder_extra="auto_accept = true\n" + OLD_FOLDER)
    (tmp_path / "old").mkdir()
    before = cfg.read_text()
    blocker, x, y = tmp_path / "in" / "blocker.mp4", tmp_path / "old" / "x.mp4", tmp_path / "in" / "y.mp4"
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        long_clip(tmp_path, blocker)  # one CPU worker: what comes next waits behind it
        wait_for(lambda: row(tmp_path, blocker, {"running"}), 30, interval=0.02, what="the blocker running")
        make_clip(tmp_path / "stage" / "x.mp4", seed=1).rename(x)
        make_clip(tmp_path / "stage" / "y.mp4", seed=2).rename(y)
        wait_for(lambda: row(tmp_path, x, {"pending"}) and row(tmp_path, y, {"pending"}), 30, what="x, y queued")
        assert row(tmp_path, blocker, {"running"}), "the blocker ended before the reload; make it longer"
        # "old" leaves the config; "in" keeps its path under a new name
        cfg.write_text(before.replace(OLD_FOLDER, "").replace('name = "in"\n', 'name = "renamed"\n'))
        d.signal(signal.SIGHUP)
        d.wait_log('"config_reloaded"')
        cancelled = wait_for(lambda: row(tmp_path, x, {"cancelled"}), 5, what="x cancelled")
        assert cancelled["reason"] == "folder_removed" and "old" in cancelled["error"], cancelled
        assert '"event": "job_cancelled"' in d.log()
        status = run_cli(tmp_path, "status", "-c", str(cfg))
        assert "folder_removed" in status.stdout, status.stdout
        done = wait_for(lambda: row(tmp_path, y, FINAL_STATES), 60, interval=0.1, what="y done")
        assert done["state"] == "done" and done["folder"] == "renamed", done
        # the same content as x, dropped where it is watched now: processed, not stranded as x's duplicate
        x2 = tmp_path / "in" / "x2.mp4"
        shutil.copy(x, tmp_path / "stage" / "x2.mp4")
        os.rename(tmp_path / "stage" / "x2.mp4", x2)
        again = wait_for(lambda: row(tmp_path, x2, FINAL_STATES), 60, interval=0.1, what="x2 done")
        assert again["state"] == "done" and again["output_path"] and again["duplicate_of"] is None, again
        assert metric(scrape(d), "flickerd_jobs_cancelled_total", reason="folder_removed") == 1
    finally:
        assert d.stop() == 0, d.log()[-3000:]


def test_state_dir_removed_while_running_stops_the_daemon(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.2)
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        make_clip(tmp_path / "stage" / "one.mp4").rename(tmp_path / "in" / "one.mp4")
        wait_for(lambda: rows(tmp_path, "state = 'done'"), 30, what="the first clip done")
        shutil.rmtree(tmp_path / "state")
        code = d.wait(15)
    except subprocess.TimeoutExpired:
        d.kill()
        pytest.fail(f"the daemon kept running without its state dir:\n{d.log()[-3000:]}")
    log = d.log()
    assert code != 0 and '"event": "state_dir_lost"' in log, log[-3000:]
    # systemd restarts it: the new daemon owns a new journal, alone
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        make_clip(tmp_path / "stage" / "two.mp4", seed=3).rename(tmp_path / "in" / "two.mp4")
        wait_for(lambda: rows(tmp_path, "path LIKE '%two.mp4' AND state = 'done'"), 30, what="the second clip")
        assert run_cli(tmp_path, "status", "-c", str(cfg)).returncode == 0
    finally:
        assert d.stop() == 0, d.log()[-3000:]
    assert len(rows(tmp_path, "path LIKE '%two.mp4'")) == 1
    # the new journal was rebuilt from the reports: the clip published before the loss was not processed again
    assert '"event": "journal_rebuilt"' in d.log() and "one.mp4" not in "".join(
        line for line in d.log().splitlines() if '"job_started"' in line), d.log()[-3000:]
    assert [r["state"] for r in rows(tmp_path, "path LIKE '%one.mp4'")] == ["done"]


def test_a_reload_that_changes_the_state_dir_says_it_needs_a_restart_and_keeps_the_old_one(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.2)
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        cfg.write_text(cfg.read_text().replace('state_dir = "state"', 'state_dir = "elsewhere"'))
        d.signal(signal.SIGHUP)
        d.wait_log('"config_reloaded"')
        log = d.log()
        assert '"event": "config_needs_restart"' in log and '"state_dir"' in log, log[-3000:]
        make_clip(tmp_path / "stage" / "a.mp4").rename(tmp_path / "in" / "a.mp4")
        wait_for(lambda: rows(tmp_path, "state = 'done'"), 30, what="a clip done in the old state dir")
        assert not (tmp_path / "elsewhere").exists()
    finally:
        assert d.stop() == 0, d.log()[-3000:]

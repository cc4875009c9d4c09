"""Special files and links placed in a hot folder, through a real ``flickerd run``: none crashes, hangs or
stops the daemon's intake, at the first start or at a restart that finds them there."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from flickerd.synth import hostile_places
from flickerd.synth.hostile import write_clip
from tests.reliability.helpers import Daemon, FINAL_STATES, metric, rows, scrape, wait_for, write_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

STOP_S = 20.0  # the first SIGTERM must stop it: nothing may be stuck on a pipe


def stop_once(d: Daemon) -> int:
    """One SIGTERM; a daemon that ignores it is killed and the test fails."""
    d.signal(15)
    try:
        return d.wait(STOP_S)
    except subprocess.TimeoutExpired:
        d.kill()
        pytest.fail(f"the daemon ignored SIGTERM for {STOP_S:g} s:\n{d.log()[-3000:]}")


def drop(root: Path, name: str, seed: int) -> Path:
    staged = write_clip(root / f".{name}", seed=seed)
    return staged.rename(root / "in" / name)


def finished(root: Path, paths: list[Path]) -> list[dict] | None:
    got = {r["path"]: r for r in rows(root) if r["state"] in FINAL_STATES}
    return [got[str(p)] for p in paths] if all(str(p) in got for p in paths) else None


def test_placed_entries_never_stop_the_daemon(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.2, settle_max_s=2.0, folder_extra="sequence_quiet_s = 0")
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        placed = hostile_places.place(tmp_path / "in", tmp_path / "outside")
        after = drop(tmp_path, "after.mp4", seed=9)  # intake must go on behind them
        processed = [p for p in placed if p.refused is None]
        jobs = wait_for(lambda: finished(tmp_path, [p.path for p in processed] + [after]), 60,
                        what="every processed case and the clip after them")
        for p in placed:
            if p.refused:
                d.wait_log(f'"why": "{p.refused}"', timeout=10)
        page = scrape(d)
    finally:
        code = stop_once(d)
    log = d.log()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log and "MemoryError" not in log, log[-3000:]
    for p, job in zip(processed, jobs):
        assert job["state"] == "done", (p.name, job["reason"], job["error"])
        report = json.loads(Path(job["report_path"]).read_text())
        if p.frames is not None:
            assert report["source"]["probe"]["frame_count"] == p.frames, p.name
        if p.name == "frame_outside":  # said where people look: the report and the log
            name = f"shot_{hostile_places.LINKED_FRAME:04d}.png"
            assert any(name in note for note in report["notes"]), report["notes"]
            assert '"event": "frames_ignored"' in log
    assert jobs[-1]["state"] == "done"
    by_path = {r["path"] for r in rows(tmp_path)}
    for p in placed:
        if p.refused:
            assert str(p.path) not in by_path, f"{p.name} became a job"
            assert f'"file": "{p.path}"' in log, p.name
            assert metric(page, "flickerd_files_refused_total", folder="in", why=p.refused) >= 1, p.name
    # what the links point at never reached a report, an output or the log
    published = " ".join(f.read_text(errors="replace") for f in (tmp_path / "in.fixed").rglob("*.json"))
    assert hostile_places.SECRET not in published and hostile_places.SECRET not in log

    # a restart finds every entry in place: it starts, refuses them again, and takes new work
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        for p in placed:
            if p.refused:
                d.wait_log(f'"file": "{p.path}"', timeout=10)
        again = drop(tmp_path, "again.mp4", seed=10)
        (job,) = wait_for(lambda: finished(tmp_path, [again]), 30, what="the clip after the restart")
    finally:
        code = stop_once(d)
    assert code == 0 and job["state"] == "done", d.log()[-3000:]
    assert len(rows(tmp_path)) == len(processed) + 2, "the restart made no job twice"
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".stage-")]

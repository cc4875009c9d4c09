"""Resource limits in a real daemon: beyond a limit → quarantined with the reason, never attempted;
too slow → stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability.helpers import Daemon, make_clip, rows, write_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_limits_from_config_quarantine_before_any_attempt(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.2, settle_max_s=1.0, daemon_extra="""
[limits]
max_frames = 10
max_file_bytes = 200000
""")
    make_clip(tmp_path / "in" / "ok.mp4", frames=8)
    make_clip(tmp_path / "in" / "long.mp4", frames=12)
    big = tmp_path / "in" / "big.mp4"
    make_clip(big, frames=8, seed=3)
    with open(big, "ab") as f:  # trailing bytes after the moov: still a valid file, just too large
        f.write(b"\0" * 250_000)
    d = Daemon(tmp_path, "--once", config=cfg)
    assert d.wait(90) == 0, d.log()
    jobs = {Path(r["path"]).name: r for r in rows(tmp_path)}
    assert jobs["ok.mp4"]["state"] == "done", d.log()
    for name, key in (("long.mp4", "limits.max_frames"), ("big.mp4", "limits.max_file_bytes")):
        job = jobs[name]
        assert (job["state"], job["reason"], job["attempts"]) == ("quarantined", "limit_exceeded", 0), job
        assert key in job["error"]
        note = json.loads((tmp_path / "in.fixed" / "_failed" / f"{Path(name).stem}.report.json").read_text())
        assert note["failure"] == "limit_exceeded" and key in note["reason"]
    assert d.log().count('"job_started"') == 1  # only ok.mp4 was attempted


def test_a_job_past_job_timeout_is_stopped_and_quarantined(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.2, daemon_extra="""
[limits]
job_timeout_s = 0.1
""")
    make_clip(tmp_path / "in" / "slow.mp4", frames=60, width=160, height=120, flicker=10)  # takes seconds
    d = Daemon(tmp_path, "--once", config=cfg)
    assert d.wait(90) == 0, d.log()
    (job,) = rows(tmp_path)
    assert (job["state"], job["reason"], job["attempts"]) == ("quarantined", "timeout", 1), (job, d.log()[-3000:])
    assert "limits.job_timeout_s" in job["error"]
    assert '"job_timed_out"' in d.log()
    assert list((tmp_path / "state" / "work").iterdir()) == []

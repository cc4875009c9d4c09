"""Writes never leave the output folder: ``_failed/`` or ``_review/`` replaced by a link to somewhere else
gets no report or candidate through it (a real ``flickerd run``); the job fails with a reason that says so."""

from __future__ import annotations

import os

import pytest

from tests.reliability.helpers import Daemon, FINAL_STATES, make_clip, rows, wait_for, write_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

REVIEW = """
[[folders]]
name = "cand"
path = "cand"
settle_s = 0.2
auto_accept = false

[[folders.rules]]
name = "candidate"
action = "review"
steps = [{ route = "ffmpeg", params = { deflicker = true, deband = false } }]
"""


def test_no_report_or_candidate_goes_through_a_link_below_the_output_folder(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.2, daemon_extra="max_attempts = 2", folder_extra=REVIEW)
    outside = tmp_path / "outside"
    outside.mkdir()
    for out, sub in (("in.fixed", "_failed"), ("cand.fixed", "_review")):
        (tmp_path / out).mkdir()
        (tmp_path / out / sub).symlink_to(outside)  # someone swapped the folder for a link
    (tmp_path / "cand").mkdir()
    bad = tmp_path / "in" / "bad.mp4"
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        bad.write_text("not a video\n")  # quarantined: its report belongs in in.fixed/_failed/
        cand = make_clip(tmp_path / "stage" / "c.mp4", flicker=12).rename(tmp_path / "cand" / "c.mp4")
        good = make_clip(tmp_path / "stage" / "ok.mp4").rename(tmp_path / "in" / "ok.mp4")
        got = wait_for(lambda: all(rows(tmp_path, f"path = '{p}' AND state IN "
                                                 f"({','.join(repr(s) for s in FINAL_STATES)})")
                                   for p in (bad, cand, good)), 60, what="three jobs finished")
        assert got
        assert os.listdir(outside) == [], "a write went through the link"
        (job,) = rows(tmp_path, f"path = '{cand}'")
        assert job["state"] == "quarantined" and job["reason"] == "unsafe_output", job
        assert "cand.fixed/_review" in job["error"] and "link" in job["error"], job["error"]
        assert rows(tmp_path, f"path = '{bad}'")[0]["state"] == "quarantined"
        assert rows(tmp_path, f"path = '{good}'")[0]["state"] == "done"  # the folder itself still works
        assert '"event": "report_write_failed"' in d.log() and "Traceback" not in d.log()
        assert d.proc.poll() is None
    finally:
        assert d.stop() == 0, d.log()[-3000:]
    assert os.listdir(outside) == []

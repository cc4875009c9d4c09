"""The hostile corpus through a real ``flickerd run``: each file gets its documented outcome, none crashes it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from flickerd.synth import hostile
from tests.reliability.helpers import Daemon, rows, sha256, temp_leftovers, write_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

PROCESSED_OUTCOMES = {"done", "report_only", "needs_attention"}
HANG_BOUND_S = 90.0  # ~5 s on one core; no case may sit waiting for a limit that never fires


def test_every_hostile_input_gets_its_documented_outcome(tmp_path):
    staged = hostile.build(tmp_path / "staging")
    cfg = write_config(tmp_path, settle_s=0.2, settle_max_s=1.0)
    before = {}
    for h in staged:  # renamed in whole, like a finished copy
        dest = tmp_path / "in" / h.path.name
        h.path.rename(dest)
        before[dest.name] = sha256(dest)
    start = time.monotonic()
    d = Daemon(tmp_path, "--once", config=cfg)
    code = d.wait(200)
    seconds = time.monotonic() - start
    log = d.log()
    assert code == 0, log[-4000:]
    assert seconds < HANG_BOUND_S, f"the corpus took {seconds:.0f} s: something hung"
    assert "Traceback" not in log, log[-4000:]
    jobs = {Path(r["path"]).name: r for r in rows(tmp_path)}
    assert set(jobs) == set(before), "every dropped file has exactly one journal row"
    out = tmp_path / "in.fixed"
    wrong = []
    for h in staged:
        job = jobs[h.path.name]
        stem = Path(h.path.name).stem
        if h.outcome == hostile.PROCESSED:
            ok = job["state"] == "done" and job["outcome"] in PROCESSED_OUTCOMES
            ok = ok and (out / f"{stem}.report.json").exists()
        else:
            ok = job["state"] == "quarantined" and job["reason"] == h.reason
            note = out / "_failed" / f"{stem}.report.json"
            ok = ok and note.exists() and json.loads(note.read_text())["failure"] == h.reason
            ok = ok and job["attempts"] == 0  # refused at the gate: never attempted
        if not ok:
            wrong.append((h.name, h.about, job["state"], job["outcome"], job["reason"], job["error"]))
    assert not wrong, wrong
    # the sources are untouched and nothing half-written is left
    assert {p.name: sha256(p) for p in (tmp_path / "in").iterdir()} == before
    assert temp_leftovers(out) == []
    print(f"\nhostile corpus: {len(staged)} inputs through the daemon in {seconds:.1f} s")

"""One JSON Schema for every report: the shipped file is valid, and every kind of report validates."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import pytest

from flickerd.report import json_report
from flickerd.routes import registry
from flickerd.routes.base import Step
from flickerd.rules import Action, Match, Rule
from flickerd.service.hashing import sha256_file
from flickerd.service.journal import Journal, JobState
from flickerd.service.worker import Task, failure_note, run_task
from flickerd.verify import Acceptance
from tests.report.schema import problems, validator
from tests.verify import clips
from tests.verify.routes import FailingRoute, FrameRoute

N = 12
OFFSETS = clips.flicker_offsets(N, 12.0, seed=3)


@pytest.fixture(scope="module", autouse=True)
def routes():
    registry.register("test-good", FrameRoute("test-good", lambda fr: [f - o for f, o in zip(fr, OFFSETS)]))
    registry.register("test-blur", FrameRoute("test-blur", clips.temporal_blur))
    registry.register("test-fail", FailingRoute())
    yield
    for name in ("test-good", "test-blur", "test-fail"):
        registry.unregister(name)


def test_the_shipped_schema_is_valid_and_knows_every_status():
    v = validator()  # check_schema raises on an invalid schema
    assert set(v.schema["properties"]["status"]["enum"]) == set(json_report.STATUSES)
    assert v.schema["properties"]["schema"]["const"] == json_report.SCHEMA_VERSION


def test_the_old_shapes_are_refused():
    old_duplicate = {"file": "/in/a.mp4", "job": 3, "sha256": "0" * 64, "duplicate_of": {"job": 1}, "note": "…"}
    assert problems(old_duplicate)
    old_failure = {"file": "/in/a.mp4", "job": 3, "state": "quarantined", "reason": "not_a_video", "error": "…"}
    assert problems(old_failure)
    report = json_report.note(status="failed", source="/in/a.mp4", reason="It broke.", failure="internal")
    assert problems(report) == []
    assert problems({**report, "schema": 1})
    assert problems({**report, "output": "/in.fixed/a.mp4"})  # a failed job published no video
    assert problems({**report, "key": {"sha256": "abc", "rules_hash": None, "route_versions": None}})


RULES = {
    "report_only": (Rule("report", Match(), Action.REPORT),),
    "needs_attention": (Rule("person", Match(), Action.ATTENTION),),
    "done": (Rule("fix", Match(), Action.FIX, steps=(Step("test-good"),)),),
    "rejected": (Rule("fix", Match(), Action.FIX, steps=(Step("test-blur"),)),),
    "failed": (Rule("fix", Match(), Action.FIX, steps=(Step("test-fail"),)),),
    "review": (Rule("regen", Match(), Action.REVIEW, steps=(Step("test-good"),)),),
}


def _task(root: Path, rules, **kw) -> Task:
    src = root / "in" / "shot.mp4"
    src.parent.mkdir(parents=True)
    clips.write(str(src), [f + o for f, o in zip(clips.moving_frames(N, speed=2.0), OFFSETS)])
    journal = Journal.in_state_dir(root / "state")
    st = src.stat()
    job = journal.add(path=str(src), folder="in", sha256=sha256_file(src), size=st.st_size, mtime=st.st_mtime,
                      rules_hash="fix:feedc0de")
    job = journal.transition(job.id, JobState.RUNNING, attempts=1)
    journal.close()
    return Task(job=job, src_root=root / "in", out_root=root / "out", mode="fix", auto_accept=False, rules=rules,
                diagnose_settings=None, acceptance=Acceptance(), workdir=root / "state" / "work" / "1",
                cancel=threading.Event(), **kw)


def test_every_kind_of_published_report_validates(tmp_path):
    from flickerd.process import process_file

    def processor(src, workdir, **kw):
        kw.pop("sidecar", None)
        return process_file(src, workdir, compare=False, **kw)

    seen = {}
    for status, rules in RULES.items():
        task = _task(tmp_path / status, rules)
        res = run_task(task, processor, lambda p: None)
        assert res.report_path, (status, res)
        doc = json.loads(Path(res.report_path).read_text())
        assert doc["status"] == status, (status, doc["reason"])
        seen[status] = doc
    first = _task(tmp_path / "quarantined", ())
    seen["quarantined"] = json.loads(failure_note(first, "not_a_video", "shot.mp4: no video stream.",
                                                  JobState.QUARANTINED).read_text())
    journal = Journal.in_state_dir(tmp_path / "done" / "state")
    original = journal.get(1)
    original = journal.transition(1, JobState.DONE, output_path=str(tmp_path / "done" / "out" / "shot.mp4"),
                                  report_path=str(tmp_path / "done" / "out" / "shot.report.json"))
    journal.close()
    dup = dataclasses.replace(_task(tmp_path / "duplicate", ()), original=original)
    seen["duplicate"] = json.loads(Path(run_task(dup, processor, lambda p: None).report_path).read_text())

    assert set(seen) == set(json_report.STATUSES)
    for status, doc in seen.items():
        assert problems(doc) == [], status
        assert doc["key"]["sha256"] and doc["key"]["rules_hash"] == "fix:feedc0de", status
        assert doc["job"]["id"] == 1 and doc["job"]["attempts"] == 1, status
    assert seen["done"]["output"] == str(tmp_path / "done" / "out" / "shot.mp4")
    assert seen["review"]["output"] == str(tmp_path / "review" / "out" / "_review" / "shot.mp4")
    assert seen["done"]["key"]["route_versions"] == "test-good=test-1"
    assert seen["failed"]["failure"] == "route_failed" and seen["quarantined"]["failure"] == "not_a_video"
    for status in ("report_only", "needs_attention", "rejected", "failed", "quarantined"):
        assert seen[status]["output"] is None, status

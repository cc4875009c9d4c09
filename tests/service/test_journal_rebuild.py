"""Rebuilding journal rows from report files: one row per job, the newest report wins, only usable reports."""

from __future__ import annotations

import json
import os
from pathlib import Path

from flickerd.report import json_report
from flickerd.report.placement import Key, Placement, place
from flickerd.service.journal import Journal, JobState
from flickerd.service.journal_rebuild import UNKNOWN_STAT, collect, rebuild

SHA = "ab" * 32


def report(path: Path, *, source: str, status: str = "done", job: int | None = 1, sha: str | None = SHA,
           created: str = "2026-01-01T00:00:00+00:00", duplicate_of: int | None = None) -> Path:
    doc = json_report.note(status=status, source=source, reason="" if status == "done" else "why",
                           failure=None if status in ("done", "duplicate") else "not_a_video",
                           duplicate_of={"job": duplicate_of, "file": "/in/orig.mp4", "output": None, "report": None,
                                         "state": "done", "outcome": "done"} if duplicate_of else None)
    doc = place(doc, Placement(None, Key(sha, "fix:1", None), job, 1))
    doc["created"] = created
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def test_one_row_per_job_the_newest_report_wins(tmp_path):
    out = tmp_path / "out"
    report(out / "_failed" / "a.report.json", source="/in/a.mp4", status="quarantined", job=4,
           created="2026-01-01T00:00:00+00:00")
    report(out / "a.report.json", source="/in/a.mp4", job=4, created="2026-01-02T00:00:00+00:00")  # retried, done
    report(out / "b.report.json", source="/in/b.mp4", status="duplicate", job=7, duplicate_of=4)
    report(out / "c.report.json", source="/in/c.mp4", status="duplicate", job=8, duplicate_of=99)  # original gone
    rows, tally = collect([("in", out)])
    by_id = {r["id"]: r for r in rows}
    assert sorted(by_id) == [4, 7, 8]
    assert by_id[4]["state"] == "done" and by_id[4]["report_path"] == str(out / "a.report.json")
    assert by_id[7]["duplicate_of"] == 4 and by_id[8]["duplicate_of"] is None
    assert by_id[4]["size"] == UNKNOWN_STAT and by_id[4]["folder"] == "in" and by_id[4]["sha256"] == SHA
    assert tally.jobs == 3 and tally.reports == 4 and tally.states == {"done": 3}


def test_reports_that_cannot_stand_for_their_source_are_named_not_used(tmp_path):
    out = tmp_path / "out"
    old = report(out / "old.report.json", source="/in/old.mp4", sha=None)  # before the key carried the hash
    junk = out / "junk.report.json"
    junk.write_text("{not json")
    report(tmp_path / "elsewhere" / "x.report.json", source="/in/x.mp4", job=3)
    os.symlink(tmp_path / "elsewhere" / "x.report.json", out / "x.report.json")  # leads out: not read
    report(out / ".flickerd-work" / "9" / "w.report.json", source="/in/w.mp4", job=9)  # a workdir's
    rows, tally = collect([("in", out), ("gone", tmp_path / "unmounted")])
    assert rows == []
    assert tally.without_hash == (str(old),)
    assert sorted(tally.unreadable) == sorted([str(out / "junk.report.json"), str(out / "x.report.json")])
    assert tally.missing == (str(tmp_path / "unmounted"),)
    junk.unlink()  # the suite checks every report a test leaves against the schema


def test_rebuilt_rows_keep_their_ids_and_new_jobs_follow(tmp_path):
    out = tmp_path / "out"
    report(out / "a.report.json", source="/in/a.mp4", job=12)
    report(out / "f.report.json", source="/in/f.mp4", job=None)  # ``flickerd fix`` wrote it
    journal = Journal.in_state_dir(tmp_path / "state")
    try:
        assert rebuild(journal, [("in", out)]).jobs == 2
        assert journal.get(12).path == "/in/a.mp4"
        assert journal.latest_for_path("/in/f.mp4").id == 13
        assert journal.add(path="/in/new.mp4", folder="in", sha256=None, size=1, mtime=1.0).id == 14
        assert journal.find_original(SHA, "fix:1", exclude_path="/in/copy.mp4").id == 12
    finally:
        journal.close()


def test_a_source_unchanged_since_its_report_keeps_its_stat_so_scans_skip_it(tmp_path):
    import time

    from flickerd.service.journal_rebuild import unchanged_stat

    src = tmp_path / "in" / "a.mp4"
    src.parent.mkdir()
    src.write_bytes(b"x" * 100)
    doc = {"source": {"path": str(src), "probe": {"size_bytes": 100}},
           "created": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 5))}
    st = src.stat()
    assert unchanged_stat(doc) == (100, st.st_mtime)
    doc["source"]["probe"]["size_bytes"] = 99  # not the file that was probed
    assert unchanged_stat(doc) is None
    doc["source"]["probe"]["size_bytes"] = 100
    os.utime(src, (st.st_atime + 3600, st.st_mtime + 3600))  # modified after the report was written
    assert unchanged_stat(doc) is None
    doc["source"]["probe"] = None  # a note: nothing was probed
    assert unchanged_stat(doc) is None


def test_merging_into_a_journal_leaves_its_rows_and_moves_taken_ids(tmp_path):
    out = tmp_path / "out"
    report(out / "a.report.json", source="/in/a.mp4", job=7)  # the journal has this one already
    report(out / "b.report.json", source="/in/b.mp4", job=2, sha="cd" * 32)  # its id is taken
    report(out / "c.report.json", source="/in/c.mp4", status="duplicate", job=8, sha="cd" * 32, duplicate_of=2)
    report(out / "d.report.json", source="/in/d.mp4", status="duplicate", job=9, duplicate_of=7)
    journal = Journal.in_state_dir(tmp_path / "state")
    try:
        had = journal.add(path="/in/a.mp4", folder="in", sha256=SHA, size=1, mtime=1.0)
        journal.add(path="/in/x.mp4", folder="in", sha256="ef" * 32, size=1, mtime=1.0)  # id 2
        assert rebuild(journal, [("in", out)]).jobs == 3
        b = journal.latest_for_path("/in/b.mp4")
        assert b.id not in (had.id, 2) and journal.get(2).path == "/in/x.mp4"
        assert journal.latest_for_path("/in/c.mp4").duplicate_of == b.id
        assert journal.latest_for_path("/in/d.mp4").duplicate_of == had.id
        assert len(journal.by_state(JobState.DONE, JobState.PENDING)) == 5
    finally:
        journal.close()


def test_a_fallback_jobs_row_keeps_the_route_its_rules_chose(tmp_path):
    """The live journal keeps the rules' route when a fallback ran (README, Upgrading session 18):
    a row rebuilt from the report must too (review 18 #4), not the chain that ran."""
    from flickerd.service.journal_rebuild import row

    path = report(tmp_path / "out" / "a.report.json", source="/in/a.mp4", job=5)
    doc = json.loads(path.read_text())
    doc["decision"] = {**(doc.get("decision") or {}), "route": "detail", "fallback": "normalize"}
    doc["chain"] = {**(doc.get("chain") or {}), "route": "normalize"}
    assert row(doc, "in", path)["route"] == "detail"

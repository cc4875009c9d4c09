import os
import sqlite3
import threading

import pytest

from flickerd.errors import JournalError
from flickerd.service.hashing import content_hash, sha256_file
from flickerd.service.journal import Journal, JobState


@pytest.fixture
def journal(tmp_path):
    j = Journal.in_state_dir(tmp_path)
    yield j
    j.close()


def add(journal, path="/in/a.mp4", **kw):
    return journal.add(path=path, folder="in", sha256=kw.pop("sha256", "ab" * 32), size=10, mtime=1.5, **kw)


def test_wal_and_full_sync(journal):
    con = sqlite3.connect(journal.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # synchronous is per connection: check ours
    assert journal._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    con.close()


def test_transitions_are_checked_and_recorded(journal):
    job = add(journal)
    assert job.state is JobState.PENDING and job.attempts == 0
    job = journal.transition(job.id, JobState.RUNNING, expect=[JobState.PENDING], attempts=1)
    assert job.state is JobState.RUNNING and job.started_at is not None
    with pytest.raises(JournalError, match="not pending"):
        journal.transition(job.id, JobState.RUNNING, expect=[JobState.PENDING])
    job = journal.transition(job.id, JobState.DONE, outcome="done", output_path="/out/a.mp4")
    assert job.finished_at is not None and job.output_path == "/out/a.mp4"
    with pytest.raises(JournalError, match="cannot go from done to running"):
        journal.transition(job.id, JobState.RUNNING)
    with pytest.raises(JournalError, match="does not exist"):
        journal.transition(999, JobState.RUNNING)


def test_requeue_running_on_start(tmp_path):
    j = Journal.in_state_dir(tmp_path)
    a, b = add(j, "/in/a.mp4"), add(j, "/in/b.mp4")
    j.transition(a.id, JobState.RUNNING, attempts=1)
    j.close()
    j2 = Journal.in_state_dir(tmp_path)  # as after a crash
    requeued = j2.requeue_running()
    assert [r.id for r in requeued] == [a.id]
    assert j2.get(a.id).state is JobState.PENDING and j2.get(a.id).attempts == 1
    assert j2.counts()["pending"] == 2 and j2.get(b.id).state is JobState.PENDING
    j2.close()


def test_queue_order_by_priority_then_age(journal):
    low = add(journal, "/in/low.mp4", priority=0)
    high = add(journal, "/in/high.mp4", priority=5)
    low2 = add(journal, "/in/low2.mp4", priority=0)
    assert [j.id for j in journal.next_pending(10)] == [high.id, low.id, low2.id]
    assert [j.id for j in journal.next_pending(10, exclude=[high.id])] == [low.id, low2.id]


def test_find_original_matches_content_and_key(journal):
    first = add(journal, "/in/a.mp4", sha256="11" * 32, rules_hash="r1")
    assert journal.find_original("11" * 32, "r1", exclude_path="/in/b.mp4").id == first.id
    assert journal.find_original("11" * 32, "r2", exclude_path="/in/b.mp4") is None  # rules changed
    assert journal.find_original("11" * 32, "r1", exclude_path="/in/a.mp4") is None  # itself


@pytest.mark.parametrize("state", [JobState.REVIEW, JobState.REJECTED, JobState.QUARANTINED, JobState.FAILED,
                                   JobState.CANCELLED])
def test_only_a_job_that_ended_done_or_still_may_is_an_original(journal, state):
    first = add(journal, "/in/a.mp4", sha256="11" * 32, rules_hash="r1")
    journal.transition(first.id, JobState.RUNNING)
    assert journal.find_original("11" * 32, "r1", exclude_path="/in/b.mp4").id == first.id  # may end done
    journal.transition(first.id, state)
    assert journal.find_original("11" * 32, "r1", exclude_path="/in/b.mp4") is None


def test_pending_outside_names_the_jobs_of_folders_the_config_dropped(journal):
    a = add(journal, "/in/a.mp4")
    b = journal.add(path="/old/b.mp4", folder="old", sha256=None, size=1, mtime=1.0)
    done = journal.add(path="/old/c.mp4", folder="old", sha256=None, size=1, mtime=1.0, state=JobState.DONE)
    assert [j.id for j in journal.pending_outside(["in"])] == [b.id]
    assert [j.id for j in journal.pending_outside([])] == [a.id, b.id]
    assert done.id not in [j.id for j in journal.pending_outside(["in"])]


def test_hash_cache_keyed_by_stat(journal, tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"hello" * 1000)
    digest, st = content_hash(f, journal)
    assert digest == sha256_file(f)
    assert journal.cached_hash(os.stat(f)) == digest
    f.write_bytes(b"changed")  # new size/mtime → cache miss, new hash
    assert journal.cached_hash(os.stat(f)) is None
    assert content_hash(f, journal)[0] == sha256_file(f) != digest


def test_concurrent_writers_from_threads(journal):
    def worker(n):
        for i in range(25):
            add(journal, f"/in/{n}-{i}.mp4")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert journal.counts()["pending"] == 100


def test_readonly_journal_needs_existing_file(tmp_path):
    with pytest.raises(JournalError, match="no journal here"):
        Journal.in_state_dir(tmp_path / "nothing", readonly=True)


def test_a_reader_never_sees_a_journal_without_its_tables(tmp_path, monkeypatch):
    """``flickerd status`` (or a test) opening the journal while the daemon is still creating it.

    At every statement the daemon runs to create its journal, a reader tries the journal path:
    either there is no journal yet or it reads as empty, never "no such table".
    """
    from flickerd.service import journal as journal_module

    path = journal_module.journal_path(tmp_path)
    seen = []

    def reader_meanwhile(statement: str) -> None:  # SQLite ignores what a trace callback raises: record it
        if not path.exists():
            seen.append("absent")
            return
        try:
            ro = Journal(path, readonly=True)
            try:
                seen.append(len(ro.recent(5)))
            finally:
                ro.close()
        except JournalError as exc:
            seen.append(str(exc))

    real_connect = sqlite3.connect

    def traced_connect(*args, **kwargs):  # the writer's connections only, not the reader's
        db = real_connect(*args, **kwargs)
        if "mode=ro" not in str(args[0]):
            db.set_trace_callback(reader_meanwhile)
        return db

    monkeypatch.setattr(journal_module.sqlite3, "connect", traced_connect)
    writer = Journal.in_state_dir(tmp_path)
    monkeypatch.undo()
    try:
        assert "absent" in seen and set(seen) <= {"absent", 0}  # the creation was watched, and never failed
        writer.add(path="/in/a.mp4", folder="in", sha256=None, size=1, mtime=0.0)
        ro = Journal.in_state_dir(tmp_path, readonly=True)
        try:
            assert [j.path for j in ro.recent(5)] == ["/in/a.mp4"]
        finally:
            ro.close()
    finally:
        writer.close()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(path.name)) == []  # no temp file left


def test_two_processes_creating_one_journal_share_it(tmp_path):
    """The second to link its new journal keeps the first one's (and its rows)."""
    from flickerd.service import journal as journal_module

    first = Journal.in_state_dir(tmp_path)
    try:
        first.add(path="/in/a.mp4", folder="in", sha256=None, size=1, mtime=0.0)
        journal_module._create(journal_module.journal_path(tmp_path))  # lost the race: must not replace it
        assert [j.path for j in first.recent(5)] == ["/in/a.mp4"]
    finally:
        first.close()


def test_a_state_dir_without_hard_links_still_gets_a_journal(tmp_path, monkeypatch):
    from flickerd.service import journal as journal_module

    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(journal_module.os, "link", no_links)
    j = Journal.in_state_dir(tmp_path)
    try:
        j.add(path="/in/a.mp4", folder="in", sha256=None, size=1, mtime=0.0)
        assert [x.path for x in j.recent(5)] == ["/in/a.mp4"]
    finally:
        j.close()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("journal.sqlite3")) == []

from types import SimpleNamespace

from flickerd.commands.status import eta_s, snapshot
from flickerd.service.journal import Journal, JobState


def test_eta_from_progress_or_recent_mean():
    job = SimpleNamespace(started_at=100.0, progress=0.5)
    assert eta_s(job, 110.0, None) == 10.0
    fresh = SimpleNamespace(started_at=100.0, progress=0.0)
    assert eta_s(fresh, 104.0, 30.0) == 26.0
    assert eta_s(fresh, 104.0, None) is None
    assert eta_s(SimpleNamespace(started_at=None, progress=0.0), 1.0, 5.0) is None


def test_snapshot_reads_a_live_journal_read_only(tmp_path):
    j = Journal.in_state_dir(tmp_path)
    a = j.add(path="/in/a.mp4", folder="in", sha256="a", size=1, mtime=1.0)
    j.add(path="/in/b.mp4", folder="in", sha256="b", size=1, mtime=1.0)
    j.transition(a.id, JobState.RUNNING, attempts=1)
    j.update(a.id, progress=0.25)
    ro = Journal.in_state_dir(tmp_path, readonly=True)
    snap = snapshot(ro)
    assert snap["counts"]["running"] == 1 and snap["counts"]["pending"] == 1
    assert snap["running"][0]["progress"] == 0.25 and snap["running"][0]["eta_s"] is not None
    assert [p["path"] for p in snap["pending"]] == ["/in/b.mp4"]
    ro.close()
    j.close()


def test_done_says_how_many_were_fixed_reported_or_need_a_person(tmp_path, capsys):
    # qa17: "done 21" held 15 clean report-only jobs and 1 needing attention; 5 were fixes
    import argparse

    from flickerd.commands.status import main

    j = Journal.in_state_dir(tmp_path)
    for i, outcome in enumerate(["done", "report_only", "report_only", "needs_attention"]):
        job = j.add(path=f"/in/{i}.mp4", folder="in", sha256=str(i), size=1, mtime=1.0)
        j.transition(job.id, JobState.RUNNING, attempts=1)
        j.transition(job.id, JobState.DONE, outcome=outcome)
    j.close()
    ro = Journal.in_state_dir(tmp_path, readonly=True)
    assert snapshot(ro)["done_outcomes"] == {"report_only": 2, "done": 1, "needs_attention": 1}
    ro.close()
    assert main(argparse.Namespace(json=False, recent=0, state_dir=str(tmp_path), config=None)) == 0
    assert "done 4 (report only 2, fixed 1, needs attention 1)" in capsys.readouterr().out


def test_recent_jobs_are_not_the_queue_again(tmp_path):
    # qa19: with 24 queued, "recent" (20 rows) listed 15 queued jobs and only 4 finished ones
    j = Journal.in_state_dir(tmp_path)
    done = j.add(path="/in/done.mp4", folder="in", sha256="d", size=1, mtime=1.0)
    j.transition(done.id, JobState.RUNNING, attempts=1)
    j.transition(done.id, JobState.DONE, outcome="done")
    for i in range(3):
        j.add(path=f"/in/q{i}.mp4", folder="in", sha256=str(i), size=1, mtime=1.0)
    j.close()
    ro = Journal.in_state_dir(tmp_path, readonly=True)
    snap = snapshot(ro, recent=2)
    assert [r["path"] for r in snap["recent"]] == ["/in/done.mp4"]
    assert len(snap["pending"]) == 3
    ro.close()

"""``service.outcome``: what a finished job's result becomes in the journal (pure)."""

from __future__ import annotations

from flickerd.service.journal import JobState
from flickerd.service.outcome import journal_changes, next_state, timed_out
from flickerd.service.worker import Result

FAILED = Result(1, JobState.FAILED, "failed", reason="route_error", error="x", retryable=True)


def test_a_retryable_failure_is_queued_again_until_its_last_attempt():
    assert next_state(FAILED, 1, 3, disk_full=False) == (JobState.PENDING, "failed", 1)
    assert next_state(FAILED, 3, 3, disk_full=False) == (JobState.QUARANTINED, "quarantined", 3)
    # a full disk is not the file's fault: the attempt is given back
    assert next_state(FAILED, 3, 3, disk_full=True) == (JobState.PENDING, "failed", 2)
    assert next_state(FAILED, 0, 3, disk_full=True) == (JobState.PENDING, "failed", 0)
    done = Result(1, JobState.DONE, "done", route="normalize", output_path="/o/a.mp4")
    assert next_state(done, 1, 3, disk_full=False) == (JobState.DONE, "done", 1)


def test_a_timed_out_job_is_quarantined_with_its_limit():
    res = timed_out(Result(1, JobState.CANCELLED, "cancelled"), "/in/a.mp4", 600.0)
    assert (res.state, res.outcome, res.reason) == (JobState.QUARANTINED, "quarantined", "timeout")
    assert res.error == "/in/a.mp4: processing took longer than 600 s (limits.job_timeout_s); it was stopped."
    assert next_state(res, 1, 3, disk_full=False) == (JobState.QUARANTINED, "quarantined", 1)


def test_journal_columns_are_set_only_where_the_result_has_them():
    assert journal_changes(FAILED, JobState.PENDING, "failed", 1) == dict(
        outcome="failed", route="none", reason="route_error", error="x", progress=0.0, attempts=1)
    done = Result(1, JobState.DONE, "done", route="normalize", output_path="/o/a.mp4", report_path="/o/a.json",
                  route_versions="normalize=3")
    changes = journal_changes(done, JobState.DONE, "done", 1)
    assert changes["progress"] == 1.0
    assert (changes["output_path"], changes["report_path"], changes["route_versions"]) == \
        ("/o/a.mp4", "/o/a.json", "normalize=3")

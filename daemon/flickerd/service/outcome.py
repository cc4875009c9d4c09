"""What a finished job's ``Result`` becomes in the journal (pure): its state, its outcome word, the
attempts it has spent and the columns it sets. The daemon commits that, then counts and logs it."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from flickerd.service.journal import JobState

if TYPE_CHECKING:
    from flickerd.service.worker import Result


def timed_out(res: Result, path: str, limit_s: float) -> Result:
    """A job stopped for running past ``limits.job_timeout_s``: quarantined, not retried (the same
    file would take as long again)."""
    return dataclasses.replace(
        res, state=JobState.QUARANTINED, outcome="quarantined", reason="timeout",
        error=f"{path}: processing took longer than {limit_s:g} s (limits.job_timeout_s); it was stopped.")


def next_state(res: Result, attempts: int, max_attempts: int, *, disk_full: bool) -> tuple[JobState, str, int]:
    """(state, outcome, attempts) of a job that has spent ``attempts``. ``disk_full``: a retryable full
    disk, which is not the file's fault: back in the queue without spending an attempt. Another
    retryable failure is tried again up to ``max_attempts``, then quarantined."""
    if disk_full:
        return JobState.PENDING, "failed", max(attempts - 1, 0)
    if res.retryable:
        state = JobState.PENDING if attempts < max_attempts else JobState.QUARANTINED
        return state, "failed" if state is JobState.PENDING else "quarantined", attempts
    return res.state, res.outcome, attempts


def journal_changes(res: Result, state: JobState, outcome: str, attempts: int) -> dict[str, Any]:
    """The journal columns the transition to ``state`` sets: a path or versions only where the result has them."""
    changes: dict[str, Any] = dict(outcome=outcome, route=res.route, reason=res.reason, error=res.error,
                                   progress=1.0 if state is not JobState.PENDING else 0.0, attempts=attempts)
    if res.output_path:
        changes["output_path"] = res.output_path
    if res.report_path:
        changes["report_path"] = res.report_path
    if res.route_versions:
        changes["route_versions"] = res.route_versions
    return changes

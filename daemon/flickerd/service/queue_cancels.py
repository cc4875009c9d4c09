"""Counting jobs cancelled while they waited in the queue.

``flickerd cancel`` on a pending job (and the daemon dropping the jobs of a folder the config no
longer has) changes the journal without a worker ever seeing the job, so nothing would count it in
``jobs_total{outcome="cancelled"}``. The daemon sweeps the journal for cancellations once a second
instead; the jobs it cancelled itself (running ones) are counted where they end and skipped here.
"""

from __future__ import annotations

from typing import Any, Protocol

# A sweep looks this far back before its watermark: two cancellations committed within the same
# clock tick, or one committed while the previous sweep ran, are still seen (once: ``_seen``).
OVERLAP_S = 5.0


class _Journal(Protocol):
    def cancelled_since(self, after: float) -> list[tuple[int, float, str | None]]: ...


class QueueCancels:
    def __init__(self, journal: _Journal, metrics: Any, since: float) -> None:
        self.journal = journal
        self.metrics = metrics
        self.mark = since  # wall clock, as the journal's finished_at
        self._seen: set[tuple[int, float]] = set()  # (job id, finished_at) already counted or owned

    def own(self, job_id: int, finished_at: float | None) -> None:
        """A cancellation the daemon counted itself (a running job that ended cancelled)."""
        if finished_at is not None:
            self._seen.add((job_id, finished_at))

    def sweep(self) -> int:
        """Count the cancellations committed since the last sweep; returns how many were new."""
        new = 0
        for job_id, at, reason in self.journal.cancelled_since(self.mark - OVERLAP_S):
            self.mark = max(self.mark, at)
            if (job_id, at) in self._seen:
                continue
            self._seen.add((job_id, at))
            self.metrics.queued_job_cancelled(reason)
            new += 1
        self._seen = {(i, at) for i, at in self._seen if at >= self.mark - OVERLAP_S}
        return new

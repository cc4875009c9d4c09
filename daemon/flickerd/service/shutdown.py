"""Stopping with jobs running: which to wait for, which to cancel back to the queue.

After the first stop signal (intake has stopped) a running job is waited for only while its ETA
(``flickerd.eta``: its stages' measured speed) fits in what is left of ``shutdown_timeout_s``;
any other is cancelled at once, as is every job after a second signal. A job cancelled this way
goes back to pending without spending an attempt, and its workdir (the intermediates) is removed.
A cancelled job stops at its next progress report; one that has not stopped ``CANCEL_WAIT_S``
later is requeued anyway (its thread ends with the process). While waiting the daemon says every
``WAITING_LOG_S`` what runs and its ETA. Pure: the daemon passes the clock and acts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flickerd.eta import remaining_s

CANCEL_WAIT_S = 10.0
WAITING_LOG_S = 5.0
TEARDOWN_S = 5.0  # after the jobs: webhooks get a few seconds, the rest is quick


def stop_budget_s(shutdown_timeout_s: float) -> float:
    """The longest a stop can take: what systemd's ``TimeoutStopSec=`` must allow before its SIGKILL."""
    return shutdown_timeout_s + CANCEL_WAIT_S + TEARDOWN_S


@dataclass(frozen=True, slots=True)
class RunningJob:
    job_id: int
    path: str
    elapsed_s: float
    fraction: float  # the share of its estimated time that has passed (``eta.Eta.fraction``)
    cancelled: bool = False  # already asked to stop

    @property
    def eta_s(self) -> float | None:
        return remaining_s(self.elapsed_s, self.fraction)

    def describe(self) -> dict:
        eta = self.eta_s
        return {"job_id": self.job_id, "file": self.path, "progress": round(self.fraction, 3),
                "eta_s": None if eta is None else round(eta, 1), "cancelled": self.cancelled}


def to_cancel(jobs: Iterable[RunningJob], left_s: float, *, force: bool) -> list[RunningJob]:
    """The jobs to cancel now: all with ``force``, else those whose ETA is unknown (no progress yet:
    little is lost) or longer than the ``left_s`` seconds of the shutdown timeout still to go."""
    out = []
    for job in jobs:
        if job.cancelled:
            continue
        eta = job.eta_s
        if force or eta is None or eta > left_s:
            out.append(job)
    return out


@dataclass(frozen=True, slots=True)
class Step:
    """What the daemon does on one turn of its wind-down."""

    cancel: list[RunningJob]  # ask these to stop now (back to pending when they return)
    say: dict | None  # the ``shutdown_waiting`` line's fields, every WAITING_LOG_S
    give_up: bool  # a cancelled job did not stop within CANCEL_WAIT_S: requeue the rest and stop


@dataclass(slots=True)
class WindDown:
    """The wind-down's clock: the deadline, and when it last said what it waits for."""

    deadline: float
    said: float = float("-inf")
    asked: dict[int, float] = field(default_factory=dict)  # job id -> when it was asked to stop

    def step(self, jobs: Sequence[RunningJob], now: float, *, force: bool) -> Step:
        left = self.deadline - now
        cancel = to_cancel(jobs, left, force=force)
        for job in cancel:
            self.asked.setdefault(job.job_id, now)
        running = {job.job_id for job in jobs}
        give_up = any(now - t >= CANCEL_WAIT_S for i, t in self.asked.items() if i in running)
        say = None
        if now - self.said >= WAITING_LOG_S:
            self.said = now
            say = {"jobs": [job.describe() for job in jobs], "left_s": round(max(left, 0.0), 1)}
        return Step(cancel, say, give_up)

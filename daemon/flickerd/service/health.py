"""Is the daemon healthy? The answer behind the systemd watchdog ping and ``flickerd_healthy``.

Healthy means every part that does work can still do it: the folder watchers run, the journal
answers, the state dir is still the one this daemon locked (``state_dir``), every stage's item
in hand made progress within ``stall_s``, and every job asked to stop (timeout, cancel) stopped
within ``stall_s``. A job's own running time is not judged here (some routes report progress
only at the end); ``limits.job_timeout_s`` asks it to stop, and a job thread that then does not
is stuck. An unhealthy daemon stops pinging the watchdog, so systemd restarts it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flickerd.service.stage import Stage


def stall_problem(stages: Mapping[str, float], cancelled: Mapping[int, float], *, stall_s: float) -> str | None:
    """A sentence naming the first stage whose item in hand, or the first job asked to stop, went
    ``stall_s`` without progress; None when there is none. Seconds in, pure."""
    for name, seconds in stages.items():
        if seconds >= stall_s:
            return (f"the {name} stage made no progress for {seconds:.0f} s (stall_s = {stall_s:g}); "
                    "a read is hanging (a share that stopped answering?)")
    for job_id, seconds in sorted(cancelled.items()):
        if seconds >= stall_s:
            return (f"job {job_id} was asked to stop (timeout or cancel) {seconds:.0f} s ago and has not "
                    f"(stall_s = {stall_s:g}); its thread is stuck")
    return None


def problem(*, watchers_alive: bool, journal_answers: bool, stages: Iterable[Stage],
            cancelled_s: Mapping[int, float], stall_s: float, now: float) -> str | None:
    """The first reason the daemon is unhealthy, or None. ``cancelled_s``: seconds since each
    running job was asked to stop."""
    if not watchers_alive:
        return "a folder watcher thread has stopped"
    stages = tuple(stages)
    for stage in stages:
        if not stage.alive():
            return f"the {stage.name} stage thread has stopped"
    if not journal_answers:
        return "the journal does not answer"
    return stall_problem({s.name: s.stalled_s(now) for s in stages}, cancelled_s, stall_s=stall_s)

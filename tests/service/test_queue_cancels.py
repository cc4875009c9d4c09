"""Jobs cancelled while they waited in the queue are counted once, in ``jobs_total`` and ``jobs_cancelled_total``,
and a launched job that goes back to the queue leaves ``jobs_in_progress``."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from flickerd.metrics import Metrics
from flickerd.service.journal import Journal, JobState
from flickerd.service.queue_cancels import QueueCancels
from tests.service.helpers import Daemon, make_clip, metric, scrape, wait_for, write_config

pytestmark = pytest.mark.timeout(90)


def _metrics() -> tuple[Metrics, CollectorRegistry]:
    registry = CollectorRegistry()
    return Metrics(registry, folders=["in"], routes=["normalize"]), registry


def _cancelled(registry: CollectorRegistry, reason: str = "cancelled") -> tuple[float, float]:
    return (registry.get_sample_value("flickerd_jobs_total", {"route": "none", "outcome": "cancelled"}) or 0,
            registry.get_sample_value("flickerd_jobs_cancelled_total", {"reason": reason}) or 0)


def _job(journal: Journal, name: str):
    return journal.add(path=f"/in/{name}", folder="in", sha256=None, size=1, mtime=0.0)


def test_each_queue_cancellation_is_counted_once_and_the_daemons_own_are_skipped(tmp_path):
    journal = Journal.in_state_dir(tmp_path)
    m, registry = _metrics()
    cancels = QueueCancels(journal, m, since=0.0)
    a, b, c = _job(journal, "a.mp4"), _job(journal, "b.mp4"), _job(journal, "c.mp4")
    assert cancels.sweep() == 0 and _cancelled(registry) == (0, 0)

    journal.transition(a.id, JobState.CANCELLED, expect=[JobState.PENDING], outcome="cancelled", reason="cancelled")
    journal.transition(b.id, JobState.CANCELLED, expect=[JobState.PENDING], outcome="cancelled",
                       reason="folder_removed")
    assert cancels.sweep() == 2
    assert _cancelled(registry) == (2, 1) and _cancelled(registry, "folder_removed")[1] == 1
    assert cancels.sweep() == 0 and _cancelled(registry) == (2, 1)  # seen once, however often it sweeps

    journal.transition(c.id, JobState.RUNNING, expect=[JobState.PENDING])
    ran = journal.transition(c.id, JobState.CANCELLED, expect=[JobState.RUNNING], outcome="cancelled",
                             reason="cancelled")
    cancels.own(c.id, ran.finished_at)  # the daemon counted this one where the job ended
    assert cancels.sweep() == 0 and _cancelled(registry) == (2, 1)

    journal.transition(a.id, JobState.PENDING, expect=[JobState.CANCELLED])  # `flickerd retry`
    journal.transition(a.id, JobState.CANCELLED, expect=[JobState.PENDING], outcome="cancelled", reason="cancelled")
    assert cancels.sweep() == 1 and _cancelled(registry) == (3, 2)  # cancelled again: a second cancellation


def test_a_requeued_job_leaves_jobs_in_progress():
    m, registry = _metrics()
    m.job_launched()
    m.job_launched()
    m.job_requeued()
    assert registry.get_sample_value("flickerd_jobs_in_progress") == 1


def test_a_job_cancelled_in_the_queue_shows_in_jobs_total_of_the_running_daemon(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.1, settle_max_s=0.3)
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        journal = Journal.in_state_dir(tmp_path / "state")
        # what `flickerd cancel` leaves of a job the daemon had not taken yet (added cancelled at once, so
        # the daemon cannot start it in between)
        journal.add(path=str(tmp_path / "in" / "never-ran.mp4"), folder="in", sha256=None, size=1, mtime=0.0,
                    state=JobState.CANCELLED, outcome="cancelled", reason="cancelled")
        make_clip(tmp_path / "in" / "ok.mp4")
        wait_for(lambda: metric(scrape(d), "flickerd_jobs_total", route="none", outcome="cancelled") == 1, 30,
                 what="the queue cancellation counted")
        wait_for(lambda: metric(scrape(d), "flickerd_jobs_in_progress") == 0
                 and (metric(scrape(d), "flickerd_queue_depth", state="done") or 0)
                 + (metric(scrape(d), "flickerd_queue_depth", state="rejected") or 0) == 1, 60, what="ok.mp4 ended")
        text = scrape(d)
    finally:
        assert d.stop() == 0, d.log()
    assert metric(text, "flickerd_jobs_total", route="none", outcome="cancelled") == 1
    assert metric(text, "flickerd_jobs_cancelled_total", reason="cancelled") == 1

"""The health check behind the systemd watchdog: a worker thread with no progress for ``stall_s`` makes the
daemon unhealthy, so its watchdog pings stop and systemd restarts it."""

from __future__ import annotations

import threading
import time

import pytest
from structlog.testing import capture_logs

from flickerd import config
from flickerd.errors import ConfigError
from flickerd.service.daemon import Daemon
from flickerd.service.health import stall_problem
from flickerd.service.stage import Stage
from tests.service.helpers import make_clip, wait_for, write_config

pytestmark = pytest.mark.timeout(60)


class Pings:
    """Stands in for systemd's notify socket: counts watchdog pings."""

    watchdog_interval_s = 0.1

    def __init__(self) -> None:
        self.watchdogs = 0

    def watchdog(self) -> bool:
        self.watchdogs += 1
        return True

    def __getattr__(self, name):
        return lambda *a, **k: True


def test_stall_s_is_a_daemon_key_with_a_default(tmp_path):
    assert config.loads("", base_dir=tmp_path).stall_s == 120.0
    assert config.loads("[daemon]\nstall_s = 30", base_dir=tmp_path).stall_s == 30.0
    for bad in ("0", "-1", '"soon"'):
        with pytest.raises(ConfigError, match=r"daemon\.stall_s"):
            config.loads(f"[daemon]\nstall_s = {bad}", base_dir=tmp_path)


def test_stall_problem_names_the_stage_or_job_that_made_no_progress():
    assert stall_problem({"intake": 0.0}, {}, stall_s=10) is None
    assert stall_problem({"intake": 9.9}, {7: 9.9}, stall_s=10) is None
    assert "intake" in stall_problem({"intake": 10.5}, {}, stall_s=10)
    said = stall_problem({"intake": 1.0}, {7: 12.0}, stall_s=10)
    assert "job 7" in said and "cancel" in said


def test_a_stage_is_stalled_while_one_item_makes_no_progress():
    clock = [100.0]
    got: list = []
    go, beat_now, done = threading.Event(), threading.Event(), threading.Event()

    def work(item, beat):
        go.wait(10)
        beat()
        beat_now.set()
        done.wait(10)
        return item * 2

    stage = Stage("intake", work, got.append, clock=lambda: clock[0])
    stage.start()
    try:
        assert stage.stalled_s(clock[0]) == 0.0  # idle is not stalled
        stage.submit(21)
        wait_for(lambda: stage.busy, 5, what="the item taken")
        clock[0] += 50
        assert stage.stalled_s(clock[0]) == 50.0
        go.set()
        beat_now.wait(5)
        assert stage.stalled_s(clock[0]) == 0.0  # a beat is progress
        clock[0] += 7
        assert stage.stalled_s(clock[0]) == 7.0
        done.set()
        wait_for(lambda: got == [42], 5, what="the result")
        assert stage.stalled_s(clock[0] + 1000) == 0.0 and stage.alive()
    finally:
        go.set()
        done.set()
        stage.stop()


def test_a_job_that_ignores_its_cancel_makes_the_daemon_unhealthy(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.1, daemon_extra="stall_s = 1.0\nshutdown_timeout_s = 0\n"
                                                          "[limits]\njob_timeout_s = 0.5",
                       name="stall.toml")
    cfg.write_text(cfg.read_text().replace("shutdown_timeout_s = 10\n", ""))
    release = threading.Event()

    def stuck(src, workdir, **kw):  # a read that never returns: it never looks at its cancel
        release.wait(30)
        raise RuntimeError("released")

    daemon = Daemon(config.load(cfg), processor=stuck, install_signals=False)
    pings = Pings()
    daemon.notifier = pings
    loop = threading.Thread(target=daemon.run, daemon=True)
    with capture_logs() as logs:
        loop.start()
        try:
            make_clip(tmp_path / "in" / "a.mp4")
            wait_for(lambda: any(e["event"] == "daemon_unhealthy" for e in logs), 20, what="unhealthy")
            events = [e["event"] for e in logs]
            assert events.index("job_timed_out") < events.index("daemon_unhealthy")  # asked to stop first
            assert not daemon.healthy()
            said = next(e for e in logs if e["event"] == "daemon_unhealthy")
            assert "job 1" in said["why"], said
            seen = pings.watchdogs
            time.sleep(0.5)
            assert pings.watchdogs == seen, "an unhealthy daemon must not ping the watchdog"
            release.set()  # the job comes back: healthy again, pings resume
            wait_for(lambda: any(e["event"] == "daemon_healthy" for e in logs), 10, what="healthy again")
            wait_for(lambda: pings.watchdogs > seen, 5, what="pings again")
        finally:
            release.set()
            daemon.signals.stop.set()
            loop.join(20)
    assert not loop.is_alive()

"""End to end: a real Prometheus scrapes a running ``flickerd run`` that fixes one clip, rejects
one and quarantines a corrupt one; systemd notify messages and JSON log lines come from the same run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.service.helpers import REJECT_FFMPEG, daemon_table, make_clip

from .prom import PrometheusServer, finite, free_port
from .promql import ALERTS, concrete, dashboard_targets

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

# Panels that need hardware this machine lacks; test_prometheus.py covers them with a mocked GPU.
NEEDS_GPU = {"GPU memory"}

CONFIG = daemon_table("127.0.0.1:{port}", "max_attempts = 1") + REJECT_FFMPEG + """
[[folders]]
name = "fix"
path = "fix"
settle_s = 0.3
settle_max_s = 2.0
[[folders.rules]]
name = "smooth"
action = "fix"
steps = [{{ route = "rife", params = {{ mode = "smooth" }} }}]

[[folders]]
name = "strict"
path = "strict"
settle_s = 0.3
settle_max_s = 2.0
[[folders.rules]]
name = "deband"
action = "fix"
steps = [{{ route = "ffmpeg", params = {{ deflicker = true, deband = true }} }}]
"""


class NotifyListener:
    """Reads the notify socket as systemd does (at once, on its own thread)."""

    def __init__(self, path: Path) -> None:
        self.messages: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify-listener")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages.append(self._sock.recv(4096).decode())
            except TimeoutError:
                continue

    def close(self) -> list[str]:
        self._stop.set()
        self._thread.join()
        self._sock.close()
        return self.messages


def test_prometheus_scrapes_a_running_daemon(tmp_path):
    port = free_port()
    (tmp_path / "cfg.toml").write_text(CONFIG.format(port=port))
    # Clips are made aside and renamed in only once Prometheus scrapes the daemon: counters that
    # change before the first scrape would leave every rate() panel empty.
    staging = tmp_path / "staging"
    fixed = make_clip(staging / "fix" / "flicker.mp4", flicker=20, seed=0, frames=12)
    make_clip(staging / "strict" / "flicker.mp4", flicker=20, seed=3, frames=12)
    data = fixed.read_bytes()
    (staging / "fix" / "broken.mp4").write_bytes(data[: len(data) // 3])
    for folder in ("fix", "strict"):
        (tmp_path / folder).mkdir(exist_ok=True)

    notify = NotifyListener(tmp_path / "notify.sock")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
           "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "2000000"}
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log:
        daemon = subprocess.Popen([sys.executable, "-m", "flickerd", "run", "-c", "cfg.toml"], cwd=tmp_path,
                                  stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    prom = PrometheusServer(tmp_path, [f"127.0.0.1:{port}"], rule_files=[ALERTS])
    try:
        prom.start()
        try:
            prom.wait_for('up{job="flickerd"}', lambda v: v == [1.0], timeout_s=60)
            for clip in sorted(staging.rglob("*.mp4")):
                os.replace(clip, tmp_path / clip.relative_to(staging))
            prom.wait_for("sum(flickerd_jobs_total)", lambda v: v == [2.0], timeout_s=150)
            prom.wait_for("sum(flickerd_queue_depth{state=\"quarantined\"})", lambda v: v == [1.0], timeout_s=30)
            time.sleep(2.5)  # a few more scrapes, so rate() over the window sees the change
        except AssertionError:
            raise AssertionError(f"daemon log:\n{log_path.read_text()[-4000:]}") from None

        assert prom.value('up{job="flickerd"}') == 1
        assert prom.value('flickerd_jobs_total{route="rife", outcome="done"}') == 1
        assert prom.value('flickerd_jobs_total{route="ffmpeg", outcome="rejected"}') == 1
        assert prom.value('sum(flickerd_failures_total{reason=~"not_a_video|corrupt_input"})') == 1
        assert prom.value('sum(flickerd_verdicts_total)') == 2
        assert prom.value('sum(flickerd_flicker_score_count{stage="after"})') == 2
        assert prom.value("flickerd_jobs_in_progress") == 0
        assert prom.value('flickerd_last_success_timestamp_seconds{route="rife"}') > time.time() - 600

        empty = []
        for title, expr in dashboard_targets():
            if title not in NEEDS_GPU and not finite(list(prom.values(concrete(expr)).values())):
                empty.append(f"{title}: {expr}")
        assert not empty, "panels without data:\n" + "\n".join(empty)
    finally:
        prom.stop()
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=60)
        messages = notify.close()
    assert code == 0, log_path.read_text()[-4000:]

    kinds = [m.split("\n")[0].split("=")[0] for m in messages]
    assert kinds[0] == "READY" and kinds[-1] == "STOPPING", messages
    assert "STATUS" in kinds and "WATCHDOG" in kinds  # pinged every 1 s (half of WATCHDOG_USEC)

    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    finished = [l for l in lines if l["event"] == "job_finished"]
    assert {(l["route"], l["outcome"]) for l in finished} == {("rife", "done"), ("ffmpeg", "rejected")}
    for l in finished:
        assert l["job_id"] and l["file"].endswith("flicker.mp4") and l["folder"] in ("fix", "strict")
        assert l["level"] == "info" and 0 < l["flicker_reduction"] <= 1

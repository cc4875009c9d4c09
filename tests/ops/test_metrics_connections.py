"""Idle connections to /metrics cannot use up the daemon's descriptors or stall its intake (a real
``flickerd run`` under a 1,024-descriptor limit, 1,013 idle loopback connections)."""

from __future__ import annotations

import os
import re
import resource
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from tests.reliability.helpers import Daemon, make_clip, rows, wait_for, write_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

NOFILE = 1024
IDLE = 1013


def limit_nofile() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def address(d: Daemon) -> tuple[str, int]:
    host, port = re.search(r'"address": "([^"]+)", "event": "metrics_served"', d.log()).group(1).rsplit(":", 1)
    return host, int(port)


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid: int) -> int:
    return int(re.search(r"^Threads:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M).group(1))


@pytest.fixture
def enough_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = IDLE + 200
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"this test opens {IDLE} sockets; the hard descriptor limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_idle_connections_neither_exhaust_descriptors_nor_stall_intake(tmp_path, enough_descriptors):
    cfg = write_config(tmp_path, settle_s=0.2)
    d = Daemon(tmp_path, config=cfg, preexec_fn=limit_nofile)
    idle: list[socket.socket] = []
    try:
        d.wait_log("daemon_started")
        where = address(d)
        for _ in range(IDLE):  # connected (or connecting), never a byte sent
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(where)
            idle.append(s)
            time.sleep(0.001)  # a client, not a SYN flood: the daemon accepts them as they come
        time.sleep(2.0)
        held = descriptors(d.proc.pid)
        assert held < 200 and threads(d.proc.pid) < 60, (held, threads(d.proc.pid))
        clip = make_clip(tmp_path / "stage" / "a.mp4").rename(tmp_path / "in" / "a.mp4")
        wait_for(lambda: rows(tmp_path, f"path = '{clip}' AND state = 'done'"), 20, what="the clip done")
        assert d.proc.poll() is None
        assert "Too many open files" not in d.log(), d.log()[-3000:]
        for s in idle:
            s.close()
        idle.clear()

        def scraped() -> bool:
            try:
                with urllib.request.urlopen(f"http://{where[0]}:{where[1]}/metrics", timeout=5) as resp:
                    return b"flickerd_files_seen_total" in resp.read()
            except OSError:
                return False

        wait_for(scraped, 15, interval=0.5, what="a scrape once the idle clients went away")
    finally:
        for s in idle:
            s.close()
        assert d.stop() == 0, d.log()[-3000:]


def test_the_server_answers_on_a_few_threads_refuses_beyond_its_limit_and_drops_silent_clients():
    from prometheus_client import CollectorRegistry

    from flickerd.metrics import Metrics, ServerLimits, parse_address, serve

    server = serve(Metrics(CollectorRegistry(), folders=["in"], routes=[]), "127.0.0.1:0",
                   ServerLimits(workers=1, max_connections=2, read_timeout_s=0.5))
    try:
        where = parse_address(server.address)
        silent = [socket.create_connection(where, timeout=5) for _ in range(2)]
        extra = socket.create_connection(where, timeout=5)
        assert extra.recv(1) == b"", "a connection beyond the limit was kept open"
        started = time.monotonic()
        assert silent[0].recv(1) == b"" and silent[1].recv(1) == b""  # dropped after read_timeout_s each
        assert time.monotonic() - started < 3.0
        with urllib.request.urlopen(f"http://{server.address}/metrics", timeout=5) as resp:
            assert b"flickerd_files_seen_total" in resp.read()
        for s in (*silent, extra):
            s.close()
    finally:
        server.shutdown()

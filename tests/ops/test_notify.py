"""The systemd notify protocol against real AF_UNIX datagram sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from flickerd.service.notify import SEND_TIMEOUT_S, Notifier


@pytest.fixture
def listener(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, str(path)
    sock.close()


def receive(sock: socket.socket, n: int) -> list[dict[str, str]]:
    out = []
    for _ in range(n):
        data = sock.recv(4096).decode()
        out.append(dict(line.split("=", 1) for line in data.split("\n")))
    return out


def test_messages_arrive_in_order_one_datagram_each(listener):
    sock, path = listener
    n = Notifier(path)
    assert n.enabled
    assert n.ready()
    assert n.status("watching 2 folders\n3 pending")
    assert n.watchdog()
    assert n.reloading()
    assert n.ready(status="config reloaded")
    assert n.stopping()
    msgs = receive(sock, 6)
    assert msgs[0] == {"READY": "1", "MAINPID": str(os.getpid())}
    assert msgs[1] == {"STATUS": "watching 2 folders 3 pending"}
    assert msgs[2] == {"WATCHDOG": "1"}
    assert msgs[3]["RELOADING"] == "1" and int(msgs[3]["MONOTONIC_USEC"]) > 0
    assert msgs[4]["READY"] == "1" and msgs[4]["STATUS"] == "config reloaded"
    assert msgs[5] == {"STOPPING": "1"}
    n.close()


def test_abstract_socket_names_work():
    name = f"flickerd-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        n = Notifier("@" + name)
        assert n.ready() and n.watchdog() and n.stopping()
        assert [list(m) for m in receive(sock, 3)] == [["READY", "MAINPID"], ["WATCHDOG"], ["STOPPING"]]
    finally:
        sock.close()


def test_from_env_reads_the_socket_and_halves_the_watchdog_interval(tmp_path):
    n = Notifier.from_env({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())})
    assert n.socket_name == "/run/x" and n.watchdog_interval_s == 15.0
    other = Notifier.from_env({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"})
    assert other.watchdog_interval_s is None  # the watchdog belongs to another process


def test_outside_systemd_every_call_is_a_no_op():
    n = Notifier.from_env({})
    assert not n.enabled and n.watchdog_interval_s is None
    assert not n.ready() and not n.status("x") and not n.watchdog() and not n.stopping()


def test_a_vanished_socket_is_logged_not_raised(tmp_path):
    n = Notifier(str(tmp_path / "gone.sock"))
    assert n.ready() is False


def test_a_child_process_notifies_from_its_environment(listener):
    sock, path = listener
    code = "from flickerd.service.notify import SEND_TIMEOUT_S, Notifier; import sys; sys.exit(0 if Notifier.from_env().ready() else 1)"
    env = {**os.environ, "NOTIFY_SOCKET": path}
    proc = subprocess.run([sys.executable, "-c", code], env=env, timeout=60)
    assert proc.returncode == 0
    (msg,) = receive(sock, 1)
    assert msg["READY"] == "1" and msg["MAINPID"] != str(os.getpid())


def test_a_receiver_that_stops_reading_does_not_hang_the_daemon(listener):
    sock, path = listener  # never read: its queue fills after a few datagrams
    n = Notifier(path)
    start = time.monotonic()
    sent = [n.watchdog() for _ in range(20)]
    assert sent[0] and not all(sent)
    assert time.monotonic() - start < 20 * SEND_TIMEOUT_S + 2
    assert len(receive(sock, 1)) == 1  # reading again frees the queue
    assert n.watchdog()

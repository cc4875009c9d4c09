"""The ``/metrics`` endpoint: a small HTTP server with bounded threads, connections and waits.

prometheus_client's ``start_http_server`` starts a thread per connection and waits on each for
as long as the client likes: 1,013 idle loopback connections used up a 1,024-descriptor limit
and stalled the daemon's intake. Here ``workers`` threads answer, at most ``max_connections``
are open at once (one more is closed as soon as it is accepted, so it costs a descriptor for a
moment), and a client that sends nothing for ``read_timeout_s`` is dropped. Prometheus scrapes
one connection at a time; a few spare slots cover a person with curl.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import structlog
from prometheus_client import make_wsgi_app

from flickerd.errors import ConfigError

log = structlog.get_logger("flickerd.metrics")

DEFAULT_ADDRESS = "127.0.0.1:9478"
WORKERS = 2
MAX_CONNECTIONS = 16
READ_TIMEOUT_S = 5.0
REFUSED_LOG_S = 60.0  # refused connections are logged at most this often, with their count


@dataclass(frozen=True, slots=True)
class ServerLimits:
    workers: int = WORKERS  # threads answering requests
    max_connections: int = MAX_CONNECTIONS  # open at once, answered or waiting for a thread
    read_timeout_s: float = READ_TIMEOUT_S  # a client silent this long is dropped


class _Handler(WSGIRequestHandler):
    def setup(self) -> None:
        self.timeout = self.server.limits.read_timeout_s  # type: ignore[attr-defined]
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base class's name)
        pass  # one line per scrape would drown the daemon's log


class _BoundedServer(WSGIServer):
    """A ``WSGIServer`` whose requests run on a fixed pool, refusing connections beyond its limit."""

    request_queue_size = 64  # the kernel's backlog: connections wait there, not in our descriptors

    def __init__(self, address: tuple[str, int], limits: ServerLimits) -> None:
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.max_connections)
        self._pool = ThreadPoolExecutor(limits.workers, thread_name_prefix="flickerd-metrics")
        self._refused = 0
        self._refused_logged = 0.0
        self._open: set[socket.socket] = set()  # connections being answered (woken at close)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            self._note_refused()
            return
        self._pool.submit(self._answer, request, client_address)

    def _answer(self, request: Any, client_address: Any) -> None:
        self._open.add(request)
        try:
            self.finish_request(request, client_address)
        except Exception:  # a client that went silent (timeout) or away: nothing to tell anyone
            pass
        finally:
            self._open.discard(request)
            self.shutdown_request(request)
            self._slots.release()

    def _note_refused(self) -> None:
        self._refused += 1
        now = time.monotonic()
        if now - self._refused_logged >= REFUSED_LOG_S:
            log.warning("metrics_connections_refused", count=self._refused, max_connections=self.limits.max_connections)
            self._refused, self._refused_logged = 0, now

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for request in list(self._open):  # a read waiting on a silent client returns now, not at its timeout
            try:
                request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class MetricsServer:
    """The ``/metrics`` HTTP endpoint, its accept loop on a daemon thread."""

    def __init__(self, httpd: WSGIServer, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread
        host, port = httpd.server_address[:2]
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def shutdown(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def parse_address(address: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` (all interfaces) → (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError(
            f"metrics_address {address!r} is not host:port; "
            f"use e.g. {DEFAULT_ADDRESS!r}, or ':9478' for all interfaces."
        )
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def serve(metrics: Any, address: str = DEFAULT_ADDRESS, limits: ServerLimits = ServerLimits()) -> MetricsServer:
    """Serve ``metrics.registry`` at ``http://address/metrics``; port 0 picks a free port (see ``.address``)."""
    host, port = parse_address(address)
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]

        class _Server(_BoundedServer):
            address_family = family

        httpd = _Server((sockaddr[0], port), limits)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve metrics on {address}: {exc.strerror or exc}; "
            "stop the other process using it or set metrics_address to a free host:port."
        ) from exc
    httpd.set_app(make_wsgi_app(metrics.registry))
    thread = threading.Thread(target=httpd.serve_forever, name="flickerd-metrics", daemon=True)
    thread.start()
    server = MetricsServer(httpd, thread)
    log.info("metrics_served", address=server.address)
    return server

"""systemd's notify protocol (``Type=notify``), without a dependency.

Each message is one datagram of ``KEY=VALUE`` lines sent to the ``AF_UNIX`` socket named by
``$NOTIFY_SOCKET``; a leading ``@`` names an abstract socket (a NUL byte in the address).
``WATCHDOG=1`` must arrive at least every ``$WATCHDOG_USEC`` microseconds; we ping at half that.
Outside systemd (no ``$NOTIFY_SOCKET``) every call is a no-op, so the daemon never checks.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Mapping

import structlog

log = structlog.get_logger("flickerd.service.notify")

SEND_TIMEOUT_S = 0.1  # systemd reads at once; a full queue means nobody listens


def _address(name: str) -> str | bytes:
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


class Notifier:
    """Sends state changes to the service manager. Thread-safe; failures are logged, never raised."""

    def __init__(self, socket_name: str | None, watchdog_usec: int | None = None) -> None:
        self.socket_name = socket_name or None
        self.watchdog_interval_s: float | None = watchdog_usec / 2e6 if watchdog_usec else None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._failing = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """From ``$NOTIFY_SOCKET`` and ``$WATCHDOG_USEC`` (ignored if ``$WATCHDOG_PID`` names another process)."""
        env = os.environ if environ is None else environ
        usec: int | None = None
        pid = env.get("WATCHDOG_PID")
        if env.get("WATCHDOG_USEC", "").isdigit() and (not pid or pid == str(os.getpid())):
            usec = int(env["WATCHDOG_USEC"])
        return cls(env.get("NOTIFY_SOCKET"), usec)

    @property
    def enabled(self) -> bool:
        return self.socket_name is not None

    def notify(self, *lines: str) -> bool:
        """Send ``lines`` as one datagram; True if sent (False when disabled or on error)."""
        if self.socket_name is None:
            return False
        data = "\n".join(lines).encode()
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                    # A receiver that stops reading fills its queue (10 datagrams by default);
                    # the daemon's loop must not hang on it.
                    self._sock.settimeout(SEND_TIMEOUT_S)
                self._sock.sendto(data, _address(self.socket_name))
            except OSError as exc:
                # Losing contact with systemd must not stop the work; the watchdog will notice.
                # Warn once per streak of failures, not on every ping.
                level = log.debug if self._failing else log.warning
                level("notify_failed", socket=self.socket_name, message=lines[0], error=str(exc) or type(exc).__name__)
                self._failing = True
                return False
            self._failing = False
            return True

    def ready(self, status: str | None = None) -> bool:
        """Start-up (or a reload) is complete; send again after ``reloading()``."""
        extra = [f"STATUS={' '.join(status.splitlines())}"] if status else []
        return self.notify("READY=1", *extra, f"MAINPID={os.getpid()}")

    def status(self, text: str) -> bool:
        # One line: systemd shows STATUS= up to the first newline anyway.
        return self.notify(f"STATUS={' '.join(text.splitlines())}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def reloading(self) -> bool:
        # MONOTONIC_USEC lets systemd ≥ 253 match the reload; older versions ignore it.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

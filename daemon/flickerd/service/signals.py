"""Signal handling: handlers only set flags; the daemon loop acts on them.

First SIGTERM/SIGINT → a graceful stop (finish or requeue running jobs); the handlers are then
re-pointed so a second one exits at once. SIGHUP → reload the configuration.
"""

from __future__ import annotations

import os
import signal
import threading

FORCED_EXIT_CODE = 1


class Signals:
    def __init__(self) -> None:
        self.stop = threading.Event()
        self.reload = threading.Event()

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGHUP, self._request_reload)

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stop.set()
        signal.signal(signal.SIGTERM, self._force_stop)
        signal.signal(signal.SIGINT, self._force_stop)

    def _force_stop(self, signum: int, frame: object) -> None:
        # running rows stay "running" in the journal; the next start requeues them
        os.write(2, b"flickerd: second stop signal, exiting now\n")
        os._exit(FORCED_EXIT_CODE)

    def _request_reload(self, signum: int, frame: object) -> None:
        self.reload.set()

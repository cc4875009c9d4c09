"""Signal handling: handlers only set flags; the daemon loop acts on them.

First SIGTERM/SIGINT → ``stop``: intake stops, running jobs finish if they will within
``shutdown_timeout_s``, the others go back to the queue. The handlers are then re-pointed:
a second one → ``force``: every running job is cancelled back to the queue at once. A third
exits on the spot (the next start requeues what was running). SIGHUP → reload the configuration.
"""

from __future__ import annotations

import os
import signal
import threading

FORCED_EXIT_CODE = 1


class Signals:
    def __init__(self) -> None:
        self.stop = threading.Event()
        self.force = threading.Event()
        self.reload = threading.Event()

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGHUP, self._request_reload)

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stop.set()
        signal.signal(signal.SIGTERM, self._request_force)
        signal.signal(signal.SIGINT, self._request_force)

    def _request_force(self, signum: int, frame: object) -> None:
        self.stop.set()
        self.force.set()
        signal.signal(signal.SIGTERM, self._exit_now)
        signal.signal(signal.SIGINT, self._exit_now)

    def _exit_now(self, signum: int, frame: object) -> None:
        # running rows stay "running" in the journal; the next start requeues them
        os.write(2, b"flickerd: third stop signal, exiting now\n")
        os._exit(FORCED_EXIT_CODE)

    def _request_reload(self, signum: int, frame: object) -> None:
        self.reload.set()

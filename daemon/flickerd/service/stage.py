"""A stage: one worker thread with its own queue, that says whether it is making progress.

The daemon's loop never reads a file someone placed; a stage does it (the intake stage: the settle
gate and the content hash) and hands each result to ``sink`` (the loop's event queue). A read can
still hang (a share that stopped answering), so the stage keeps a heartbeat: taking an item is
progress, and so is each ``beat()`` the work calls (a hash calls it per chunk). ``stalled_s`` is
how long the item in hand has gone without either; the health check compares it with ``stall_s``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger("flickerd.service")

Work = Callable[[Any, Callable[[], None]], Any]
"""``work(item, beat) -> result``; it should catch its own errors (``StageFailed`` is the fallback)."""


@dataclass(frozen=True, slots=True)
class StageFailed:
    """What ``sink`` gets when ``work`` raised: the item, and the error (a bug, logged with its traceback)."""

    item: Any
    error: BaseException


class Stage:
    def __init__(self, name: str, work: Work, sink: Callable[[Any], None], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._work = work
        self._sink = sink
        self._clock = clock
        self._items: queue.Queue = queue.Queue()
        self._last_progress: float | None = None  # None: idle
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, item: Any) -> None:
        self._items.put(item)

    def stop(self) -> None:
        """Finish the item in hand (if it ever does), then end; does not wait."""
        self._items.put(None)

    def beat(self) -> None:
        """Progress on the item in hand (called from the work, on the stage's thread)."""
        self._last_progress = self._clock()

    @property
    def busy(self) -> bool:
        return self._last_progress is not None

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stalled_s(self, now: float) -> float:
        """Seconds the item in hand has made no progress; 0 when idle."""
        last = self._last_progress
        return 0.0 if last is None else max(0.0, now - last)

    def _run(self) -> None:
        while (item := self._items.get()) is not None:
            self.beat()
            try:
                result = self._work(item, self.beat)
            except Exception as exc:  # a bug in the work must not end intake silently
                log.exception("stage_failed", stage=self.name)
                result = StageFailed(item, exc)
            finally:
                self._last_progress = None
            self._sink(result)

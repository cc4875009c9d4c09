"""Run an iterator on its own thread, a bounded number of items ahead of its consumer.

Decoding (PyAV), optical flow and most OpenCV/numpy work release the GIL, so a stage that
splits into "what depends on the source only" and "what needs the output too" keeps both
cores busy by producing the first on a worker thread. At most ``depth`` items wait in the
queue (memory stays bounded); an error in the producer is raised in the consumer where the
item would have come; closing (or leaving the ``with`` block) stops and joins the thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_END = object()
_POLL_S = 0.1  # how often a producer blocked on a full queue checks whether it was stopped


class Ahead(Generic[T]):
    """``for item in Ahead(iterable, depth)``; use it as a context manager so the thread is joined."""

    def __init__(self, iterable: Iterable[T], depth: int = 2, name: str = "flickerd-ahead") -> None:
        self._items: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._source = iterable
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        it = iter(self._source)
        try:
            for item in it:
                if not self._put((item, None)):
                    return
            self._put((_END, None))
        except BaseException as exc:  # handed to the consumer, raised there
            self._put((_END, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        while True:
            item, exc = self._items.get()
            if item is _END:
                self._thread.join()
                if exc is not None:
                    raise exc
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:  # make room so a blocked producer sees the stop flag
                self._items.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(_POLL_S)

    def __enter__(self) -> Ahead[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

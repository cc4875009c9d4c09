"""Where a stage's optical flows come from: computed ahead on a worker thread, or on the spot.

A stage asks for a flow with ``request(key, src_gray, dst_gray, preset)`` as soon as both
frames are known and takes it with ``get(key)`` when it needs it; ``forget`` drops what no
later frame needs, so at most a stage's window of flows is held. ``AheadFlows`` computes on
its own thread: OpenCV's DIS releases the GIL, so the flows of the newest frames run on the
second core while the stage works on older ones. Results are the same as ``flow.flow``'s.
A guide video's flow (a flow computed on other frames) plugs in here as another source.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

import numpy as np

from flickerd.flow import flow

FlowFn = Callable[[np.ndarray, np.ndarray, str], np.ndarray]


class FlowSource(Protocol):
    def request(self, key: Hashable, src_gray: np.ndarray, dst_gray: np.ndarray, preset: str) -> None: ...

    def get(self, key: Hashable) -> np.ndarray: ...

    def forget(self, keep: Callable[[Hashable], bool]) -> None: ...

    def close(self) -> None: ...


class DirectFlows:
    """Flows computed when first taken, on the caller's thread (``request`` only notes the frames)."""

    def __init__(self, fn: FlowFn = flow) -> None:
        self.fn = fn
        self.wanted: dict[Hashable, tuple[np.ndarray, np.ndarray, str]] = {}
        self.done: dict[Hashable, np.ndarray] = {}

    def request(self, key: Hashable, src_gray: np.ndarray, dst_gray: np.ndarray, preset: str) -> None:
        if key not in self.done:
            self.wanted[key] = (src_gray, dst_gray, preset)

    def get(self, key: Hashable) -> np.ndarray:
        if key not in self.done:
            self.done[key] = self.fn(*self.wanted.pop(key))
        return self.done[key]

    def forget(self, keep: Callable[[Hashable], bool]) -> None:
        for table in (self.wanted, self.done):
            for key in [k for k in table if not keep(k)]:
                del table[key]

    def close(self) -> None:
        self.wanted.clear()
        self.done.clear()

    def __enter__(self) -> DirectFlows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AheadFlows:
    """Flows computed in request order on one worker thread; ``get`` waits for its own.

    Use it as a context manager (or call ``close``): the thread is joined and flows not yet
    started are cancelled, also when the stage fails part-way.
    """

    def __init__(self, fn: FlowFn = flow) -> None:
        self.fn = fn
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="flickerd-flow")
        self.futures: dict[Hashable, Future] = {}

    def request(self, key: Hashable, src_gray: np.ndarray, dst_gray: np.ndarray, preset: str) -> None:
        if key not in self.futures:
            self.futures[key] = self.pool.submit(self.fn, src_gray, dst_gray, preset)

    def get(self, key: Hashable) -> np.ndarray:
        return self.futures[key].result()

    def forget(self, keep: Callable[[Hashable], bool]) -> None:
        for key in [k for k in self.futures if not keep(k)]:
            self.futures.pop(key).cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.futures.clear()

    def __enter__(self) -> AheadFlows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

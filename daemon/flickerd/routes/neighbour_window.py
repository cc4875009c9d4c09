"""The sliding window the flow-aligned cores share (``detail``, ``guided``).

Frame t is rebuilt from its neighbours t − radius … t + radius, each warped onto it by an
optical flow between the two frames' analysis images. This class holds that window: it keeps
the frames analysed, asks the flow source for the flows both ways between every new frame and
the older ones in reach, emits a frame once its later neighbours are in (plus ``AHEAD`` frames,
so an ``AheadFlows`` source can work on the newest frame meanwhile), and forgets what no frame
still to come can use. A subclass says what a frame is (``_analyse``) and how one is rebuilt
(``_emit``); the output does not depend on the flow source.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from flickerd.flow_source import DirectFlows, FlowSource

Emitted = tuple[int, Any, list[np.ndarray]]  # (frame index, what the writer needs back, new planes)


class _HasGray(Protocol):
    gray: np.ndarray  # analysis-scale uint8 image the flows are computed on


F = TypeVar("F", bound=_HasGray)


class NeighbourWindow(Generic[F]):
    """``feed(index, data, analysis)`` yields ``(index, data, new planes)`` when ready; ``finish()`` the rest.

    At most ``2 × radius + 1 + AHEAD`` frames are held.
    """

    AHEAD = 0  # frames fed beyond what the oldest pending frame needs

    def __init__(self, radius: int, flow_preset: str, flows: FlowSource | None = None,
                 reach: int | None = None) -> None:
        self.radius = radius
        self.reach = radius if reach is None else min(reach, radius)  # pairs further apart get no flow asked
        self.flow_preset = flow_preset
        self.flows: FlowSource = flows if flows is not None else DirectFlows()
        self.frames: dict[int, F] = {}
        self.pending: deque[int] = deque()
        self.weight_sum = 0.0
        self.weight_count = 0

    def _analyse(self, data: Any, analysis: Any) -> F:
        raise NotImplementedError

    def _emit(self, t: int) -> Emitted:
        raise NotImplementedError

    def feed(self, i: int, data: Any, analysis: Any) -> Iterator[Emitted]:
        here = self.frames[i] = self._analyse(data, analysis)
        for s in range(i - self.reach, i):  # every pair within reach this frame is part of, both ways
            if s in self.frames:
                self.flows.request((i, s), here.gray, self.frames[s].gray, self.flow_preset)
                self.flows.request((s, i), self.frames[s].gray, here.gray, self.flow_preset)
        self.pending.append(i)
        while self.pending and i - self.pending[0] >= self.radius + self.AHEAD:
            yield self._emit(self.pending.popleft())

    def finish(self) -> Iterator[Emitted]:
        while self.pending:
            yield self._emit(self.pending.popleft())

    def neighbours(self, t: int) -> list[int]:
        """The frames within ``radius`` of t that are held, in order, t left out."""
        return [s for s in range(t - self.radius, t + self.radius + 1) if s != t and s in self.frames]

    def _flow(self, a: int, b: int) -> np.ndarray:
        return self.flows.get((a, b))

    def _count_weight(self, weight: np.ndarray) -> None:
        """Add one neighbour's weight map (0–1) to ``mean_weight``."""
        self.weight_sum += float(weight.mean())
        self.weight_count += 1

    def _forget(self, oldest: int) -> None:
        """Drop frames and flows that can no longer be a neighbour of a frame still to come."""
        for i in [i for i in self.frames if i < oldest]:
            del self.frames[i]
        self.flows.forget(lambda key: min(key) >= oldest)

    @property
    def mean_weight(self) -> float:
        """Mean share of a neighbour's pixels that counted (0–1)."""
        return self.weight_sum / self.weight_count if self.weight_count else 0.0

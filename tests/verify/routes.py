"""Test routes: a function over a tiny clip's frames, written through the real encoder."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from flickerd.errors import RouteError
from flickerd.media.probe import probe
from flickerd.media.reader import iter_frames
from flickerd.media.writer import EncodeSettings, VideoWriter
from flickerd.routes.base import StepResult

FAST = EncodeSettings(crf=8, preset="veryfast")


class FrameRoute:
    """``fn(frames) -> frames`` on float32 RGB (tiny test clips only: it holds them all)."""

    version = "test-1"

    def __init__(self, name: str, fn: Callable[[list[np.ndarray]], list[np.ndarray]]) -> None:
        self.name = name
        self.fn = fn

    def fix(self, src: str, out: str, params: Mapping[str, Any], progress: Callable[[float], None]) -> StepResult:
        start = time.monotonic()
        frames = [f.image.astype(np.float32) for f in iter_frames(src)]
        with VideoWriter(out, probe(src), settings=FAST) as w:
            for f in self.fn(frames):
                w.write(np.clip(np.rint(f), 0, 255).astype(np.uint8))
        progress(1.0)
        return StepResult(self.name, self.version, "numpy test route", dict(params),
                          seconds=time.monotonic() - start, output=out)


class FailingRoute:
    name = "test-fail"
    version = "test-1"

    def fix(self, src, out, params, progress) -> StepResult:
        with open(out, "wb") as fh:
            fh.write(b"half an output")  # a partial file the pipeline must clean up
        raise RouteError("the test route failed on purpose.")

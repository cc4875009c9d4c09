"""The streaming skeleton of a per-frame route: decode → core (a bounded window) → encode.

``normalize``, ``detail`` and ``guided`` differ only in what they compute per frame; the loop around it
is this one. A source is read as planar YUV (8–12-bit, even size: corrected on its own planes,
no colour conversion) when it can be, else as RGB through ``iter_frames``.

Such a route describes its per-frame work as a ``FrameStage`` (``route.stage(info, params)``),
so a chain of them runs as one pass (``run_stages``): decode once, each stage's frames handed
to the next through its bounded window, encode once — no lossless intermediate file between
them. Planar sources only: a frame handed on is then exactly the frame the intermediate file
would have given back, so a fused chain writes the same video as the file chain.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from flickerd.media.probe import MediaInfo, probe
from flickerd.media.reader import iter_frames
from flickerd.routes import normalize_planes as planes
from flickerd.routes.base import ProgressFn, StepResult, no_progress
from flickerd.routes.encode import (
    DEFAULT_CRF, DEFAULT_PRESET, Encoding, check_all_decoded, choose_encoding, final_codec, is_intermediate,
    open_writer, staged_output,
)

Item = tuple[int, Any, Any]  # (frame index, what the writer needs back, the core's result)


class FrameCore(Protocol):
    def feed(self, index: int, data: Any, analysis: Any) -> Iterator[Item]: ...

    def finish(self) -> Iterator[Item]: ...


def is_planar(info: MediaInfo) -> bool:
    """Whether the source is read as YUV planes (``av.VideoFrame``s) rather than RGB arrays."""
    return planes.supported(info.pix_fmt) and info.width % 2 == 0 and info.height % 2 == 0


@dataclass(frozen=True, slots=True)
class FrameFormat:
    """How a route holds frames like ``info``'s: YUV planes (``planar``, ``bits`` deep, ``dtype``)
    or RGB arrays, and the full scale (``peak``) of their values."""

    planar: bool
    bits: int  # bits of the planes; 0 for RGB frames
    dtype: Any  # the planes' integer type
    peak: float

    @classmethod
    def of(cls, info: MediaInfo) -> FrameFormat:
        planar = is_planar(info)
        bits = planes.PLANAR[info.pix_fmt] if planar else 0
        peak = float((1 << bits) - 1) if planar else 65535.0 if info.bit_depth > 8 else 255.0
        return cls(planar, bits, np.uint8 if bits == 8 else np.uint16, peak)

    @property
    def lead(self) -> int:
        """The plane that stands for luma: Y (0) of YUV planes, G (1) of RGB (most of luma's weight)."""
        return 0 if self.planar else 1

    def lead_first(self, planes_: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``planes_`` with the ``lead`` plane first (Y, U, V; or G, R, B), for cores that take luma first."""
        return [planes_[self.lead], *(p for k, p in enumerate(planes_) if k != self.lead)]

    def in_order(self, planes_: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The planes ``lead_first`` gave, back in the frame's own order."""
        rest = list(planes_[1:])
        return [*rest[: self.lead], planes_[0], *rest[self.lead:]]

    def float_planes(self, data: Any) -> list[np.ndarray]:
        """The frame's planes as float32 in [0, peak]: Y, U, V at their own sizes, or R, G, B."""
        if self.planar:
            return [x.astype(np.float32) for x in planes.read_planes(data)]
        f = data.astype(np.float32)
        return [f[..., 0], f[..., 1], f[..., 2]]

    def rebuilt(self, data: Any, new: Sequence[np.ndarray]) -> Any:
        """The frame ``data`` with float planes ``new`` (Y, U, V; or R, G, B for RGB frames), or
        ``data`` itself where the change is negligible (``planes.negligible``: a frame a step
        barely touched is handed on exactly as it came, so clean footage pays no re-encode shift)."""
        if self.planar:
            ints = [(plane + 0.5).astype(self.dtype) for plane in new]
            before = planes.read_planes(data)
            return planes.frame_from_planes(before if planes.negligible(ints, before, self.peak) else ints, data)
        rgb = (np.dstack(new) + 0.5).astype(data.dtype)
        return data if planes.negligible([rgb], [data], self.peak) else rgb


# a step's "encoding" in its report when its frames went to the next step in memory
IN_MEMORY = {"codec": None, "pix_fmt": None, "crf": None, "preset": None, "intermediate": True, "in_memory": True}


def flow_stage_result(route: FrameRoute, params: Any, flow_preset: str, info: MediaInfo, *, written: int,
                      seconds: float, out: str, encoding: Any, size: Sequence[int] | None,
                      **extra: Any) -> StepResult:
    """The ``StepResult`` of a flow-based frame stage (``normalize``, ``detail``): what every such
    step reports (frames, analysis size, encoding, working space) plus the route's own ``extra``."""
    import cv2

    return StepResult(
        route=route.name, version=route.version, backend=f"dis-flow {flow_preset} (opencv {cv2.__version__})",
        params=params.to_dict(), seconds=seconds, output=out,
        extra={"frames": written, "analysis_size": list(size) if size else [], **extra,
               "encoding": encoding.describe() if encoding else IN_MEMORY,
               "working_space": f"{info.pix_fmt} planes" if is_planar(info) else "rgb"},
    )


@dataclass(slots=True)
class FrameStage:
    """One frame route's work on a stream of frames, without the decoding and encoding around it.

    ``render(data, result)`` makes the frame handed on (an ``av.VideoFrame`` of the same format
    when planar, else an RGB array); ``describe(core, frames, seconds, out, encoding)`` makes the
    step's ``StepResult`` (``encoding`` None: its frames went to the next stage in memory);
    ``crf``/``preset``/``pix_fmt`` are its final encode when it is the last; ``close`` frees what
    the stage started (a flow thread), whatever happened.
    """

    make_core: Callable[[int, int], FrameCore]
    analyse: Callable[[FrameCore, Any], Any]
    render: Callable[[Any, Any], Any]
    describe: Callable[[FrameCore | None, int, float, str, Encoding | None], StepResult]
    crf: int
    preset: str
    pix_fmt: str | None
    close: Callable[[], None] = lambda: None
    core: FrameCore | None = None


@runtime_checkable
class FrameRoute(Protocol):
    """A route whose work is a ``FrameStage``: chains of them are fused (``run_stages``)."""

    def stage(self, info: MediaInfo, params: Mapping[str, Any]) -> FrameStage: ...


class StageRoute:
    """A route whose whole work is one ``FrameStage``: alone, ``fix`` runs that stage file to file."""

    params_type: ClassVar[Any]  # a ``RouteParams``: ``from_mapping`` checks the step's params

    def stage(self, info: MediaInfo, params: Mapping[str, Any], p: Any = None) -> FrameStage:
        raise NotImplementedError

    def fix(self, src: str, out: str, params: Mapping[str, Any], progress: ProgressFn = no_progress) -> StepResult:
        p = self.params_type.from_mapping(params)  # a bad parameter is said before the input is read
        info = probe(src)
        return run_stages(src, out, [(self.stage(info, params, p), params)], info, progress)[0]


class _Timed:
    """An iterator that adds up the seconds spent getting each item (its producers' work)."""

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = iter(items)
        self.seconds = 0.0

    def __iter__(self) -> _Timed:
        return self

    def __next__(self) -> Any:
        start = time.perf_counter()
        try:
            return next(self.items)
        finally:
            self.seconds += time.perf_counter() - start


def _decoded(src: str, info: MediaInfo) -> Iterator[tuple[int, Any, int, int]]:
    """(index, frame, width, height) of every frame: ``av.VideoFrame``s when ``is_planar``, else
    RGB arrays (16-bit when the source is deeper than 8 bits)."""
    if is_planar(info):
        return ((i, f, f.width, f.height) for i, f in enumerate(planes.decode(src)))
    return ((f.index, f.image, f.image.shape[1], f.image.shape[0])
            for f in iter_frames(src, deep=info.bit_depth > 8))


def _through(stage: FrameStage, frames: Iterator[tuple[int, Any, int, int]]) -> Iterator[tuple[int, Any, int, int]]:
    size = (0, 0)
    for index, data, width, height in frames:
        if stage.core is None:
            stage.core = stage.make_core(width, height)
            size = (width, height)
        for i, d, result in stage.core.feed(index, data, stage.analyse(stage.core, data)):
            yield i, stage.render(d, result), *size
    if stage.core is not None:
        for i, d, result in stage.core.finish():
            yield i, stage.render(d, result), *size


def run_stages(src: str, out: str, stages: Sequence[tuple[FrameStage, Mapping[str, Any]]], info: MediaInfo,
               progress: ProgressFn) -> list[StepResult]:
    """Decode ``src`` once, pass its frames through ``stages`` (each with its step's params), encode ``out``.

    The last stage's params choose the encoding (``_intermediate``, ``_codec``, crf, preset).
    Returns one ``StepResult`` per stage; each one's seconds are its own work (the first's with
    the decoding, the last's with the encoding). Raises ``CorruptInput`` (nothing kept under
    ``out``) when the input stops short of its listed frames.
    """
    start = time.monotonic()
    last, params = stages[-1]
    encoding = choose_encoding(out, info, intermediate=is_intermediate(params), crf=last.crf, preset=last.preset,
                               pix_fmt=last.pix_fmt, codec=final_codec(params))
    planar = is_planar(info)
    total = max(1, info.frame_count)
    written = 0
    try:
        with staged_output(out) as tmp, open_writer(tmp, info, encoding) as writer:
            timed = [_Timed(_decoded(src, info))]
            for stage, _ in stages:
                timed.append(_Timed(_through(stage, timed[-1])))
            for _, data, _, _ in timed[-1]:
                if planar:
                    writer.write_frame(data)
                else:
                    writer.write(data)
                written += 1
                progress(min(1.0, written / total))
            check_all_decoded(src, written, info)
    finally:
        for stage, _ in stages:
            stage.close()
    progress(1.0)
    own = [timed[k + 1].seconds - timed[k].seconds for k in range(len(stages))]
    own[0] += timed[0].seconds
    own[-1] += max(0.0, time.monotonic() - start - timed[-1].seconds)  # encoding, opening, probing
    return [stage.describe(stage.core, written, max(0.0, own[k]), out if k == len(stages) - 1 else "",
                           encoding if k == len(stages) - 1 else None)
            for k, (stage, _) in enumerate(stages)]


class _PassThrough:
    """A core that hands every frame on unchanged."""

    def feed(self, index: int, data: Any, analysis: Any) -> Iterator[Item]:
        yield index, data, None

    def finish(self) -> Iterator[Item]:
        return iter(())


def reencode(src: str, out: str, info: MediaInfo, progress: ProgressFn = no_progress) -> StepResult:
    """``src`` decoded and encoded again by the routes' final encoder (default CRF and preset,
    planes kept when planar), nothing changed: what a fix that changed nothing would publish."""

    def describe(core: FrameCore | None, written: int, seconds: float, out: str,
                 encoding: Encoding | None) -> StepResult:
        return StepResult("reencode", "1", "decode and final encode", {}, seconds=seconds, output=out,
                          extra={"frames": written, "encoding": encoding.describe() if encoding else IN_MEMORY})

    stage = FrameStage(lambda w, h: _PassThrough(), lambda core, data: None, lambda data, _: data, describe,
                       DEFAULT_CRF, DEFAULT_PRESET, None)
    return run_stages(src, out, [(stage, {})], info, progress)[0]


def stream_frames(
    src: str,
    info: MediaInfo,
    *,
    make_core: Callable[[int, int], FrameCore],
    analyse: Callable[[FrameCore, Any], Any],
    write: Callable[[Any, Any], None],
    progress: ProgressFn,
) -> tuple[int, FrameCore | None]:
    """Run every frame of ``src`` through a core made for its size; returns (frames written, core).

    ``analyse(core, data)`` turns a decoded frame (``av.VideoFrame`` when ``is_planar``, else an
    RGB array, 16-bit when the source is deeper than 8 bits) into what ``core.feed`` takes;
    ``write(data, result)`` encodes one finished frame. Raises ``CorruptInput`` (nothing kept
    under the caller's staged name) when the input stops short of its listed frames.
    """
    total = max(1, info.frame_count)
    written = 0
    core: FrameCore | None = None

    def put(items: Iterator[Item]) -> None:
        nonlocal written
        for _, data, result in items:
            write(data, result)
            written += 1
            progress(min(1.0, written / total))

    for index, data, width, height in _decoded(src, info):
        if core is None:
            core = make_core(width, height)
        put(core.feed(index, data, analyse(core, data)))
    if core is not None:
        put(core.finish())
    check_all_decoded(src, written, info)
    return written, core

"""The streaming skeleton of a per-frame route: decode → core (a bounded window) → encode.

``normalize`` and ``detail`` differ only in what they compute per frame; the loop around it
is this one. A source is read as planar YUV (8–12-bit, even size: corrected on its own planes,
no colour conversion) when it can be, else as RGB through ``iter_frames``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from flickerd.media.probe import MediaInfo
from flickerd.media.reader import iter_frames
from flickerd.routes import normalize_planes as planes
from flickerd.routes.base import ProgressFn
from flickerd.routes.encode import check_all_decoded

Item = tuple[int, Any, Any]  # (frame index, what the writer needs back, the core's result)


class FrameCore(Protocol):
    def feed(self, index: int, data: Any, analysis: Any) -> Iterator[Item]: ...

    def finish(self) -> Iterator[Item]: ...


def is_planar(info: MediaInfo) -> bool:
    """Whether the source is read as YUV planes (``av.VideoFrame``s) rather than RGB arrays."""
    return planes.supported(info.pix_fmt) and info.width % 2 == 0 and info.height % 2 == 0


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

    if is_planar(info):
        frames = ((i, f, f.width, f.height) for i, f in enumerate(planes.decode(src)))
    else:
        frames = ((f.index, f.image, f.image.shape[1], f.image.shape[0])
                  for f in iter_frames(src, deep=info.bit_depth > 8))
    for index, data, width, height in frames:
        if core is None:
            core = make_core(width, height)
        put(core.feed(index, data, analyse(core, data)))
    if core is not None:
        put(core.finish())
    check_all_decoded(src, written, info)
    return written, core

"""Streaming frame reader: one decoded frame at a time, never the whole video.

Scaling and colour conversion happen in libswscale (``VideoFrame.reformat``), which is
much faster than resizing full frames in numpy afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from flickerd.errors import CorruptInput
from flickerd.media.probe import _open
from flickerd.media.sequence import find_sequence, iter_sequence, read_image, sequence_fps
from flickerd.media.webp import is_webp, iter_webp, probe_webp

# AVPictureType values as PyAV reports them
PICT_I = 1
# swscale's direct 4:2:0/4:2:2 → RGB path comes out about 1.2 grey levels dark in this FFmpeg
# build; upsampling the chroma to 4:4:4 first takes its exact path.
VIA_444 = {
    "yuv420p": "yuv444p", "yuv422p": "yuv444p", "yuvj420p": "yuvj444p", "yuvj422p": "yuvj444p",
    "yuv420p10le": "yuv444p10le", "yuv422p10le": "yuv444p10le",
}


@dataclass(frozen=True, slots=True)
class Frame:
    index: int
    time_s: float
    image: np.ndarray  # HxWx3 RGB, or HxW luma when gray=True; uint8, or uint16 when deep=True
    keyframe: bool
    pict_type: int  # 1 = I, 2 = P, 3 = B


def analysis_size(width: int, height: int, scale: float = 1.0, max_side: int | None = None) -> tuple[int, int]:
    """The (w, h) a frame is analysed at: ``scale`` times the source, capped at ``max_side``."""
    s = scale
    if max_side:
        s = min(s, max_side / max(width, height))
    w = max(16, int(round(width * s)))
    h = max(16, int(round(height * s)))
    return w - (w % 2), h - (h % 2)


def iter_frames(
    path: str | os.PathLike,
    *,
    scale: float = 1.0,
    max_side: int | None = None,
    gray: bool = False,
    deep: bool = False,
    max_frames: int | None = None,
    tolerant: bool = False,
    threads: bool = True,
) -> Iterator[Frame]:
    """Yield decoded frames of the first video stream, resized to the analysis size.

    ``gray`` gives luma only (BT.601 from swscale); ``deep`` keeps 16-bit samples for
    10-bit masters. With ``tolerant`` a decode error ends the stream quietly instead of
    raising ``CorruptInput`` (used when diagnosing damaged files).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        yield from _iter_sequence(path, scale, max_side, gray, deep, max_frames)
        return
    if is_webp(path):
        yield from _iter_webp(path, scale, max_side, gray, deep, max_frames)
        return
    container = _open(path)
    try:
        stream = container.streams.video[0] if container.streams.video else None
        if stream is None:
            raise CorruptInput(f"{path}: contains no video stream.")
        if threads:
            stream.thread_type = "AUTO"
        cc = stream.codec_context
        w, h = analysis_size(cc.width, cc.height, scale, max_side)
        fmt = ("gray16le" if deep else "gray") if gray else ("rgb48le" if deep else "rgb24")
        # One swscale context per conversion for the whole stream: ``frame.reformat`` builds a new
        # one for every frame (its set-up cost ~0.5 ms a frame at 832x480; the pixels are the same).
        to_444, to_image = VideoReformatter(), VideoReformatter()
        index = 0
        try:
            for frame in container.decode(stream):
                if not gray and frame.format.name in VIA_444:
                    frame = to_444.reformat(frame, format=VIA_444[frame.format.name], width=w, height=h,
                                            interpolation="BICUBIC" if (w, h) == (frame.width, frame.height) else "AREA")
                image = to_image.reformat(frame, format=fmt, width=w, height=h).to_ndarray()
                time_s = float(frame.time) if frame.time is not None else index / float(stream.average_rate or 25)
                yield Frame(index, time_s, image, bool(frame.key_frame), int(frame.pict_type))
                index += 1
                if max_frames is not None and index >= max_frames:
                    return
        except av.error.FFmpegError as exc:
            if not tolerant:
                raise CorruptInput(f"{path}: decoding failed after {index} frames ({exc}).") from exc
        if index == 0:
            raise CorruptInput(f"{path}: the video stream holds no decodable frame.")
    finally:
        container.close()


def _iter_webp(path, scale, max_side, gray, deep, max_frames) -> Iterator[Frame]:
    info = probe_webp(path)
    size = analysis_size(info["width"], info["height"], scale, max_side)
    for index, time_s, image in iter_webp(path, size, gray=gray, deep=deep):
        yield Frame(index, time_s, image, True, PICT_I)
        if max_frames is not None and index + 1 >= max_frames:
            return


def _iter_sequence(path, scale, max_side, gray, deep, max_frames) -> Iterator[Frame]:
    seq = find_sequence(path)
    first = read_image(seq.paths[0])
    size = analysis_size(first.shape[1], first.shape[0], scale, max_side)
    fps = float(sequence_fps(path))
    for index, image in enumerate(iter_sequence(seq, size, gray=gray, deep=deep)):
        yield Frame(index, index / fps, image, True, PICT_I)
        if max_frames is not None and index + 1 >= max_frames:
            return

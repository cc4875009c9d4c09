"""Fast analysis decode: each frame's Y, Cb, Cr planes as numpy views, decoded on a background thread.

Diagnosis needs cheap per-frame numbers (means, a histogram) from every frame but full
images only from the few frames its pair measures sample. Converting every frame to RGB
(``iter_frames``) costs more than decoding it, so this reader hands out the decoder's own
planes, zero-copy, and leaves any conversion to the caller. PyAV releases the GIL while it
decodes, so decoding on a thread overlaps the caller's analysis on a second core; the queue
between them holds a few frames, so memory stays flat whatever the clip's length.

8-bit planar YUV (4:2:0, 4:2:2, 4:4:4) comes as is; other pixel formats (10-bit, palettes,
RGB, NV12) are converted by swscale to 8-bit 4:4:4; WebP and image sequences, which PyAV
does not read as video, go through ``iter_frames`` and OpenCV.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import av

from flickerd.errors import CorruptInput
from flickerd.media.probe import FULL_RANGE, _open
from flickerd.media.webp import is_webp

if TYPE_CHECKING:
    import numpy as np

# Decoded frames waiting for the analysis thread: bounded in bytes, so memory stays flat; at
# 720x480 64 frames (the cap), enough for the decoder to run ahead while the consumer works on
# the frames its pair measures sample, instead of idling and then making the consumer wait.
QUEUE_BYTES = 32 << 20
QUEUE_FRAMES = (6, 64)  # fewest and most frames queued, whatever their size
DECODE_THREADS = 4  # FFmpeg frame threads at most, when frames are skipped (the analysis is one thread)
NATIVE = {"yuv420p", "yuv422p", "yuv444p", "yuvj420p", "yuvj422p", "yuvj444p"}
FALLBACK_FORMAT = "yuv444p"
_END = object()


@dataclass(frozen=True, slots=True)
class Planes:
    """One decoded frame as 8-bit planes. Chroma may be subsampled (half width and/or height)."""

    index: int
    time_s: float
    keyframe: bool
    pict_type: int  # 1 = I, 2 = P, 3 = B
    y: np.ndarray  # HxW uint8
    cb: np.ndarray  # uint8, H or H/2 rows, W or W/2 columns
    cr: np.ndarray
    full_range: bool  # True: 0–255 (JPEG range); False: Y 16–235, chroma 16–240


def _view(plane) -> np.ndarray:
    """The plane's pixels without copying (rows padded to ``line_size`` in the buffer)."""
    import numpy as np  # not at the top: the decoding thread may start before numpy is loaded

    return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]


def _native(frame: av.VideoFrame, index: int) -> tuple[av.VideoFrame, int, bool]:
    """(8-bit planar YUV frame, index, full range): converted on the decoding thread, which needs no numpy."""
    full = frame.format.name.startswith("yuvj") or int(frame.color_range) == FULL_RANGE
    if frame.format.name not in NATIVE:
        frame = frame.reformat(format=FALLBACK_FORMAT)
    return frame, index, full


def _planes(frame: av.VideoFrame, index: int, full: bool, fallback_rate: float) -> Planes:
    p = frame.planes
    time_s = float(frame.time) if frame.time is not None else index / fallback_rate
    return Planes(index, time_s, bool(frame.key_frame), int(frame.pict_type), _view(p[0]), _view(p[1]), _view(p[2]),
                  full)


class PlaneReader:
    """Iterate over the planes of the first video stream's frames, in display order.

    ``wanted(index) -> bool`` lets the decoder skip frames nobody needs, but only frames no
    other frame predicts from (``skip_frame=NONREF``), so every frame it does decode is
    exact; which frames get skipped depends on the encoder (typically its B-frames).
    Skipped frames leave gaps in the indices; ``frames`` is the count including them. With
    ``tolerant`` a decode error ends the stream quietly instead of raising ``CorruptInput``.
    ``container``: ``path`` already open and unread (``probe_open``); the reader closes it.
    Breaking out of the loop stops the decoding thread.
    """

    def __init__(self, path: str | os.PathLike, *, wanted: Callable[[int], bool] | None = None,
                 tolerant: bool = False, max_frames: int | None = None,
                 container: av.container.InputContainer | None = None) -> None:
        self.path = os.fspath(path)
        self.wanted = wanted
        self.tolerant = tolerant
        self.max_frames = max_frames
        self.frames = 0  # frames in the stream so far, skipped ones included
        self.rotation = 0  # the first frame's display rotation, degrees counter-clockwise, once it is decoded
        self._container = container
        self._started = False
        self._running: tuple | None = None  # (container, queue, stop event, thread, frame rate) while decoding

    def start(self) -> None:
        """Open the file and start decoding ahead (iterating does this if nobody did).

        Needs only PyAV: the decoding thread queues PyAV frames and the consumer makes the
        numpy views, so decoding may begin while numpy is still being imported.
        """
        if self._started or self._via_rgb:
            return
        self._started = True
        path = self.path
        container, self._container = self._container or _open(path), None
        if not container.streams.video:
            container.close()
            raise CorruptInput(f"{path}: contains no video stream.")
        stream = container.streams.video[0]
        cc = stream.codec_context
        rate = float(stream.average_rate or 25)
        # bytes per pixel of the planes handed out: 1.5 for 4:2:0, at most 3 (4:4:4 and conversions)
        bytes_per_pixel = 1.5 if cc.pix_fmt in ("yuv420p", "yuvj420p") else 3
        frame_bytes = max(1, int(bytes_per_pixel * (cc.width or 1920) * (cc.height or 1080)))
        frames: queue.Queue = queue.Queue(maxsize=min(max(QUEUE_BYTES // frame_bytes, QUEUE_FRAMES[0]),
                                                      QUEUE_FRAMES[1]))
        stop = threading.Event()

        def put(item) -> bool:
            while not stop.is_set():
                try:
                    frames.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def decode() -> None:
            try:
                for item in self._decode(container, stream):
                    if not put(item):
                        return
            except av.error.FFmpegError as exc:
                if not self.tolerant:
                    put(CorruptInput(f"{path}: decoding failed after {self.frames} frames ({exc})."))
                    return
            except Exception as exc:  # handed to the consumer, which re-raises it
                put(exc)
                return
            if self.frames == 0:
                put(CorruptInput(f"{path}: the video stream holds no decodable frame."))
                return
            put(_END)

        worker = threading.Thread(target=decode, name="flickerd-decode", daemon=True)
        self._running = (container, frames, stop, worker, rate)
        worker.start()

    def close(self) -> None:
        """Stop the decoding thread and close the file (iteration does this when it ends)."""
        if self._container is not None:  # handed over but never started
            self._container.close()
            self._container = None
        if self._running is not None:
            container, _, stop, worker, _ = self._running
            self._running = None
            stop.set()
            worker.join()
            container.close()

    @functools.cached_property
    def _via_rgb(self) -> bool:
        """WebP and image sequences, which PyAV does not read as video (looked at once: ``is_webp`` reads the file)."""
        return os.path.isdir(self.path) or is_webp(self.path)

    def __iter__(self) -> Iterator[Planes]:
        path = self.path
        if self._via_rgb:
            for planes in _via_rgb(path, self.max_frames):
                self.frames = planes.index + 1
                yield planes
            return
        self.start()
        if self._running is None:
            raise RuntimeError(f"{path}: a PlaneReader is iterated once.")
        _, frames, _, _, rate = self._running
        try:
            while True:
                item = frames.get()
                if item is _END:
                    return
                if isinstance(item, Exception):
                    raise item
                yield _planes(*item, rate)
        finally:
            self.close()

    def _decode(self, container, stream) -> Iterator[tuple[av.VideoFrame, int, bool]]:
        first = True
        for frame, index in self._frames(container, stream):
            if first:  # PyAV 18 shows a display matrix only on frames: the first one's is the video's
                self.rotation = int(round(frame.rotation)) % 360
                first = False
            yield _native(frame, index)

    def _frames(self, container, stream) -> Iterator[tuple[av.VideoFrame, int]]:
        """(decoded frame, display index)."""
        timed = self.wanted is not None and stream.average_rate and stream.time_base is not None
        if not timed:  # every frame, counted
            for frame in container.decode(stream):
                yield frame, self.frames
                self.frames += 1
                if self.max_frames is not None and self.frames >= self.max_frames:
                    return
            return
        # Skipping: a packet's display index comes from its timestamp (constant frame rate), and
        # the decoder takes skip_frame with each packet. Which frames are decoded depends only on
        # their indices, so FFmpeg's frame threads change nothing but the speed: they decode on
        # whatever the analysis leaves of the cores (a few threads: each holds frames in memory).
        stream.thread_type = "FRAME"
        stream.codec_context.thread_count = min(DECODE_THREADS, (os.cpu_count() or 1) + 1)
        cc = stream.codec_context
        rate = float(stream.average_rate)
        tb, start = float(stream.time_base), stream.start_time
        last = -1
        for packet in container.demux(stream):
            if packet.pts is not None:
                start = packet.pts if start is None else start
                index = round((packet.pts - start) * tb * rate)
                self.frames = max(self.frames, index + 1)
                cc.skip_frame = "DEFAULT" if self.wanted(index) else "NONREF"
            for frame in packet.decode():
                if frame.pts is not None and last < 0:
                    start = frame.pts  # the first frame shown is frame 0, whatever the container's start says
                index = round((frame.pts - start) * tb * rate) if frame.pts is not None else last + 1
                index = max(index, last + 1)  # never twice the same index, whatever the timestamps say
                last = index
                self.frames = max(self.frames, index + 1)
                yield frame, index
                if self.max_frames is not None and index + 1 >= self.max_frames:
                    return


def iter_planes(path: str | os.PathLike, *, tolerant: bool = False, max_frames: int | None = None) -> Iterator[Planes]:
    """Every frame's planes, in display order (see ``PlaneReader``)."""
    return iter(PlaneReader(path, tolerant=tolerant, max_frames=max_frames))


def _via_rgb(path: str, max_frames: int | None) -> Iterator[Planes]:
    """WebP and image sequences: RGB frames from ``iter_frames``, converted to full-range YCbCr."""
    import cv2
    import numpy as np

    from flickerd.media.reader import iter_frames

    for f in iter_frames(path, max_frames=max_frames):
        img = f.image
        if img.dtype != np.uint8:
            img = (img >> 8).astype(np.uint8)
        ycrcb = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb)
        yield Planes(f.index, f.time_s, f.keyframe, f.pict_type, ycrcb[..., 0], ycrcb[..., 2], ycrcb[..., 1], True)


def read_range(path: str | os.PathLike, lo: int, hi: int) -> Iterator[Planes]:
    """The planes of every frame ``lo`` ≤ index < ``hi`` (display order), one at a time: the decoder
    seeks to the keyframe before ``lo`` and skips the frames before it nobody predicts from.
    Indices come from timestamps at the stream's average rate, from its first frame: on a constant
    rate they are ``PlaneReader``'s, but on a variable-rate file or a GIF they can repeat or skip
    where ``PlaneReader``'s never do, so callers must check frames they know (``seam_window`` compares
    the main pass's means and refuses the window). Nothing for WebP and image sequences, and when the
    seek lands past ``lo``."""
    path = os.fspath(path)
    if os.path.isdir(path) or is_webp(path):
        return
    started = False
    with _open(path) as container:
        stream = container.streams.video[0]
        if not stream.average_rate or stream.time_base is None:
            return
        rate, tb = float(stream.average_rate), float(stream.time_base)
        first = _first_pts(container, stream)
        if first is None:
            return
        container.seek(first + int(max(0, lo - 1) / rate / tb), stream=stream, backward=True, any_frame=False)
        cc = stream.codec_context
        for packet in container.demux(stream):
            if packet.pts is not None:
                cc.skip_frame = "DEFAULT" if round((packet.pts - first) * tb * rate) >= lo - 1 else "NONREF"
            for frame in packet.decode():
                if frame.pts is None:
                    return
                index = round((frame.pts - first) * tb * rate)
                if not started and index > lo:
                    return  # the seek went past the range
                started = True
                if lo <= index < hi:
                    yield _planes(*_native(frame, index), rate)
                if index >= hi - 1:
                    return


def _first_pts(container, stream) -> int | None:
    """The display timestamp of the stream's first frame (``PlaneReader``'s frame 0)."""
    for frame in container.decode(stream):
        return frame.pts
    return None

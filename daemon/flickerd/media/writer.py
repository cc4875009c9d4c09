"""Streaming encoder: frames in, a playable file out, audio and colour metadata carried over.

The container and codec follow the output extension; defaults keep what came in
(8-bit in → yuv420p, 10-bit in → yuv420p10le). Audio packets are copied from the source
and interleaved by time as video is written, so nothing is buffered whole.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from flickerd.errors import RouteError
from flickerd.media.probe import MediaInfo

# extension -> (video codec, 8-bit pix_fmt, 10-bit pix_fmt)
CODECS: dict[str, tuple[str, str, str]] = {
    ".mp4": ("libx264", "yuv420p", "yuv420p10le"),
    ".m4v": ("libx264", "yuv420p", "yuv420p10le"),
    ".mov": ("libx264", "yuv420p", "yuv420p10le"),
    ".mkv": ("libx264", "yuv420p", "yuv420p10le"),
    ".webm": ("libvpx-vp9", "yuv420p", "yuv420p10le"),
    ".gif": ("gif", "rgb8", "rgb8"),
    ".webp": ("libwebp_anim", "yuva420p", "yuva420p"),
}
# Containers that take a copied audio stream.
AUDIO_CONTAINERS = {".mp4", ".m4v", ".mov", ".mkv", ".webm"}


@dataclass(frozen=True, slots=True)
class EncodeSettings:
    crf: int = 16
    preset: str = "slow"
    pix_fmt: str | None = None  # None: follow the input's bit depth
    codec: str | None = None  # None: follow the output extension


def output_codec(path: str, source: MediaInfo | None, settings: EncodeSettings) -> tuple[str, str]:
    ext = os.path.splitext(path)[1].lower()
    codec, pf8, pf10 = CODECS.get(ext, CODECS[".mp4"])
    codec = settings.codec or codec
    deep = source is not None and source.bit_depth > 8
    pix_fmt = settings.pix_fmt or (pf10 if deep else pf8)
    return codec, pix_fmt


class VideoWriter:
    """``with VideoWriter(out, source_info) as w: w.write(rgb)`` — frames are HxWx3 RGB.

    ``rgb`` may be uint8, or uint16 (``rgb48``) to keep 10-bit precision.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        source: MediaInfo,
        *,
        settings: EncodeSettings = EncodeSettings(),
        fps: Fraction | None = None,
        size: tuple[int, int] | None = None,
        copy_audio: bool = True,
    ) -> None:
        self.path = os.fspath(path)
        self.source = source
        self.codec, self.pix_fmt = output_codec(self.path, source, settings)
        self.rate = fps or Fraction(source.fps_num, source.fps_den)
        self.width, self.height = size or (source.width, source.height)
        ext = os.path.splitext(self.path)[1].lower()
        fmt = {".mkv": "matroska", ".m4v": "mp4"}.get(ext)
        try:
            self._out = av.open(self.path, mode="w", format=fmt)
            self._v = self._out.add_stream(self.codec, rate=self.rate)
        except av.error.FFmpegError as exc:
            raise RouteError(f"{self.path}: cannot create the output ({exc}).") from exc
        self._v.width, self._v.height = self.width - self.width % 2, self.height - self.height % 2
        self._v.pix_fmt = self.pix_fmt
        if self.codec in ("libx264", "libx265"):
            self._v.options = {"crf": str(settings.crf), "preset": settings.preset}
        elif self.codec == "libvpx-vp9":
            self._v.options = {"crf": str(settings.crf + 15), "b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"}
        cc = self._v.codec_context
        if self.codec not in ("gif", "libwebp_anim"):
            cc.color_range = source.color_range
            cc.color_primaries = source.color_primaries
            cc.color_trc = source.color_trc
            cc.colorspace = source.colorspace
        for key in ("title", "comment", "description"):
            if key in source.metadata:
                self._out.metadata[key] = source.metadata[key]
        self._audio_in = None
        self._audio_out = None
        self._audio_iter = None
        self._pending_audio = None
        if copy_audio and source.has_audio and ext in AUDIO_CONTAINERS:
            self._open_audio()
        self.frames = 0

    def _open_audio(self) -> None:
        try:
            self._audio_in = av.open(self.source.path, metadata_errors="ignore")
            a = self._audio_in.streams.audio[0]
            self._audio_out = self._out.add_stream_from_template(a)
            self._audio_iter = self._audio_in.demux(a)
        except (av.error.FFmpegError, ValueError):
            # The container refuses this audio codec (e.g. pcm in mp4): drop audio, keep video.
            if self._audio_in is not None:
                self._audio_in.close()
            self._audio_in = self._audio_out = self._audio_iter = None

    def _mux_audio_until(self, t: float | None) -> None:
        """Copy audio packets whose time is before ``t`` (None: all that remain)."""
        if self._audio_iter is None:
            return
        while True:
            pkt = self._pending_audio
            self._pending_audio = None
            if pkt is None:
                try:
                    pkt = next(self._audio_iter)
                except (StopIteration, av.error.FFmpegError):
                    self._audio_iter = None
                    return
            if pkt.dts is None:
                continue
            if t is not None and float(pkt.dts * pkt.time_base) > t:
                self._pending_audio = pkt
                return
            pkt.stream = self._audio_out
            self._out.mux(pkt)

    def write(self, rgb: np.ndarray) -> None:
        h, w = self._v.height, self._v.width
        if rgb.shape[0] != h or rgb.shape[1] != w:
            rgb = rgb[:h, :w]
        fmt = "rgb48le" if rgb.dtype == np.uint16 else "rgb24"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=fmt)
        frame.pts = self.frames
        frame.time_base = Fraction(self.rate.denominator, self.rate.numerator)
        try:
            for packet in self._v.encode(frame):
                self._out.mux(packet)
        except av.error.FFmpegError as exc:
            raise RouteError(f"{self.path}: encoding frame {self.frames} failed ({exc}).") from exc
        self.frames += 1
        self._mux_audio_until(self.frames / float(self.rate))

    def close(self) -> None:
        try:
            for packet in self._v.encode():
                self._out.mux(packet)
            self._mux_audio_until(None)
        finally:
            self._out.close()
            if self._audio_in is not None:
                self._audio_in.close()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            try:
                self._out.close()
            finally:
                if self._audio_in is not None:
                    self._audio_in.close()

"""Streaming encoder: frames in, a playable file out, audio and colour metadata carried over.

The container and codec follow the output extension; defaults keep what came in
(8-bit in → yuv420p, 10-bit in → yuv420p10le). Audio packets are copied from the source
and interleaved by time as video is written, so nothing is buffered whole.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from flickerd.errors import RouteError
from flickerd.media.probe import FULL_RANGE, LIMITED_RANGE, MediaInfo

# extension -> default video codec
CONTAINER_CODEC: dict[str, str] = {
    ".mp4": "libx264", ".m4v": "libx264", ".mov": "libx264", ".mkv": "libx264",
    ".webm": "libvpx-vp9", ".gif": "gif", ".webp": "libwebp_anim",
}
# Friendly names a config may use for ``codec``.
CODEC_ALIASES: dict[str, str] = {
    "h264": "libx264", "x264": "libx264", "h265": "libx265", "hevc": "libx265", "x265": "libx265",
    "prores": "prores_ks", "prores422": "prores_ks", "prores4444": "prores_ks", "ffv1": "ffv1",
    "nvenc": "h264_nvenc", "h264_nvenc": "h264_nvenc", "hevc_nvenc": "hevc_nvenc", "vp9": "libvpx-vp9",
}
# Codecs whose pixel format is fixed by the codec, not by the input.
FIXED_PIX_FMT = {"gif": "rgb8", "libwebp_anim": "yuva420p"}
# AVColorSpace values swscale converts with (bt709, fcc, bt470bg, smpte170m, smpte240m, bt2020).
YUV_MATRICES = {1, 4, 5, 6, 7, 9, 10}
RGB_MATRIX, UNSPECIFIED_MATRIX = 0, 2  # AVCOL_SPC_RGB, AVCOL_SPC_UNSPECIFIED
LIMITED_ONLY = frozenset({"prores_ks"})  # encoders that write limited range whatever the tag
# Containers each codec can live in; the first is used when the input's container cannot take it.
CODEC_CONTAINERS: dict[str, tuple[str, ...]] = {
    "libx264": (".mp4", ".mov", ".mkv", ".m4v"), "libx265": (".mp4", ".mov", ".mkv"),
    "h264_nvenc": (".mp4", ".mov", ".mkv"), "hevc_nvenc": (".mp4", ".mov", ".mkv"),
    "prores_ks": (".mov", ".mkv"), "ffv1": (".mkv", ".mov"), "libvpx-vp9": (".webm", ".mkv", ".mp4"),
}


def output_extension(ext: str, codec: str | None) -> str:
    """The container extension for an output of ``codec`` (an alias is fine) made from an ``ext`` input."""
    if not codec:
        return ext or ".mp4"
    name = CODEC_ALIASES.get(codec.lower(), codec.lower())
    allowed = CODEC_CONTAINERS.get(name, (".mkv",))
    return ext.lower() if ext.lower() in allowed else allowed[0]


# H.265 in an ISO-BMFF container is tagged hvc1 (parameter sets in the sample description):
# QuickTime and Apple devices refuse FFmpeg's default hev1.
HEVC_CODECS = frozenset({"libx265", "hevc_nvenc"})
HVC1_CONTAINERS = frozenset({".mp4", ".m4v", ".mov"})
HVC1_TAG = "hvc1"


def hevc_tag(codec: str, ext: str) -> str | None:
    """The codec tag an output of ``codec`` in an ``ext`` file needs (None: the muxer's default)."""
    return HVC1_TAG if codec in HEVC_CODECS and ext.lower() in HVC1_CONTAINERS else None


# Containers that take a copied audio stream.
AUDIO_CONTAINERS = {".mp4", ".m4v", ".mov", ".mkv", ".webm"}


# x264's AVX-512 code (core 165, MB-tree with B-frames) reads memory it never wrote, so the same
# frames encoded twice could differ with the heap's leftovers — a chain's threads made `fix` on one
# render give a different file each run. Its AVX2 code is bit-exact with SSE4.2 and reads no garbage.
X264_NO_AVX512 = "asm=avx2"


@functools.cache
def x264_params() -> str | None:
    """``x264-params`` that keep libx264 reproducible here: AVX2 where the CPU has AVX-512, else None.

    A CPU with AVX-512 has every AVX2 feature x264 asks for; elsewhere x264's own choice stands."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = f.read()
    except OSError:
        return None
    return X264_NO_AVX512 if "avx512bw" in flags else None


def reproducible(codec: str, options: dict[str, str]) -> dict[str, str]:
    """A PyAV stream's ``options`` for ``codec``, with what keeps libx264 reproducible here added."""
    return {**options, "x264-params": x264_params()} if codec == "libx264" and x264_params() else dict(options)


def reproducible_args() -> list[str]:
    """The same for an ffmpeg command line encoding with libx264."""
    return ["-x264-params", x264_params()] if x264_params() else []


@dataclass(frozen=True, slots=True)
class EncodeSettings:
    crf: int = 16
    preset: str = "slow"
    pix_fmt: str | None = None  # None: follow the input's bit depth and chroma subsampling
    codec: str | None = None  # None: follow the output extension; else a name or alias above


def _chroma(pix_fmt: str | None) -> str:
    """"420", "422" or "444" of a yuv pixel format; RGB-like inputs count as 444."""
    if pix_fmt and pix_fmt.startswith(("yuv", "yuvj")):
        for c in ("444", "422", "420"):
            if c in pix_fmt:
                return c
        return "420"
    return "444" if pix_fmt and pix_fmt.startswith(("rgb", "gbr", "bgr")) else "420"


def choose_pix_fmt(codec: str, source: MediaInfo | None, alias: str | None = None) -> str:
    """The output pixel format that keeps the input's bit depth and subsampling where the codec can."""
    if codec in FIXED_PIX_FMT:
        return FIXED_PIX_FMT[codec]
    deep = source is not None and source.bit_depth > 8
    chroma = _chroma(source.pix_fmt if source else None)
    if codec == "prores_ks":
        return "yuva444p10le" if alias == "prores4444" or chroma == "444" else "yuv422p10le"
    if codec in ("h264_nvenc", "hevc_nvenc"):
        return "p010le" if deep and codec == "hevc_nvenc" else "yuv420p"
    if codec == "libvpx-vp9":
        chroma = "420" if chroma == "422" else chroma
    if source is not None and source.pix_fmt.startswith("rgb") and codec in ("libx264", "libvpx-vp9"):
        chroma = "420"  # players expect 4:2:0 from renders delivered as RGB (gif, png)
    return f"yuv{chroma}p" + ("10le" if deep else "")


def output_codec(path: str, source: MediaInfo | None, settings: EncodeSettings) -> tuple[str, str]:
    ext = os.path.splitext(path)[1].lower()
    alias = (settings.codec or "").lower() or None
    codec = CODEC_ALIASES.get(alias, alias) if alias else CONTAINER_CODEC.get(ext, "libx264")
    pix_fmt = settings.pix_fmt or choose_pix_fmt(codec, source, alias)
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
        self._gif: str | None = None
        self._to_yuv = VideoReformatter()  # ``write``'s RGB → YUV conversion
        if self.codec == "gif":
            # GIF's fixed rgb8 palette dithers every frame anew (it doubled a clip's warping error):
            # frames go to a lossless file, and ``close`` maps them through one palette
            # (``media.ffmpeg.GIF_PALETTEGEN`` / ``GIF_PALETTEUSE``), two streaming passes.
            self._gif = self.path
            folder, name = os.path.split(self.path)
            self.path = os.path.join(folder, f".{name}.frames.mkv")
            self.codec, self.pix_fmt = "ffv1", "bgr0"
            copy_audio = False
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
        tag = hevc_tag(self.codec, ext)
        if tag:
            self._v.codec_tag = tag
        alias = (settings.codec or "").lower()
        if self.codec in ("libx264", "libx265"):
            self._v.options = reproducible(self.codec, {"crf": str(settings.crf), "preset": settings.preset})
            if self.codec == "libx265":
                self._v.options["x265-params"] = "log-level=error"
        elif self.codec == "prores_ks":
            self._v.options = {"profile": "4" if alias == "prores4444" or "444" in self.pix_fmt else "2"}
        elif self.codec == "ffv1":
            self._v.options = {"level": "3", "slicecrc": "1"}
        elif self.codec in ("h264_nvenc", "hevc_nvenc"):
            self._v.options = {"cq": str(settings.crf + 3), "preset": "p5"}
        elif self.codec == "libvpx-vp9":
            self._v.options = {"crf": str(settings.crf + 15), "b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"}
        cc = self._v.codec_context
        if self.codec not in ("gif", "libwebp_anim"):
            # ProRes stores limited range whatever it is told: convert to what the file will say
            cc.color_range = LIMITED_RANGE if self.codec in LIMITED_ONLY and source.color_range == FULL_RANGE \
                else source.color_range
            cc.color_primaries = source.color_primaries
            cc.color_trc = source.color_trc
            # YUV made from an RGB source is not "RGB" (matrix 0): decoders that honour the tag
            # (HEVC, VP9) would read the Y, U, V planes as G, B, R
            cc.colorspace = UNSPECIFIED_MATRIX if source.colorspace == RGB_MATRIX and self.pix_fmt.startswith("yuv") \
                else source.colorspace
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
        if self.pix_fmt.startswith("yuv"):
            # Convert with the matrix and range the stream is tagged with: decoders (and our reader)
            # use the tags, while the encoder's implicit conversion is always BT.601, limited range
            # (an RGB source, tagged full range, came out 16-235 read as 0-255: +12 levels at 30).
            kw: dict[str, int] = {}
            if self.source.colorspace in YUV_MATRICES:
                kw["dst_colorspace"] = self.source.colorspace
            if self._v.codec_context.color_range == FULL_RANGE:
                kw["dst_color_range"] = FULL_RANGE
            if kw:  # one swscale context for every frame (``frame.reformat`` builds one per frame)
                frame = self._to_yuv.reformat(frame, format=self.pix_fmt, **kw)
        self.write_frame(frame)

    def write_frame(self, frame: av.VideoFrame) -> None:
        """Encode a ready-made frame (e.g. corrected YUV planes); the encoder converts its format if needed."""
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
            try:
                for packet in self._v.encode():
                    self._out.mux(packet)
                self._mux_audio_until(None)
            finally:
                self._out.close()
                if self._audio_in is not None:
                    self._audio_in.close()
            if self._gif is not None:
                self._palette_gif(self._gif)
        finally:
            if self._gif is not None:
                _remove(self.path)

    def _palette_gif(self, target: str) -> None:
        """The lossless frames as ``target``: one palette for the clip (``palettegen``), ordered dithering."""
        from flickerd.media.ffmpeg import GIF_PALETTEGEN, GIF_PALETTEUSE, media_arg, run_ffmpeg

        palette = self.path + ".palette.png"
        try:
            run_ffmpeg(["-i", media_arg(self.path), "-vf", GIF_PALETTEGEN, "-frames:v", "1", "-update", "1",
                        media_arg(palette)])
            run_ffmpeg(["-i", media_arg(self.path), "-i", media_arg(palette), "-lavfi", GIF_PALETTEUSE, "-loop", "0",
                        media_arg(target)])
        finally:
            _remove(palette)

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
                if self._gif is not None:
                    _remove(self.path)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass

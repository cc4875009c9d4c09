"""How a route encodes what it writes: the final file, or a lossless intermediate for the next step.

Every route calls these so a chain behaves the same whoever wrote the step:

* final output: codec by extension (x264 for mp4/mov/mkv, VP9 for webm), ``crf`` and
  ``preset``, pixel format following the input's bit depth, colour metadata from the probe;
* intermediate (``params["_intermediate"]``, the chain passes a ``.mkv``): lossless FFV1 with
  the input's subsampling and depth, so nothing is lost between steps beyond what a step's own
  RGB↔YUV conversion costs (and nothing at all for steps that work on the YUV planes).

Outputs are staged under a dot-prefixed temp name next to ``out`` and renamed into place only
on success, so a failed step never leaves a partial file at ``out``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from flickerd.errors import CorruptInput
from flickerd.media.probe import MediaInfo
from flickerd.media.writer import EncodeSettings, VideoWriter, hevc_tag, output_codec, reproducible_args

DEFAULT_CRF = 16
DEFAULT_PRESET = "slow"
INTERMEDIATE_CODEC = "ffv1"
# libvpx's CRF scale is 0–63 and sits higher than x264's for the same look.
VP9_CRF_OFFSET = 15

# Containers that accept a copied audio stream of these codecs; anything else is re-encoded.
AUDIO_COPY_OK: dict[str, frozenset[str]] = {
    ".mp4": frozenset({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"}),
    ".m4v": frozenset({"aac", "mp3", "alac", "ac3", "eac3"}),
    ".mov": frozenset({"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le", "pcm_s16be"}),
    ".webm": frozenset({"opus", "vorbis"}),
}
AUDIO_REENCODE = {".webm": "libopus"}  # default re-encode: aac

# AVColor* numbers → the names ffmpeg's CLI prints and accepts (others are passed as numbers).
PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film", 9: "bt2020",
             10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "ebu3213"}
TRANSFERS = {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear",
             11: "iec61966-2-4", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084",
             18: "arib-std-b67"}
MATRICES = {0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco",
            9: "bt2020nc", 10: "bt2020c"}
RANGES = {1: "tv", 2: "pc"}
UNSPECIFIED = 2  # AVCOL_PRI/TRC/SPC_UNSPECIFIED
MISSING_FRAMES_TOLERANCE = 0.02  # listed frame counts can be a little off (edit lists); more is damage


def is_intermediate(params: Mapping[str, Any]) -> bool:
    """True when the chain asked this step for a lossless intermediate."""
    return bool(params.get("_intermediate"))


@dataclass(frozen=True, slots=True)
class Encoding:
    """What an output is encoded with; ``describe()`` goes into the step's report."""

    codec: str
    pix_fmt: str
    crf: int | None  # None for lossless codecs
    preset: str | None
    intermediate: bool

    def describe(self) -> dict[str, Any]:
        return {"codec": self.codec, "pix_fmt": self.pix_fmt, "crf": self.crf, "preset": self.preset,
                "intermediate": self.intermediate}


def final_codec(params: Mapping[str, Any]) -> str | None:
    """The output codec a folder asked for (``output_codec``), passed down by the chain as ``_codec``."""
    return params.get("_codec") or None


def choose_encoding(
    out: str, source: MediaInfo, *, intermediate: bool, crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET,
    pix_fmt: str | None = None, codec: str | None = None,
) -> Encoding:
    """The codec and pixel format for ``out``, following the input's bit depth and subsampling.

    ``codec`` (a name or alias from ``media.writer.CODEC_ALIASES``) overrides the extension's codec.
    """
    deep = source.bit_depth > 8
    if intermediate:
        # Same subsampling and depth as the input: YUV planes pass through untouched, and every
        # step converts to RGB along the same swscale path as the first one did.
        _, chosen = output_codec(out, source, EncodeSettings(codec=INTERMEDIATE_CODEC, pix_fmt=pix_fmt))
        return Encoding(INTERMEDIATE_CODEC, chosen, None, None, True)
    codec, chosen = output_codec(out, source, EncodeSettings(crf=crf, preset=preset, pix_fmt=pix_fmt, codec=codec))
    if pix_fmt is None and source.codec == INTERMEDIATE_CODEC and chosen.startswith("yuv444"):
        # Our own 4:4:4 intermediate says nothing about the original's subsampling: deliver 4:2:0.
        chosen = "yuv420p10le" if deep else "yuv420p"
    return Encoding(codec, chosen, crf, preset, False)


def open_writer(
    out: str, source: MediaInfo, encoding: Encoding, *, fps: Fraction | None = None,
    size: tuple[int, int] | None = None,
) -> VideoWriter:
    """A PyAV ``VideoWriter`` for ``out`` (normally the staged temp path) with ``encoding``."""
    settings = EncodeSettings(crf=encoding.crf if encoding.crf is not None else DEFAULT_CRF,
                              preset=encoding.preset or DEFAULT_PRESET, pix_fmt=encoding.pix_fmt,
                              codec=encoding.codec)
    return VideoWriter(out, source, settings=settings, fps=fps, size=size)


def colour_args(source: MediaInfo) -> list[str]:
    """``-color_primaries …`` arguments that carry the probed colour metadata to an ffmpeg output."""
    args: list[str] = []
    if source.color_primaries not in (0, UNSPECIFIED):
        args += ["-color_primaries", PRIMARIES.get(source.color_primaries, str(source.color_primaries))]
    if source.color_trc not in (0, UNSPECIFIED):
        args += ["-color_trc", TRANSFERS.get(source.color_trc, str(source.color_trc))]
    if source.colorspace != UNSPECIFIED:
        args += ["-colorspace", MATRICES.get(source.colorspace, str(source.colorspace))]
    if source.color_range in RANGES:
        args += ["-color_range", RANGES[source.color_range]]
    return args


def ffmpeg_codec_args(out: str, source: MediaInfo, encoding: Encoding) -> list[str]:
    """Video and audio codec arguments for an ffmpeg command writing ``out``."""
    args = ["-c:v", encoding.codec, "-pix_fmt", encoding.pix_fmt]
    if encoding.codec in ("libx264", "libx265"):
        args += ["-crf", str(encoding.crf), "-preset", str(encoding.preset)]
        if encoding.codec == "libx264":  # the ffmpeg binary's x264 has the same AVX-512 code
            args += reproducible_args()
    elif encoding.codec == "libvpx-vp9":
        args += ["-crf", str((encoding.crf or DEFAULT_CRF) + VP9_CRF_OFFSET), "-b:v", "0", "-row-mt", "1"]
    elif encoding.codec == "ffv1":
        args += ["-level", "3", "-g", "1"]
    elif encoding.codec == "prores_ks":
        args += ["-profile:v", "4" if "444" in encoding.pix_fmt else "2"]
    elif encoding.codec in ("h264_nvenc", "hevc_nvenc"):
        args += ["-cq", str((encoding.crf or DEFAULT_CRF) + 3), "-preset", "p5"]
    ext = os.path.splitext(out)[1].lower()
    tag = hevc_tag(encoding.codec, ext)
    if tag:
        args += ["-tag:v", tag]
    args += colour_args(source)
    if source.has_audio:
        ok = AUDIO_COPY_OK.get(ext)
        if ok is None or (source.audio_codec or "") in ok:
            args += ["-c:a", "copy"]
        else:
            args += ["-c:a", AUDIO_REENCODE.get(ext, "aac")]
    return args


def staged_path(out: str) -> str:
    """The dot-prefixed temp name ``out`` is written under (same folder and extension)."""
    folder, name = os.path.split(os.path.abspath(out))
    stem, ext = os.path.splitext(name)
    return os.path.join(folder, f".{stem}.tmp{ext}")


@contextlib.contextmanager
def staged_output(out: str) -> Iterator[str]:
    """Yield a temp path to write; on success rename it to ``out``, on any error delete it."""
    tmp = staged_path(out)
    try:
        yield tmp
        if not os.path.exists(tmp):
            raise FileNotFoundError(f"{tmp}: the step finished without writing its output.")
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_all_decoded(src: str, written: int, info: MediaInfo) -> None:
    """Refuse a result that stopped short of the frames the container lists: the input is truncated.

    Raised inside ``staged_output`` so nothing is left under the output name.
    """
    if info.frame_count_exact and written < info.frame_count * (1 - MISSING_FRAMES_TOLERANCE) - 1:
        raise CorruptInput(
            f"{src}: only {written} of the {info.frame_count} frames the container lists could be "
            "decoded; the file looks truncated, so nothing was written."
        )

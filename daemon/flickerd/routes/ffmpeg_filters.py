"""The ``ffmpeg`` route: the seed's ``deflicker`` + ``deband`` filters, then an x264 (or VP9) encode.

``deflicker`` applies one global gain on luma per frame (from a window of ``size`` frames);
``deband`` smooths banding from heavy quantisation. Neither touches chroma casts or local
flicker: that is ``normalize``'s job. The route keeps audio, frame rate, frame count, colour
metadata and the container (by the output's extension), and records the exact command.
"""

from __future__ import annotations

import functools
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from flickerd.errors import ConfigError, CorruptInput, RouteError
from flickerd.media.ffmpeg import GIF_PALETTEGEN, GIF_PALETTEUSE, ffmpeg_exe, media_arg, run_ffmpeg
from flickerd.media.probe import MediaInfo, probe
from flickerd.media.reader import iter_frames
from flickerd.routes.base import ProgressFn, StepResult, no_progress
from flickerd.routes.params_table import check_choice, kinds_of, unknown_parameter
from flickerd.routes.encode import (
    DEFAULT_CRF,
    DEFAULT_PRESET,
    choose_encoding,
    final_codec,
    ffmpeg_codec_args,
    is_intermediate,
    staged_output,
)

DEFLICKER_MODES = ("am", "gm", "hm", "qm", "cm", "pm", "median")
DEFLICKER_SIZE = 5
DEFLICKER_SIZE_RANGE = (2, 129)
DEBAND_THRESHOLD = 0.02
DEBAND_RANGE = 16
# "auto" size: (luma flicker score upper bound, window) — a longer window for heavier flicker.
# The score is mean |Y_t − (Y_{t−1} + Y_{t+1})/2| of the per-frame luma mean, 0–255 scale.
AUTO_SIZES: tuple[tuple[float, int], ...] = ((0.5, 3), (1.5, 5), (3.0, 9), (6.0, 15), (float("inf"), 25))
AUTO_ANALYSIS_SIDE = 64
AUTO_MAX_FRAMES = 600


@dataclass(frozen=True, slots=True)
class FfmpegParams:
    """Parameters of the ``ffmpeg`` route (TOML keys as named; ``1thr`` … ``3thr`` as in ffmpeg).

    deflicker: run ffmpeg's ``deflicker`` (global luma gain per frame).
    size: its window in frames (2–129), or ``"auto"`` to pick from the measured luma flicker.
    mode: its averaging mode (am, gm, hm, qm, cm, pm, median).
    deband: run ffmpeg's ``deband``; ``thr1``..``thr3`` (keys ``1thr``..``3thr``) its per-plane
        thresholds, ``range`` its pixel range, ``blur`` its blur switch.
    crf, preset, pix_fmt: the encode (pix_fmt None follows the input's bit depth).
    ffmpeg_path: a configured ffmpeg binary; None uses the one imageio-ffmpeg ships.
    timeout_s: kill ffmpeg after this long (None: no limit).
    """

    deflicker: bool = True
    size: int | str = DEFLICKER_SIZE
    mode: str = "am"
    deband: bool = True
    thr1: float = DEBAND_THRESHOLD
    thr2: float = DEBAND_THRESHOLD
    thr3: float = DEBAND_THRESHOLD
    range: int = DEBAND_RANGE
    blur: bool = False
    crf: int = DEFAULT_CRF
    preset: str = DEFAULT_PRESET
    pix_fmt: str | None = None
    ffmpeg_path: str | None = None
    timeout_s: float | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], path: str = "params") -> FfmpegParams:
        """Check keys and types; private keys (``_intermediate``) are the chain's and are skipped."""
        keys = {_KEY_ALIASES.get(f.name, f.name): f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key.startswith("_"):
                continue
            if key not in keys:
                raise unknown_parameter(path, key, "ffmpeg", keys)
            name = keys[key]
            values[name] = _check(f"{path}.{key}", value, _KINDS[name])
        p = cls(**values)
        if isinstance(p.size, str) and p.size != "auto":
            raise ConfigError(f"{path}.size: expected an integer or \"auto\", got {p.size!r}.")
        if isinstance(p.size, int) and not DEFLICKER_SIZE_RANGE[0] <= p.size <= DEFLICKER_SIZE_RANGE[1]:
            raise ConfigError(f"{path}.size: the deflicker window must be 2–129 frames, got {p.size}.")
        check_choice(path, "mode", p.mode, DEFLICKER_MODES)
        for name in ("thr1", "thr2", "thr3"):
            if not 0.00003 <= getattr(p, name) <= 0.5:
                raise ConfigError(f"{path}.{_KEY_ALIASES[name]}: deband thresholds lie in 0.00003–0.5.")
        if not 0 <= p.crf <= 51:
            raise ConfigError(f"{path}.crf: expected 0–51, got {p.crf}.")
        return p

    def to_dict(self) -> dict[str, Any]:
        return {_KEY_ALIASES.get(k, k): v for k, v in asdict(self).items()}


_KEY_ALIASES = {"thr1": "1thr", "thr2": "2thr", "thr3": "3thr"}
_KINDS = kinds_of(FfmpegParams)


def _check(path: str, value: Any, kinds: tuple[type, ...]) -> Any:
    # bool is an int in Python: only accept it where a bool is expected
    if isinstance(value, bool) and bool not in kinds:
        raise ConfigError(f"{path}: expected {' or '.join(k.__name__ for k in kinds)}, got {value!r}.")
    if not isinstance(value, kinds):
        raise ConfigError(f"{path}: expected {' or '.join(k.__name__ for k in kinds)}, got {value!r}.")
    return float(value) if float in kinds and isinstance(value, int) and int not in kinds else value


def filter_chain(p: FfmpegParams, size: int) -> str:
    """The ``-vf`` graph, e.g. ``deflicker=size=5:mode=am,deband=1thr=0.02:…:blur=false``."""
    parts = []
    if p.deflicker:
        parts.append(f"deflicker=size={size}:mode={p.mode}")
    if p.deband:
        parts.append(
            f"deband=1thr={p.thr1:g}:2thr={p.thr2:g}:3thr={p.thr3:g}:range={p.range}:blur={str(p.blur).lower()}"
        )
    return ",".join(parts)


def luma_flicker_score(means: np.ndarray) -> float:
    """Mean |Y_t − (Y_{t−1}+Y_{t+1})/2| of per-frame luma means: ramps and fades score 0."""
    if len(means) < 3:
        return 0.0
    return float(np.mean(np.abs(means[1:-1] - 0.5 * (means[:-2] + means[2:]))))


def auto_size(score: float) -> int:
    """The deflicker window for a measured luma flicker score (0–255 scale)."""
    return next(size for bound, size in AUTO_SIZES if score <= bound)


def measure_luma_flicker(src: str) -> float:
    """Decode luma at thumbnail size and score its global flicker (a cheap pass before ffmpeg)."""
    means = [float(f.image.mean()) for f in iter_frames(src, gray=True, max_side=AUTO_ANALYSIS_SIDE,
                                                          max_frames=AUTO_MAX_FRAMES)]
    return luma_flicker_score(np.asarray(means))


@functools.lru_cache(maxsize=8)
def ffmpeg_version(exe: str) -> str:
    """``ffmpeg 9.0.2``-style backend name (asked once per binary)."""
    try:
        out = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True, timeout=10).stdout
        words = out.split()
        return f"ffmpeg {words[2]}" if len(words) > 2 and words[0] == "ffmpeg" else "ffmpeg"
    except (OSError, subprocess.SubprocessError):
        return "ffmpeg"


GIF_PALETTE = f"split[a][b];[a]{GIF_PALETTEGEN}[p];[b][p]{GIF_PALETTEUSE}"


def build_args(src: str, tmp: str, out: str, info: MediaInfo, p: FfmpegParams, size: int, intermediate: bool,
               codec: str | None = None) -> list[str]:
    """ffmpeg arguments (after the binary and its global options) for one run of the route."""
    encoding = choose_encoding(out, info, intermediate=intermediate, crf=p.crf, preset=p.preset, pix_fmt=p.pix_fmt,
                               codec=codec)
    graph = filter_chain(p, size)
    codec_args = ffmpeg_codec_args(out, info, encoding)
    if encoding.codec == "gif":
        # one palette for the clip, as media.writer makes it (media.ffmpeg.GIF_PALETTEGEN); in one
        # graph, palettegen holds the (size-capped) GIF's frames until the palette is made
        graph = (graph + "," if graph else "") + GIF_PALETTE
        codec_args = ["-c:v", "gif", *codec_args[4:]]  # no -pix_fmt: paletteuse gives the frames their palette
    return [
        "-noautorotate",  # frames stay in coded orientation, as every other route keeps them; the matrix is carried
        "-i", media_arg(src),
        "-map", "0:v:0", "-map", "0:a?",
        *(["-vf", graph] if graph else []),
        "-fps_mode", "passthrough",
        *codec_args,
        "-map_metadata", "0",
        media_arg(tmp),
    ]


class FfmpegRoute:
    """Deflicker + deband through the ffmpeg binary (see ``FfmpegParams``)."""

    name = "ffmpeg"
    version = "1"

    def fix(self, src: str, out: str, params: Mapping[str, Any], progress: ProgressFn = no_progress) -> StepResult:
        start = time.monotonic()
        p = FfmpegParams.from_mapping(params)
        info = probe(src)  # InputError subclasses say what is wrong with the file
        exe = ffmpeg_exe(p.ffmpeg_path)
        notes: list[str] = []
        extra: dict[str, Any] = {}
        size = p.size
        if size == "auto":
            score = measure_luma_flicker(src) if p.deflicker else 0.0
            size = auto_size(score)
            extra["luma_flicker"] = round(score, 3)
            notes.append(f"deflicker window {size} chosen for a luma flicker score of {score:.2f}.")
        intermediate = is_intermediate(params)
        with staged_output(out) as tmp:
            args = build_args(src, tmp, out, info, p, int(size), intermediate, final_codec(params))
            run = run_ffmpeg(args, exe=exe, total_frames=info.frame_count, progress=progress, timeout_s=p.timeout_s)
            _check_frame_count(src, tmp, info)
        progress(1.0)
        effective = p.to_dict() | {"size": size}
        extra["encoding"] = choose_encoding(out, info, intermediate=intermediate, crf=p.crf, preset=p.preset,
                                            pix_fmt=p.pix_fmt, codec=final_codec(params)).describe()
        extra["ffmpeg_seconds"] = round(run.seconds, 3)
        return StepResult(
            route=self.name, version=self.version, backend=ffmpeg_version(exe), params=effective,
            commands=(tuple(run.command),), seconds=time.monotonic() - start, output=out,
            notes=tuple(notes), extra=extra,
        )


def _check_frame_count(src: str, written: str, info: MediaInfo) -> None:
    """Refuse an output whose frame count differs from an exactly known input count."""
    got = probe(written)
    if not (info.frame_count_exact and got.frame_count_exact) or got.frame_count == info.frame_count:
        return
    if got.frame_count < info.frame_count:
        # the filters pass every frame through, so missing frames mean the input stopped decoding
        raise CorruptInput(
            f"{src}: only {got.frame_count} of the {info.frame_count} frames the container lists could be "
            "decoded; the file looks truncated, so nothing was written."
        )
    raise RouteError(
            f"{src}: ffmpeg wrote {got.frame_count} frames instead of {info.frame_count}; "
            "the output was discarded (check the filters and the input's timestamps)."
        )

"""Resource limits for inputs, and the pure check that runs on a probe before any decoding.

A hot folder is an open door: a file that declares 30,000 × 30,000 pixels or a million
frames in a few kilobytes (a decompression bomb) must be quarantined from its probe alone,
never decoded. ``check_limits`` looks only at what the container declares.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flickerd.config_reader import Section

if TYPE_CHECKING:  # the probe pulls in PyAV; the config loader must not
    from flickerd.media.probe import MediaInfo

DEFAULT_MAX_PIXELS = 8192 * 4320  # 8K UHD: generous for renders, far below a bomb's declared size
DEFAULT_MAX_FRAMES = 216_000  # one hour at 60 fps
DEFAULT_MAX_DURATION_S = 3600.0
DEFAULT_MAX_FILE_BYTES = 16 * 1024**3
DEFAULT_JOB_TIMEOUT_S = 21600.0  # 6 h: CPU RIFE runs at about 0.5 frames/s on a small box
# Decoded bytes (8-bit 4:2:0) per byte of file. A perfectly static 1080p clip reaches about
# 36,000 with x264 and 61,000 with VP9 (measured); real renders sit in the hundreds.
DEFAULT_MAX_EXPANSION = 1_000_000.0
# Below this much decoded data the expansion ratio is not checked: small clips cannot hurt.
BOMB_MIN_DECODED_BYTES = 1024**3

_BYTES_PER_PIXEL = 1.5  # 8-bit 4:2:0, the cheapest layout a decoder can produce


@dataclass(frozen=True, slots=True)
class Limits:
    """What an input may declare before it is refused; 0 turns a limit off."""

    max_pixels: int = DEFAULT_MAX_PIXELS  # width × height of one frame
    max_frames: int = DEFAULT_MAX_FRAMES
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    job_timeout_s: float = DEFAULT_JOB_TIMEOUT_S  # wall time of one job; past it the job is stopped
    max_expansion: float = DEFAULT_MAX_EXPANSION  # decoded bytes per file byte

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], path: str = "limits") -> Limits:
        """Build from a ``[limits]`` table; raises ``ConfigError`` naming the key path."""
        section = Section(data, path)
        limits = cls.read(section)
        section.raise_if_failed(None)
        return limits

    @classmethod
    def read(cls, section: Section) -> Limits:
        """Build from a ``Section``, collecting errors in it (used by the config loader)."""
        limits = cls(
            max_pixels=section.get_int("max_pixels", DEFAULT_MAX_PIXELS, min_value=0),
            max_frames=section.get_int("max_frames", DEFAULT_MAX_FRAMES, min_value=0),
            max_duration_s=section.get_float("max_duration_s", DEFAULT_MAX_DURATION_S, min_value=0.0),
            max_file_bytes=section.get_int("max_file_bytes", DEFAULT_MAX_FILE_BYTES, min_value=0),
            job_timeout_s=section.get_float("job_timeout_s", DEFAULT_JOB_TIMEOUT_S, min_value=0.0),
            max_expansion=section.get_float("max_expansion", DEFAULT_MAX_EXPANSION, min_value=0.0),
        )
        section.finish()
        return limits


def check_limits(info: MediaInfo, limits: Limits) -> str | None:
    """Why ``info`` must not be processed under ``limits``, as one sentence; ``None`` if it may.

    Pure: looks only at the probe's declared values, so a bomb is caught before decoding.
    """
    size = info.size_bytes
    if limits.max_file_bytes and size > limits.max_file_bytes:
        return (
            f"The file is {_bytes(size)}, more than the limit of {_bytes(limits.max_file_bytes)} "
            "(limits.max_file_bytes)."
        )
    pixels = info.width * info.height
    if limits.max_pixels and pixels > limits.max_pixels:
        return (
            f"The video declares {info.width}×{info.height} pixels per frame, more than the limit of "
            f"{limits.max_pixels:,} pixels (limits.max_pixels)."
        )
    frames = info.frame_count
    if limits.max_frames and frames > limits.max_frames:
        return (
            f"The video declares {frames:,} frames, more than the limit of {limits.max_frames:,} (limits.max_frames)."
        )
    duration = info.duration_s
    if not math.isfinite(duration) or (limits.max_duration_s and duration > limits.max_duration_s):
        return (
            f"The video declares a duration of {duration:g} s, more than the limit of "
            f"{limits.max_duration_s:g} s (limits.max_duration_s)."
        )
    decoded = pixels * max(frames, 1) * _BYTES_PER_PIXEL
    if limits.max_expansion and decoded >= BOMB_MIN_DECODED_BYTES and decoded > limits.max_expansion * max(size, 1):
        return (
            f"The file declares {info.width}×{info.height} × {frames:,} frames ({_bytes(int(decoded))} decoded) "
            f"in only {_bytes(size)}: a ratio of {decoded / max(size, 1):,.0f} to 1, above the limit of "
            f"{limits.max_expansion:,.0f} (limits.max_expansion); this looks like a decompression bomb."
        )
    return None


def _bytes(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n:,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")

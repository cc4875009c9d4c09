"""Regeneration's own acceptance: less flicker, and the same picture at low resolution.

A regenerated clip is new artwork, so fidelity to the input at full resolution (what the CPU routes
are held to) does not apply. Two questions remain: did the flicker go down, and is it still the
same shot? Flicker is the mean absolute second temporal difference of luma at a small size (a steady
pan or fade has none; a flicker has a lot). Structure is the mean SSIM of heavily downscaled luma
(``structure_side`` pixels on the long side): layout and large shapes must survive; texture may not.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from flickerd.errors import ConfigError

DEFAULT_MIN_FLICKER_REDUCTION = 0.25  # the after score must be at most 75 % of the before score
DEFAULT_MIN_STRUCTURE = 0.5  # mean SSIM in [0, 1] of the downscaled frames
DEFAULT_STRUCTURE_SIDE = 32  # px, long side of the analysed frames
DEFAULT_FLICKER_FLOOR = 0.5  # luma levels (0-255): below this a clip has no flicker to reduce


@dataclass(frozen=True, slots=True)
class RegenAcceptance:
    min_flicker_reduction: float = DEFAULT_MIN_FLICKER_REDUCTION
    min_structure: float = DEFAULT_MIN_STRUCTURE
    structure_side: int = DEFAULT_STRUCTURE_SIDE
    flicker_floor: float = DEFAULT_FLICKER_FLOOR

    @classmethod
    def from_mapping(cls, data: Mapping, path: str) -> "RegenAcceptance":
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: expected a table, got {type(data).__name__}.")
        unknown = sorted(set(data) - set(cls.__slots__))
        if unknown:
            raise ConfigError(f"{path}.{unknown[0]}: unknown key; allowed: {', '.join(cls.__slots__)}.")
        values: dict = {}
        for key in ("min_flicker_reduction", "min_structure", "flicker_floor"):
            if key in data:
                v = data[key]
                if type(v) not in (int, float) or not math.isfinite(v):
                    raise ConfigError(f"{path}.{key}: expected a number, got {v!r}.")
                values[key] = float(v)
        for key in ("min_flicker_reduction", "min_structure"):
            if key in values and not 0.0 <= values[key] <= 1.0:
                raise ConfigError(f"{path}.{key}: expected a number from 0 to 1, got {values[key]}.")
        if "structure_side" in data:
            v = data["structure_side"]
            if type(v) is not int or not 8 <= v <= 512:
                raise ConfigError(f"{path}.structure_side: expected an integer from 8 to 512, got {v!r}.")
            values["structure_side"] = v
        return cls(**values)


@dataclass(frozen=True, slots=True)
class RegenScores:
    flicker_before: float  # luma levels, 0-255
    flicker_after: float
    structure: float  # mean SSIM, [0, 1]
    frames: int

    def to_dict(self) -> dict:
        return {k: round(getattr(self, k), 4) if isinstance(getattr(self, k), float) else getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class Judgement:
    accepted: bool
    reasons: tuple[str, ...]  # why not, one sentence each; empty when accepted
    scores: RegenScores


def flicker_score(frames: Iterable[np.ndarray]) -> float:
    """Mean |Y_t - (Y_{t-1} + Y_{t+1}) / 2| over pixels and frames (0 for fewer than 3 frames)."""
    prev2 = prev1 = None
    total, n = 0.0, 0
    for f in frames:
        f = f.astype(np.float32)
        if prev2 is not None:
            total += float(np.mean(np.abs(prev1 - (prev2 + f) * 0.5)))
            n += 1
        prev2, prev1 = prev1, f
    return total / n if n else 0.0


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two gray images (uint8 range), Gaussian window sigma 1.5."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda x: cv2.GaussianBlur(x, (7, 7), 1.5)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(np.mean(s))


def _gray(path: str | os.PathLike, side: int) -> Iterator[np.ndarray]:
    from flickerd.media.reader import iter_frames

    for frame in iter_frames(path, max_side=side, gray=True):
        yield frame.image


def measure(src: str | os.PathLike, out: str | os.PathLike, side: int = DEFAULT_STRUCTURE_SIDE) -> RegenScores:
    """Stream both clips once at ``side`` px and score them."""
    before: list[np.ndarray] = []  # a 3-frame window per clip is all the flicker score needs
    after: list[np.ndarray] = []
    fb = fa = 0.0
    nf = 0
    structure, frames = 0.0, 0
    for a, b in zip(_gray(src, side), _gray(out, side)):
        if b.shape != a.shape:
            b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
        structure += ssim(a, b)
        frames += 1
        before = (before + [a])[-3:]
        after = (after + [b])[-3:]
        if len(before) == 3:
            fb += flicker_score(before)
            fa += flicker_score(after)
            nf += 1
    return RegenScores(fb / nf if nf else 0.0, fa / nf if nf else 0.0, structure / frames if frames else 0.0, frames)


def judge(scores: RegenScores, acceptance: RegenAcceptance = RegenAcceptance()) -> Judgement:
    """Accept when flicker fell by the required fraction and the low-resolution structure held."""
    reasons: list[str] = []
    if scores.flicker_before > acceptance.flicker_floor:
        limit = scores.flicker_before * (1.0 - acceptance.min_flicker_reduction)
        if scores.flicker_after > limit:
            reasons.append(
                f"flicker went from {scores.flicker_before:.2f} to {scores.flicker_after:.2f}; "
                f"at most {limit:.2f} is required ({acceptance.min_flicker_reduction:.0%} less)."
            )
    elif scores.flicker_after > acceptance.flicker_floor + scores.flicker_before:
        reasons.append(f"flicker rose from {scores.flicker_before:.2f} to {scores.flicker_after:.2f} on a clip that had none.")
    if scores.structure < acceptance.min_structure:
        reasons.append(
            f"the regenerated clip no longer matches the shot (structure {scores.structure:.2f}, "
            f"at least {acceptance.min_structure:.2f} required at {acceptance.structure_side} px)."
        )
    return Judgement(not reasons, tuple(reasons), scores)

"""Long-render damage made from one continuous real render: window drift and seams (issue 23).

Video models render in windows (Wan 2.x: 81 frames) and join them; users see tone and colour
step at every join and accumulate over the clip, saturation creep window after window, and a
short brightness flash at a join (tiled decoding). ``damage`` applies exactly that inside one
continuous render — no concatenation, so a join is never a cut — and returns the true seam
positions. The untouched render is the truth.

Per window j (the first window, j = 0, is untouched), frame by frame in RGB:
saturation × (1 + SATURATION_STEP)^j about the pixel's luma, then an offset that accumulates a
step of 3–8 grey levels per window (exposure: same on R, G, B, one sign per clip; plus a colour
part of up to 3 grey levels per channel that sums to zero, one direction per clip); the first 1–3 frames of every
window after the first get a brightness flash of 6–12 grey levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SHORT_WINDOW = 40
LONG_WINDOW = 81  # Wan 2.x
STEP_RANGE = (3.0, 8.0)  # grey levels of exposure offset added per window
COLOUR_STEP = 3.0  # at most this much per channel on top, grey levels per window
SATURATION_STEP = 0.05  # +5% per window
FLASH_FRAMES = (1, 3)
FLASH_RANGE = (6.0, 12.0)
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def window_for(frames: int) -> int:
    """81 where the render holds at least two full Wan windows, 40 where it holds two of 40, else
    half the render (too short for a 40-frame window: one join in the middle)."""
    if frames >= 2 * LONG_WINDOW:
        return LONG_WINDOW
    return SHORT_WINDOW if frames >= 2 * SHORT_WINDOW else max(2, frames // 2)


@dataclass(frozen=True, slots=True)
class Damage:
    """What ``damage`` applied: seams (first frame of each window after the first), per window."""

    window: int
    seams: tuple[int, ...]
    offsets: tuple[tuple[float, float, float], ...]  # accumulated RGB offset of window j
    saturation: tuple[float, ...]  # accumulated saturation factor of window j
    flashes: tuple[tuple[int, float], ...]  # (frames, grey levels) at each seam


def plan(frames: int, seed: int = 0, window: int | None = None) -> Damage:
    """The damage for a render of ``frames`` frames (deterministic in ``seed``)."""
    w = window or window_for(frames)
    rng = np.random.default_rng([seed, 23])
    sign = 1.0 if rng.random() < 0.5 else -1.0
    direction = rng.uniform(-1.0, 1.0, 3)
    direction -= direction.mean()  # a tint: the mean of R, G, B is the exposure step alone
    seams = tuple(range(w, frames - 7, w))  # each with at least 8 frames after it
    offsets, sats, flashes = [(0.0, 0.0, 0.0)], [1.0], []
    acc = np.zeros(3)
    for j in range(1, len(seams) + 1):
        acc = acc + sign * rng.uniform(*STEP_RANGE) + COLOUR_STEP * direction * rng.uniform(0.3, 1.0)
        offsets.append(tuple(float(v) for v in acc))
        sats.append((1.0 + SATURATION_STEP) ** j)
        flashes.append((int(rng.integers(FLASH_FRAMES[0], FLASH_FRAMES[1] + 1)), float(rng.uniform(*FLASH_RANGE))))
    return Damage(w, seams, tuple(offsets), tuple(sats), tuple(flashes))


def apply_frame(img: np.ndarray, t: int, d: Damage) -> np.ndarray:
    """Frame ``t`` (RGB uint8) with the damage of its window."""
    j = sum(1 for s in d.seams if s <= t)
    if j == 0:
        return img
    f = img.astype(np.float32)
    y = (f @ LUMA)[..., None]
    f = y + d.saturation[j] * (f - y) + np.float32(d.offsets[j])
    n, level = d.flashes[j - 1]
    if t - d.seams[j - 1] < n:
        f = f + level
    return np.clip(f + 0.5, 0, 255).astype(np.uint8)


def damage(render: Sequence[np.ndarray], seed: int = 0, window: int | None = None) -> tuple[list[np.ndarray], Damage]:
    """The render's frames with window drift, saturation creep and seam flashes; and what was applied."""
    d = plan(len(render), seed, window)
    return [apply_frame(img, t, d) for t, img in enumerate(render)], d

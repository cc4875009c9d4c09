"""Global luma and chroma flicker: second differences, so fades and exposure ramps score ~0.

Two forms. ``second_difference`` is the plain one on per-frame means,
|Y_t − (Y_{t−1}+Y_{t+1})/2|. ``offset_flicker`` is its motion-compensated twin: with d_t the
robust offset between frame t−1 and frame t warped onto it, (d_t − d_{t+1})/2 equals the
second difference of the frames' levels without the change that motion brings.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from flickerd.diagnose.robust import integer_median

MEDIAN_SAMPLES = 20_000
# BT.601 RGB → (Y, Cb, Cr) for differences (offsets cancel)
YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)


def second_difference(values: Sequence[float], exclude: set[int] = frozenset()) -> np.ndarray:
    """|v_t − (v_{t−1}+v_{t+1})/2| per frame t (NaN at the ends and where a triple spans a cut).

    ``exclude`` holds frame indices that start a new shot.
    """
    v = np.asarray(values, np.float64)
    out = np.full(len(v), np.nan)
    for t in range(1, len(v) - 1):
        if t in exclude or (t + 1) in exclude:
            continue
        out[t] = abs(v[t] - (v[t - 1] + v[t + 1]) / 2)
    return out


def pair_offsets(residual: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Robust (Y, Cb, Cr) offset of frame t−1 minus warped frame t over reliable pixels."""
    step = max(1, int(np.sqrt(mask.size / MEDIAN_SAMPLES)))
    res, m = residual[::step, ::step], mask[::step, ::step]  # a regular subsample's median is as good
    if not m.any():
        m = np.ones_like(m)
    # per-channel medians of contiguous planes: far faster than a median along axis 0 of an Nx3 array;
    # the residual of uint8 frames holds whole numbers, so the medians come from counts
    channels = cv2.split(np.ascontiguousarray(res))
    return np.array([integer_median(c[m]) for c in channels], np.float32) @ YCC.T


def offset_flicker(offsets: Sequence[np.ndarray | None]) -> np.ndarray:
    """Per-frame motion-compensated second difference (T x 3: Y, Cb, Cr), NaN where not measured.

    ``offsets[t]`` is the offset of the pair (t−1, t), None where that pair was not analysed.
    """
    n = len(offsets)
    out = np.full((n, 3), np.nan)
    for t in range(1, n - 1):
        a, b = offsets[t], offsets[t + 1]
        if a is not None and b is not None:
            out[t] = np.abs(np.asarray(a) - np.asarray(b)) / 2
    return out

"""Scene cuts: a jump in the colour histogram that the flow cannot explain either.

A cut is never flicker: pairs across a cut are left out of every temporal measure.
"""

from __future__ import annotations

import cv2
import numpy as np

BINS = 8
FLOW_CUT = 0.85  # a pair whose flow fails over this fraction of the frame is a cut, whatever the colours
THUMB = 64


def histogram(rgb: np.ndarray) -> np.ndarray:
    """Normalised 8x8x8 RGB histogram of a thumbnail."""
    h, w = rgb.shape[:2]
    s = THUMB / max(h, w)
    small = cv2.resize(rgb, (max(8, int(w * s)), max(8, int(h * s))), interpolation=cv2.INTER_AREA) if s < 1 else rgb
    hist = cv2.calcHist([small], [0, 1, 2], None, [BINS] * 3, [0, 256] * 3).ravel()
    return hist / max(1.0, hist.sum())


def histogram_jump(a: np.ndarray, b: np.ndarray) -> float:
    """Half the L1 distance of two histograms: 0 same colours, 1 disjoint."""
    return float(np.abs(a - b).sum() / 2)


def is_cut(jump: float, unexplained: float, threshold: float) -> bool:
    """``unexplained``: fraction of the frame the flow cannot account for (NaN if not measured)."""
    if jump < threshold:
        return False
    return np.isnan(unexplained) or unexplained > 0.5 or jump > 2 * threshold

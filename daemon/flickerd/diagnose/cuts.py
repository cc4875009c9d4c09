"""Scene cuts: a jump in the colour histogram that the flow cannot explain either.

A cut is never flicker: pairs across a cut are left out of every temporal measure.
"""

from __future__ import annotations

import cv2
import numpy as np

from flickerd.diagnose import global_flicker, incoherence, warping

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


SAME_SHOT = 0.7  # thumbnail correlation above which two frames are one shot (cuts ≤ 0.35, shots ≥ 0.84 in training)


def same_shot(thumb_a: np.ndarray, thumb_b: np.ndarray) -> bool:
    """Whether two luma thumbnails are plainly the same shot: zero-mean normalised correlation.

    Gain and offset changes (flicker) leave it at ~1; a cut drops it to ~0. A cheap first
    question before asking the flow.
    """
    a = thumb_a.astype(np.float32) - float(thumb_a.mean())
    b = thumb_b.astype(np.float32) - float(thumb_b.mean())
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return denom > 0 and float((a * b).sum()) / denom >= SAME_SHOT


def is_cut(jump: float, unexplained: float, threshold: float) -> bool:
    """``unexplained``: fraction of the frame the flow cannot account for (NaN if not measured)."""
    if jump < threshold:
        return False
    return np.isnan(unexplained) or unexplained > 0.5 or jump > 2 * threshold


def flow_evidence(prev_rgb: np.ndarray, cur_rgb: np.ndarray, preset: str) -> tuple[float, float]:
    """(flow failure fraction, unexplained area) of a pair, measured at half size.

    For colour jumps between the pairs the flicker measures sample: whether a cut happened
    there needs no more detail than that, and it costs a quarter of a full analysis.
    """
    h, w = prev_rgb.shape[:2]
    if min(h, w) >= 32:
        size = (w // 2, h // 2)
        prev_rgb = cv2.resize(prev_rgb, size, interpolation=cv2.INTER_AREA)
        cur_rgb = cv2.resize(cur_rgb, size, interpolation=cv2.INTER_AREA)
    c = warping.compensate(prev_rgb, cur_rgb, preset)
    offsets = global_flicker.pair_offsets(c.residual, c.mask)
    area = incoherence.unexplained_area(c.residual @ global_flicker.YCC[0] - offsets[0])
    return 1.0 - float(c.mask.mean()), area

"""Incoherence: large areas whose content the flow cannot explain, pair after pair, without a cut.

Per pair: the fraction of the frame where the motion-compensated change is large (after the
global offset is removed) and forms big connected areas rather than scattered pixels.
Flicker changes brightness or detail; incoherence replaces what is there.

Replaced content ends at its outline: lowering the bar to half of ``BIG_CHANGE`` hardly grows
the area (on the incoherent pairs of training seeds 0-35 by 1.3x at the median, 2.4x at the 90th
percentile). A brightness change that fades out smoothly — a strong breathing region, whose
centre can move by more than ``BIG_CHANGE`` between frames — grows by 2-7x; past
``SOFT_GROWTH`` the pair is taken for flicker (the local measure's business), neither
unexplained content nor a cut. The second look runs only on pairs already over
``SIGNIFICANT_AREA``, so a clip without large changes pays nothing for it.
"""

from __future__ import annotations

import cv2
import numpy as np

BIG_CHANGE = 28.0  # grey levels of luma (after global offset removal)
SIGNIFICANT_AREA = 0.04  # a pair counts as incoherent above this fraction of the frame
SOFT_GROWTH = 3.0  # area over BIG_CHANGE / 2 this many times the area over BIG_CHANGE: a soft change


def _big_area(residual_y: np.ndarray, level: float) -> float:
    big = (np.abs(residual_y) > level).astype(np.uint8)
    k = max(3, int(min(residual_y.shape) / 24) | 1)
    big = cv2.morphologyEx(big, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    return float(big.mean())


def unexplained_area(residual_y: np.ndarray) -> float:
    area = _big_area(residual_y, BIG_CHANGE)
    if area > SIGNIFICANT_AREA and _big_area(residual_y, BIG_CHANGE / 2) > SOFT_GROWTH * area:
        return 0.0  # a smooth brightness change (see the module docstring), not replaced content
    return area


def incoherence_score(areas: list[float]) -> float:
    """Fraction of analysed pairs with a significant unexplained area."""
    a = np.asarray([x for x in areas if not np.isnan(x)])
    return float((a > SIGNIFICANT_AREA).mean()) if a.size else 0.0

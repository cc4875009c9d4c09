"""Incoherence: large areas whose content the flow cannot explain, pair after pair, without a cut.

Per pair: the fraction of the frame where the motion-compensated change is large (after the
global offset is removed) and forms big connected areas rather than scattered pixels.
Flicker changes brightness or detail; incoherence replaces what is there.
"""

from __future__ import annotations

import cv2
import numpy as np

BIG_CHANGE = 28.0  # grey levels of luma (after global offset removal)
SIGNIFICANT_AREA = 0.04  # a pair counts as incoherent above this fraction of the frame


def unexplained_area(residual_y: np.ndarray) -> float:
    big = (np.abs(residual_y) > BIG_CHANGE).astype(np.uint8)
    k = max(3, int(min(residual_y.shape) / 24) | 1)
    big = cv2.morphologyEx(big, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    return float(big.mean())


def incoherence_score(areas: list[float]) -> float:
    """Fraction of analysed pairs with a significant unexplained area."""
    a = np.asarray([x for x in areas if not np.isnan(x)])
    return float((a > SIGNIFICANT_AREA).mean()) if a.size else 0.0

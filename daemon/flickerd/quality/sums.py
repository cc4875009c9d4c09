"""Sums of float images that come out the same wherever the array sits in memory.

``cv2.sumElems`` on a one-channel float32 image goes through Intel IPP, whose vector loop starts
at the first aligned address: the same pixels at another alignment sum to a value a few bits
apart. Where numpy places a temporary depends on what was allocated and freed before, and with
verification's worker thread (``Ahead``) on timing too, so a metric summed that way moved from run
to run (``change_persistence`` 0.44164354924377640, then …647, in one process under load).
numpy's pairwise sum in float64 does not depend on alignment.
"""

from __future__ import annotations

import cv2
import numpy as np


def total(a: np.ndarray) -> float:
    """Σ of every element, accumulated in float64."""
    return float(np.sum(a, dtype=np.float64))


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Σ a·b over same-shaped images (float32 products, summed in float64)."""
    return total(cv2.multiply(a, b))

"""Where a fix changed the frame-to-frame change the most: the side-by-side clip's zoom region.

Summed |Δsource − Δfixed| between consecutive frames on a thumbnail (``MAP_SIDE``): motion is
in both files and cancels, flicker is only in the source. Verification accumulates it from the
frames it decodes anyway, so the clip needs no pass of its own; ``report.compare`` falls back
to decoding both files when it is not given one (an interpolated output, a clip made alone).
"""

from __future__ import annotations

import cv2
import numpy as np

MAP_SIDE = 160  # px: the map's longer side


class ChangeMap:
    """Feed each frame pair's luma (``add``); ``total`` is the map, None before two frames."""

    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.prev: tuple[np.ndarray, np.ndarray | None] | None = None

    def add(self, source: np.ndarray, fixed: np.ndarray | None = None) -> None:
        """``source``/``fixed``: uint8 luma of one frame at map size (``fixed`` None: |Δsource| only)."""
        a = source.astype(np.float32)
        b = None
        if fixed is not None:
            b = fixed.astype(np.float32) if fixed.shape == source.shape else \
                cv2.resize(fixed, a.shape[::-1], interpolation=cv2.INTER_AREA).astype(np.float32)
        if self.prev is not None:
            d = a - self.prev[0]
            if b is not None and self.prev[1] is not None:
                d = d - (b - self.prev[1])
            self.total = np.abs(d) if self.total is None else self.total + np.abs(d)
        self.prev = (a, b)

"""Temporal measures with a *given* flow: verification scores input and output with the input's flow.

Frames are uint8; warping error is on RGB in [0, 1] (mean over channels), luma in [0, 255].
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from flickerd.flow import warp
from flickerd.quality import sums

# Local flicker grid (rows, cols) and the reliable share a cell needs to count.
LOCAL_GRID = (6, 8)
MIN_CELL_RELIABLE = 0.25


def warp_error(nxt: np.ndarray, cur: np.ndarray, fw: np.ndarray, mask: np.ndarray) -> float | None:
    """Σ M·(W(F_{t+1}) − F_t)² / ΣM (Lai et al.), mean over channels; None when nothing is reliable."""
    m = mask.astype(np.float32)
    total = float(m.sum())
    if total < 1.0:
        return None
    d = warp(nxt, fw).astype(np.float32) - cur.astype(np.float32)
    d *= d
    # per-channel adds, not .sum(-1): numpy reduces a 3-long last axis slowly
    sq = (d[..., 0] + d[..., 1] + d[..., 2]) / 3.0 if d.ndim == 3 else d
    return sums.total(sq * m) / (total * 255.0 * 255.0)


def luma_second_difference(means: Sequence[float], cuts: Sequence[int] = ()) -> list[float | None]:
    """|Y_t − (Y_{t−1}+Y_{t+1})/2| per frame: ramps and fades score 0; None at ends and around cuts.

    ``cuts`` holds frame indices that start a new shot.
    """
    cut = set(cuts)
    out: list[float | None] = []
    n = len(means)
    for t in range(n):
        if t == 0 or t == n - 1 or t in cut or (t + 1) in cut:
            out.append(None)
        else:
            out.append(abs(means[t] - 0.5 * (means[t - 1] + means[t + 1])))
    return out


def local_residuals(nxt_luma: np.ndarray, cur_luma: np.ndarray, fw: np.ndarray, mask: np.ndarray,
                    grid: tuple[int, int] = LOCAL_GRID) -> float | None:
    """Local flicker of one pair: how far each cell's unexplained brightness change strays from the frame's.

    The residual W(Y_{t+1}) − Y_t is averaged per grid cell over reliable pixels; the score is the
    mean |cell − global| in luma levels, so a global gain scores 0 and a breathing region does not.
    """
    r = warp(nxt_luma, fw).astype(np.float32) - cur_luma.astype(np.float32)
    m = mask.astype(np.float32)
    total = sums.total(m)
    if total < 1.0:
        return None
    rm = r * m
    glob = sums.total(rm) / total
    rows, cols = grid
    # INTER_AREA to the grid size gives each cell's mean: sums per cell without a Python loop
    cell_rm = cv2.resize(rm, (cols, rows), interpolation=cv2.INTER_AREA)
    cell_m = cv2.resize(m, (cols, rows), interpolation=cv2.INTER_AREA)
    ok = cell_m >= MIN_CELL_RELIABLE
    if not ok.any():
        return None
    return float(np.abs(cell_rm[ok] / cell_m[ok] - glob).mean())

"""Ghosting: how much of an unaligned blend of neighbours shows up where the input moves.

On moving, flow-reliable pixels the direction ``m = naive − mc`` (a plain blend of the
neighbours minus their motion-compensated estimate) is pure misalignment: flicker cancels
out of it. The score is the projection of the output's change onto it, ⟨r, m⟩ / ⟨m, m⟩:
0 for an output with no double edges, 1 for a plain 50/50 blend of the neighbours.
"""

from __future__ import annotations

import numpy as np

from flickerd.flow import warp

# Flow magnitude (analysis-scale pixels) above which a pixel counts as moving.
MOVING_PX = 1.0


def midpoint_estimate(prev: np.ndarray, nxt: np.ndarray, to_prev: np.ndarray, to_next: np.ndarray,
                      s: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(naive, mc) estimates at fraction ``s`` between ``prev`` (0) and ``nxt`` (1), float32.

    ``to_prev``/``to_next`` are flows from the target frame's grid to each neighbour.
    """
    p = prev.astype(np.float32)
    q = nxt.astype(np.float32)
    naive = (1.0 - s) * p + s * q
    mc = (1.0 - s) * warp(p, to_prev) + s * warp(q, to_next)
    return naive, mc


def moving_mask(*flows: np.ndarray, reliable: np.ndarray | None = None, min_px: float = MOVING_PX) -> np.ndarray:
    mag = np.zeros(flows[0].shape[:2], dtype=np.float32)
    for f in flows:
        mag = np.maximum(mag, np.sqrt(f[..., 0] * f[..., 0] + f[..., 1] * f[..., 1]))
    moving = mag > min_px
    return moving & reliable if reliable is not None else moving


def ghosting(out: np.ndarray, reference: np.ndarray, naive: np.ndarray, mc: np.ndarray,
             mask: np.ndarray) -> tuple[float, float]:
    """(⟨r, m⟩, ⟨m, m⟩) over ``mask`` with r = out − reference, m = naive − mc, both mean-removed.

    Returned as a numerator/denominator pair so a clip's score is Σnum / Σden.
    """
    if not mask.any():
        return 0.0, 0.0
    r = out.astype(np.float32) - reference.astype(np.float32)
    m = naive.astype(np.float32) - mc.astype(np.float32)
    if r.ndim == 3:  # luma-like: average channels so a colour cast cannot pose as structure
        r, m = r.mean(-1), m.mean(-1)
    rv = r[mask]
    mv = m[mask]
    rv = rv - rv.mean()
    mv = mv - mv.mean()
    return float((rv * mv).sum()), float((mv * mv).sum())

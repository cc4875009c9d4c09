"""Ghosting: how much of an unaligned blend of neighbours shows up where the input moves.

On moving, flow-reliable pixels the direction ``m = naive − mc`` (a plain blend of the
neighbours minus their motion-compensated estimate) is pure misalignment: flicker cancels
out of it. The score is the projection of the output's change onto it, ⟨r, m⟩ / ⟨m, m⟩:
0 for an output with no double edges, 1 for a plain 50/50 blend of the neighbours.

The output's change is taken beyond a local tone map of the reference (a gain and offset per
``TONE_WINDOW`` neighbourhood): a fix that moves tone and contrast region by region (a
breathing region steadied) leaves no residue there, while neighbours blended in do.
"""

from __future__ import annotations

import cv2
import numpy as np

from flickerd.flow import warp

# Flow magnitude (analysis-scale pixels) above which a pixel counts as moving.
MOVING_PX = 1.0
TONE_WINDOW = 15  # px at analysis scale: a tone correction is smooth over this; a double edge is not


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
    o, ref, m = out.astype(np.float32), reference.astype(np.float32), naive.astype(np.float32) - mc.astype(np.float32)
    if o.ndim == 3:  # luma-like: average channels so a colour cast cannot pose as structure
        o, ref, m = o.mean(-1), ref.mean(-1), m.mean(-1)
    # both through the same (linear) operator, so a plain blend still scores 1
    r, m = beyond_tone(o, ref), beyond_tone(m, ref)
    rv = r[mask]
    mv = m[mask]
    rv = rv - rv.mean()
    mv = mv - mv.mean()
    return float((rv * mv).sum()), float((mv * mv).sum())


def beyond_tone(out: np.ndarray, ref: np.ndarray, window: int = TONE_WINDOW) -> np.ndarray:
    """``out`` minus its best local affine fit from ``ref`` (gain and offset per window, as a guided filter)."""
    box = lambda x: cv2.boxFilter(x, -1, (window, window))  # noqa: E731
    mr, mo = box(ref), box(out)
    var = box(ref * ref) - mr * mr
    gain = (box(ref * out) - mr * mo) / (var + 4.0)  # +4 (2 levels²): flat areas keep a gain of ~0
    gain, offset = box(gain), box(mo - gain * mr)
    return out - (gain * ref + offset)

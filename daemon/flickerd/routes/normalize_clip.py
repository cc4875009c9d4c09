"""A tone correction does not darken clipped highlights: a saturated sample only says its true level lies beyond it.

Exposure flicker that brightens a frame pushes highlights to full scale in one or more of R, G,
B. The frame's correction, an affine map in YCbCr, would pull such a sample down by the whole
correction, to the far end of the range its true level could have been in (between full scale
and full scale less the correction; renders clip their own highlights too: skies, lamps, white
cloth). So a channel within ``CLIP_MARGIN`` of full scale is darkened by ``CLIP_SHARE`` of the
correction, to the middle of that range, fading back to the full correction over ``CLIP_RAMP``;
the pixel's other channels are corrected as usual, and a correction that brightens is left alone.

Only highlights: at black, dark real detail and the encode's noise sit within any margin that
would catch a crushed sample, and there the same rule cost normalize 0.1–0.3 dB (fit, colour
casts). Measured (tone20, fit half, in memory before the final encode, normalize's own output,
MSE against the render; all of it / none of it / half the correction on clipped highlights):
lone_hiker luma 5.16 / 4.73 / 4.65, SFWan noodles luma 7.10 / 7.45 / 7.04: none of it loses where
the render's highlights sit just under full scale, half of it never lost more than 0.03 dB.
"""

from __future__ import annotations

import cv2
import numpy as np

CLIP_MARGIN = 2.0 / 255.0  # of full scale: a clipped plateau's spread after one encode at CRF 16
CLIP_RAMP = 1.0 / 255.0  # below the margin, back to the full correction over this much
CLIP_SHARE = 0.5  # of a darkening correction a clipped channel gets: the middle of its possible range
# (Kr, Kb) by AVColorSpace; anything else is read as BT.601, what decoders assume for untagged video
LUMA_WEIGHTS = {1: (0.2126, 0.0722), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}
BT601 = (0.299, 0.114)


def darkening_weight(level: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """How much of ``delta`` a channel at ``level`` (0–1) keeps: ``CLIP_SHARE`` at full scale when it darkens."""
    top = CLIP_SHARE + (1.0 - CLIP_SHARE) * np.clip((1.0 - CLIP_MARGIN - level) / CLIP_RAMP, 0.0, 1.0)
    return np.where(delta < 0, top, 1.0).astype(np.float32)


def keep_clipped_rgb(rgb: np.ndarray, corrected: np.ndarray) -> np.ndarray:
    """``corrected`` (float RGB, 0–1) with channels of ``rgb`` at full scale not darkened."""
    delta = corrected - rgb
    return rgb + darkening_weight(rgb, delta) * delta


def keep_clipped_planes(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, dy: np.ndarray, dcb: np.ndarray,
                        dcr: np.ndarray, peak: float, full_range: bool, colorspace: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plane deltas (code values; chroma at its own resolution) with RGB channels at full scale not darkened.

    The pixel's RGB and the delta's are read at luma resolution; what changes in chroma is
    brought back to the chroma planes' resolution by area averaging. Returns the deltas as
    given (the same arrays) when no channel is near its clip level.
    """
    kr, kb = LUMA_WEIGHTS.get(int(colorspace), BT601)
    kg = 1.0 - kr - kb
    s = peak / 255.0
    y_scale, c_scale = (peak, peak) if full_range else (219.0 * s, 224.0 * s)
    y_zero, c_zero = (0.0, peak / 2.0) if full_range else (16.0 * s, 128.0 * s)
    h, w = y.shape
    up = (lambda a: a) if cb.shape == y.shape else (lambda a: cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR))
    yn = (y.astype(np.float32) - y_zero) / y_scale
    cbn, crn = (up(cb.astype(np.float32)) - c_zero) / c_scale, (up(cr.astype(np.float32)) - c_zero) / c_scale
    ddy, dcbn, dcrn = dy / y_scale, up(dcb) / c_scale, up(dcr) / c_scale

    def rgb(a, b, c):
        r, bl = a + 2 * (1 - kr) * c, a + 2 * (1 - kb) * b
        return r, (a - kr * r - kb * bl) / kg, bl

    levels, deltas = rgb(yn, cbn, crn), rgb(ddy, dcbn, dcrn)
    weights = [darkening_weight(lv, d) for lv, d in zip(levels, deltas)]
    if all(bool((wt == 1.0).all()) for wt in weights):
        return dy, dcb, dcr
    dr, dg, db = (wt * d for wt, d in zip(weights, deltas))
    ny = kr * dr + kg * dg + kb * db
    ncb, ncr = (db - ny) / (2 * (1 - kb)), (dr - ny) / (2 * (1 - kr))

    def down(a):
        return a if cb.shape == y.shape else cv2.resize(a, (cb.shape[1], cb.shape[0]), interpolation=cv2.INTER_AREA)

    return (ny * y_scale).astype(np.float32), dcb + down((ncb - dcbn) * c_scale), dcr + down((ncr - dcrn) * c_scale)

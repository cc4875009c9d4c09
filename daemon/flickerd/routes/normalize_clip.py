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
# A channel this far under the ramp is certainly given weight 1: float32 rounding of the levels is ~1e-6 of full scale
BOUND_SLACK = 1e-3
_BELOW_RAMP = 1.0 - CLIP_MARGIN - CLIP_RAMP - BOUND_SLACK


def darkening_weight(level: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """How much of ``delta`` a channel at ``level`` (0–1) keeps: ``CLIP_SHARE`` at full scale when it darkens."""
    top = CLIP_SHARE + (1.0 - CLIP_SHARE) * np.clip((1.0 - CLIP_MARGIN - level) / CLIP_RAMP, 0.0, 1.0)
    return np.where(delta < 0, top, 1.0).astype(np.float32)


def keep_clipped_rgb(rgb: np.ndarray, corrected: np.ndarray) -> np.ndarray:
    """``corrected`` (float RGB, 0–1) with channels of ``rgb`` at full scale not darkened."""
    delta = corrected - rgb
    out = rgb + delta  # weight 1 (1.0 × delta is delta): every sample below the ramp, bit for bit
    near = np.flatnonzero(rgb.reshape(-1) > _BELOW_RAMP)
    if near.size:
        lv, d = rgb.reshape(-1)[near], delta.reshape(-1)[near]
        out.reshape(-1)[near] = lv + darkening_weight(lv, d) * d
    return out


def _near_full_scale(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, kr: float, kb: float, y_scale: float,
                     y_zero: float, c_scale: float, c_zero: float) -> np.ndarray:
    """Flat indices (luma grid) of the pixels where an RGB channel may be within the ramp of full scale.

    Every other pixel's R, G and B lie below ``_BELOW_RAMP``, so ``darkening_weight`` is exactly 1
    there. The bound is taken per chroma sample: linear upsampling mixes, for each luma pixel, only
    chroma samples within one of the nearest one, so the 3×3 maximum (minimum) of a chroma plane,
    brought to the luma grid by nearest neighbour, bounds what the pixel's chroma can be; from it
    follows the least luma at which R, G or B could reach the ramp.
    """
    kg = 1.0 - kr - kb
    box = np.ones((3, 3), np.uint8)

    def norm(a: np.ndarray) -> np.ndarray:
        return (a.astype(np.float32) - c_zero) / c_scale

    hi_cb, hi_cr = norm(cv2.dilate(cb, box)), norm(cv2.dilate(cr, box))
    lo_cb, lo_cr = norm(cv2.erode(cb, box)), norm(cv2.erode(cr, box))
    # R = Y + 2(1 − Kr)·Cr, B = Y + 2(1 − Kb)·Cb, G = Y − (2Kr(1 − Kr)·Cr + 2Kb(1 − Kb)·Cb) / Kg
    least = np.minimum(np.minimum(_BELOW_RAMP - 2 * (1 - kr) * hi_cr, _BELOW_RAMP - 2 * (1 - kb) * hi_cb),
                       _BELOW_RAMP + (2 * kr * (1 - kr) * lo_cr + 2 * kb * (1 - kb) * lo_cb) / kg)
    least = least * y_scale + y_zero  # as a luma code value
    if cb.shape != y.shape:
        least = cv2.resize(least, (y.shape[1], y.shape[0]), interpolation=cv2.INTER_NEAREST)
    return np.flatnonzero(y.reshape(-1) >= least.reshape(-1))


def keep_clipped_planes(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, dy: np.ndarray, dcb: np.ndarray,
                        dcr: np.ndarray, peak: float, full_range: bool, colorspace: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plane deltas (code values; chroma at its own resolution) with RGB channels at full scale not darkened.

    The pixel's RGB and the delta's are read at luma resolution; what changes in chroma is
    brought back to the chroma planes' resolution by area averaging. Returns the deltas as
    given (the same arrays) when no channel is near its clip level. The weights are worked out only
    where a channel may be near full scale (``_near_full_scale``; elsewhere they are exactly 1):
    the same numbers as computing them everywhere, at a fraction of the cost.
    """
    kr, kb = LUMA_WEIGHTS.get(int(colorspace), BT601)
    kg = 1.0 - kr - kb
    s = peak / 255.0
    y_scale, c_scale = (peak, peak) if full_range else (219.0 * s, 224.0 * s)
    y_zero, c_zero = (0.0, peak / 2.0) if full_range else (16.0 * s, 128.0 * s)
    near = _near_full_scale(y, cb, cr, kr, kb, y_scale, y_zero, c_scale, c_zero)
    if near.size == 0:
        return dy, dcb, dcr
    h, w = y.shape
    up = (lambda a: a) if cb.shape == y.shape else (lambda a: cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR))
    cb_up, cr_up, dcb_up, dcr_up = up(cb.astype(np.float32)), up(cr.astype(np.float32)), up(dcb), up(dcr)

    def at(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a).reshape(-1)[near]

    def rgb(a, b, c):
        r, bl = a + 2 * (1 - kr) * c, a + 2 * (1 - kb) * b
        return r, (a - kr * r - kb * bl) / kg, bl

    # the levels and deltas of the pixels near full scale, element for element as over the whole frame
    levels = rgb((at(y).astype(np.float32) - y_zero) / y_scale, (at(cb_up) - c_zero) / c_scale,
                 (at(cr_up) - c_zero) / c_scale)
    near_deltas = rgb(at(dy) / y_scale, at(dcb_up) / c_scale, at(dcr_up) / c_scale)
    weights = [darkening_weight(lv, d) for lv, d in zip(levels, near_deltas)]
    if all(bool((wt == 1.0).all()) for wt in weights):
        return dy, dcb, dcr
    ddy, dcbn, dcrn = dy / y_scale, dcb_up / c_scale, dcr_up / c_scale
    dr, dg, db = rgb(ddy, dcbn, dcrn)  # weight 1 (1.0 × delta is delta) away from full scale
    for full, wt, d in zip((dr, dg, db), weights, near_deltas):
        full.reshape(-1)[near] = wt * d
    ny = kr * dr + kg * dg + kb * db
    ncb, ncr = (db - ny) / (2 * (1 - kb)), (dr - ny) / (2 * (1 - kr))

    def down(a):
        return a if cb.shape == y.shape else cv2.resize(a, (cb.shape[1], cb.shape[0]), interpolation=cv2.INTER_AREA)

    return (ny * y_scale).astype(np.float32), dcb + down((ncb - dcbn) * c_scale), dcr + down((ncr - dcrn) * c_scale)

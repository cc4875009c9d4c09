"""The arithmetic of temporal normalisation (pure functions on numpy arrays).

Each frame is compared with the previous one warped onto it by optical flow. Over a coarse
grid of cells, and over the whole frame, the paired statistics of the trustworthy pixels give
per channel (Y, Cb, Cr) a *step*: the offset ``mean(W) − mean(F)`` and, for luma, the log gain
``log std(W) − log std(F)``. Chaining the steps gives every frame's tone and colour *levels*
within its shot. A robust straight-line fit through the levels of a frame's neighbours, read
at that frame, is the target: a flicker spike is an outlier to the line, a fade or an exposure
ramp lies on it and survives.

The corrections are low-frequency fields (per-cell gain and offset, cubic-interpolated to full
resolution), so detail is never averaged between frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flickerd.flow import occlusion_mask, standardised, warp

# BT.601 luma weights; Cb/Cr centred on 0 so a chroma gain is a saturation change.
KR, KB = 0.299, 0.114
KG = 1.0 - KR - KB
CB_SCALE = 0.5 / (1.0 - KB)
CR_SCALE = 0.5 / (1.0 - KR)

MIN_CELL_FRACTION = 0.15  # a cell needs this share of trustworthy pixels to speak for itself
CELL_PRIOR_FRACTION = 0.25  # shrinks a cell's estimate toward the frame's in proportion to its support
VAR_PRIOR = (0.03**2, 0.01**2, 0.01**2)  # below these variances a cell's gain is unobservable
MAX_LOG_GAIN = float(np.log(1.5))
OUTLIER_ABS = 0.15  # luma residuals beyond this (after the global offset) are flow failures
VAR_BLUR_SIGMA = 1.0  # px at analysis scale: variances compare equally smoothed images
EDGE_GRADIENT = 0.02  # luma change per px (analysis scale) at which a pixel's weight for offsets halves
BIWEIGHT_C = 4.685  # Tukey biweight cut-off in robust deviations
# A fitted trend is kept only as far as it stands out of the scatter by this many variances of
# the slope: random flicker makes up trends of ~1σ (which off-centre windows at a shot's ends
# would extrapolate), a real fade or exposure ramp stands out by far more. Measured: 1 → 16
# took global luma from +4.3 to +4.8 dB on the restoration bench.
SLOPE_SIGNIFICANCE = 16.0
# Standard errors at which the near fit takes half of a frame's target from the wide one
# (two_scale). Measured: 2 (quadratic) gave luma +5.20 dB, 3 (quartic) +5.36; both keep a clean
# real clip's slow curved changes of level (bigbuckbunny: 43.8 dB vs 40.9 with the wide fit alone).
# With the adaptive (midrange) wide fit, 5 took luma from +5.72 to +6.04 dB with clean real
# clips still within 0.2 dB of a plain re-encode.
TWO_SCALE_Z = 5.0
# Adaptive location (Hogg 1974): the flicker's own distribution decides how a frame's level is
# read from the residuals about the line. A light-tailed spread (sample kurtosis toward that of
# a uniform, 1.8, or of jumps between two states, ≈1.3) is located far better by its midrange
# than by its mean (error ∝ 1/J instead of 1/√J); Gaussian (3) or heavier keeps the mean. The
# midrange is blended in linearly between these kurtoses; fewer inliers than
# ADAPTIVE_MIN_FRAMES say too little about the shape. Measured: luma +5.43 → +5.72 dB.
MIDRANGE_KURTOSIS = 1.8
MEAN_KURTOSIS = 2.4
ADAPTIVE_MIN_FRAMES = 12
# A cell's own correction (beyond the frame's) is shrunk where it does not stand out of the
# noise floor of cell levels (the median cell's temporal scatter): weight c² / (c² + (z·floor)²).
# Measured at grid 12: z 2 → 0.5 → 0.25 took breathing +1.15 → +1.42 → +1.48 dB; clean clips are
# protected by the deadband and the pass-through in normalize_planes, not by this weight.
CELL_SIGNIFICANCE = 0.25
# The same for per-cell gains (``local_gain``): at 1 a clean real clip lost 0.75 dB, at 2 0.2 dB.
CELL_GAIN_SIGNIFICANCE = 2.0
# A cell is corrected only as far as its level *oscillates*: flicker alternates from frame to
# frame, a real regional change of light (a lamp coming on, an egg that glows) is persistent and
# smooth. A cell's oscillation is the robust scale of its level's second differences over the
# wide window; the cells' median is the noise floor (never below OSC_FLOOR_MIN). Weight
# osc² / (osc² + (z·floor)²), and no correction beyond OSC_CAP oscillation scales (a flicker of
# that scale never needs more; injected breathing needs ≲ 1.3). Measured on Wan's glowing egg
# (breathing at half strength): the egg's cells scatter by up to 28 grey levels but oscillate by
# 0.3–0.5, the injected region's by 1.2–4.3 over a floor of 0.35.
CELL_OSC_SIGNIFICANCE = 1.0
CELL_OSC_CAP = 3.0
OSC_FLOOR_MIN = 0.25 / 255.0


RGB_TO_YCC = np.array(
    [[KR, KG, KB], [-KR * CB_SCALE, -KG * CB_SCALE, (1 - KB) * CB_SCALE], [(1 - KR) * CR_SCALE, -KG * CR_SCALE, -KB * CR_SCALE]],
    np.float32,
)
YCC_TO_RGB = np.linalg.inv(RGB_TO_YCC.astype(np.float64)).astype(np.float32)
FIELD_STEP = 8  # full-res fields: cubic from the grid to 1/8 size, then linear (smooth, and cheap)


def rgb_to_ycc(rgb: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] → Y in [0, 1], Cb/Cr in [−0.5, 0.5] (float32, HxWx3)."""
    return cv2.transform(np.ascontiguousarray(rgb, np.float32), RGB_TO_YCC)


def ycc_to_rgb(ycc: np.ndarray) -> np.ndarray:
    return cv2.transform(np.ascontiguousarray(ycc, np.float32), YCC_TO_RGB)


def grid_shape(width: int, height: int, cells: int) -> tuple[int, int]:
    """(rows, cols) of a grid with ``cells`` cells along the longer side, square-ish cells."""
    if width >= height:
        return max(1, round(cells * height / width)), cells
    return cells, max(1, round(cells * width / height))


def flow_luma(ycc: np.ndarray) -> np.ndarray:
    """uint8 luma standardised to zero mean and fixed contrast: flicker must not steer the flow."""
    return standardised(ycc[..., 0])


def hist_distance(a: np.ndarray, b: np.ndarray, bins: int = 32) -> float:
    """L1 distance (0–2) between the histograms of two standardised luma images."""
    ha = np.histogram(a, bins=bins, range=(0, 256))[0].astype(np.float64)
    hb = np.histogram(b, bins=bins, range=(0, 256))[0].astype(np.float64)
    return float(np.abs(ha / ha.sum() - hb / hb.sum()).sum())


@dataclass(frozen=True, slots=True)
class PairStats:
    """How neighbour s, warped onto frame t, differs from it: per cell and over the frame.

    ``offset``/``log_gain`` are (3, rows, cols) with NaN where a cell has too little support;
    ``support`` is the trustworthy fraction per cell; ``g_offset``/``g_log_gain`` are (3,).
    """

    offset: np.ndarray
    log_gain: np.ndarray
    support: np.ndarray
    g_offset: np.ndarray
    g_log_gain: np.ndarray
    valid_fraction: float


def _cell_sum(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Per-cell means of ``x`` (area-weighted), as (rows, cols)."""
    rows, cols = shape
    return cv2.resize(x, (cols, rows), interpolation=cv2.INTER_AREA)


def _blur(x: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), VAR_BLUR_SIGMA)


def pair_stats(ycc_t: np.ndarray, ycc_s: np.ndarray, fw: np.ndarray, bw: np.ndarray, shape: tuple[int, int]) -> PairStats:
    """Statistics of neighbour ``ycc_s`` warped onto ``ycc_t`` by ``fw`` (t → s), ``bw`` (s → t)."""
    h, w = fw.shape[:2]
    warped = warp(ycc_s, fw)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    inside = (gx + fw[..., 0] >= 0) & (gx + fw[..., 0] <= w - 1) & (gy + fw[..., 1] >= 0) & (gy + fw[..., 1] <= h - 1)
    mask = occlusion_mask(fw, bw) & inside
    if mask.sum() < 16:
        return _empty(shape)
    resid = warped[..., 0] - ycc_t[..., 0]
    mask &= np.abs(resid - float(np.median(resid[mask]))) < OUTLIER_ABS
    m = mask.astype(np.float32)
    if m.sum() < 16:
        return _empty(shape)
    # Resample frame t with the warp's own fractional shifts so both sides are equally smoothed.
    same_blur = warp(ycc_t, fw - np.round(fw))
    wb, tb = _blur(warped), _blur(same_blur)
    support = _cell_sum(m, shape)
    ok = support >= MIN_CELL_FRACTION
    denom = np.maximum(support, 1e-6)
    msum = m.sum()
    offset = np.empty((3, *shape), np.float32)
    log_gain = np.empty((3, *shape), np.float32)
    g_offset = np.empty(3, np.float32)
    g_log_gain = np.empty(3, np.float32)
    # Offsets weigh flat pixels most: a residual misalignment on an edge reads as a level change.
    dy, dx = np.gradient(tb[..., 0])
    mo = m / (1.0 + (dx * dx + dy * dy) / EDGE_GRADIENT**2)
    mo_denom = np.maximum(_cell_sum(mo, shape), 1e-6)
    mo_sum = float(mo.sum())
    for c in range(3):
        ws, ts = warped[..., c], ycc_t[..., c]
        mean_w = _cell_sum(mo * ws, shape) / mo_denom
        mean_t = _cell_sum(mo * ts, shape) / mo_denom
        offset[c] = np.where(ok, mean_w - mean_t, np.nan)
        g_offset[c] = float((mo * (ws - ts)).sum() / mo_sum)
        wbc, tbc = wb[..., c], tb[..., c]
        mw, mt = _cell_sum(m * wbc, shape) / denom, _cell_sum(m * tbc, shape) / denom
        var_w = np.maximum(_cell_sum(m * wbc * wbc, shape) / denom - mw * mw, 0)
        var_t = np.maximum(_cell_sum(m * tbc * tbc, shape) / denom - mt * mt, 0)
        prior = VAR_PRIOR[c]
        # log(σ_w/σ_t), shrunk toward 0 where the cell is too flat to show a gain
        lg = 0.5 * (np.log(var_w + 1e-8) - np.log(var_t + 1e-8)) * (var_t / (var_t + prior))
        log_gain[c] = np.where(ok, lg, np.nan)
        g_log_gain[c] = _cell_regression_log_gain(mean_t, mean_w, support * ok, prior)
        if np.isnan(g_log_gain[c]):
            gw_mean, gt_mean = float((m * wbc).sum() / msum), float((m * tbc).sum() / msum)
            gvar_w = float((m * (wbc - gw_mean) ** 2).sum() / msum)
            gvar_t = float((m * (tbc - gt_mean) ** 2).sum() / msum)
            g_log_gain[c] = 0.5 * (np.log(gvar_w + 1e-8) - np.log(gvar_t + 1e-8)) * (gvar_t / (gvar_t + prior))
    return PairStats(offset, log_gain, support, g_offset, g_log_gain, float(msum / m.size))


def _cell_regression_log_gain(mean_t: np.ndarray, mean_w: np.ndarray, weight: np.ndarray, prior: float) -> float:
    """The frame's gain step as the slope of the cells' warped means against their own (log).

    Cell means barely change under the warp's interpolation, which smooths the warped frame and
    biases a ratio of pixel variances low on moving footage (chained, that bias drifted 0.5–1 %
    a frame on real pans). One Tukey-biweight pass drops cells that change on their own (a
    breathing region). NaN where fewer than 4 cells speak or their spread says nothing.
    """
    good = (weight > 0) & np.isfinite(mean_t) & np.isfinite(mean_w)
    if good.sum() < 4:
        return float("nan")
    x, y, w = mean_t[good].astype(np.float64), mean_w[good].astype(np.float64), weight[good].astype(np.float64)
    for _ in range(2):
        sw = w.sum()
        if sw <= 0:
            return float("nan")
        mx, my = (w * x).sum() / sw, (w * y).sum() / sw
        var = (w * (x - mx) ** 2).sum() / sw
        if var < 1e-10:
            return float("nan")
        slope = (w * (x - mx) * (y - my)).sum() / sw / var
        resid = y - my - slope * (x - mx)
        scale = 1.4826 * float(np.median(np.abs(resid))) + 1e-4
        u = resid / (BIWEIGHT_C * scale)
        w = weight[good] * np.where(np.abs(u) < 1, (1 - u * u) ** 2, 0.0)
    # shrunk toward 0 where the cells span too little of the range to show a gain
    return float(np.log(max(slope, 1e-3)) * var / (var + prior))


def _empty(shape: tuple[int, int]) -> PairStats:
    nan = np.full((3, *shape), np.nan, np.float32)
    return PairStats(nan, nan.copy(), np.zeros(shape, np.float32), np.full(3, np.nan, np.float32),
                     np.full(3, np.nan, np.float32), 0.0)


def smooth_at_zero(times: np.ndarray, values: np.ndarray, adaptive: bool = False) -> np.ndarray:
    """Robust straight-line fit of ``values`` (J, ...) against ``times`` (J,), read at time 0.

    Least squares, then one Tukey-biweight reweighting on the residuals so a single flash
    or a flow failure cannot pull the line. A line through a symmetric window is read at its
    centre as the window's mean (the most efficient estimate for random flicker), and a
    linear ramp or fade is reproduced exactly. ``adaptive`` reads the level from the residuals
    by their shape (see ``MIDRANGE_KURTOSIS``).
    """
    x = np.asarray(times, np.float64).reshape((-1,) + (1,) * (values.ndim - 1))
    y = values.astype(np.float64)
    w = np.ones_like(y)
    for _ in range(2):
        s0, s1, s2 = w.sum(0), (w * x).sum(0), (w * x * x).sum(0)
        t0, t1 = (w * y).sum(0), (w * x * y).sum(0)
        det = s0 * s2 - s1 * s1
        slope = np.where(np.abs(det) > 1e-9, (s0 * t1 - s1 * t0) / np.where(np.abs(det) > 1e-9, det, 1), 0.0)
        icpt = (t0 - slope * s1) / np.maximum(s0, 1e-9)
        resid = y - (icpt + slope * x)
        scale = 1.4826 * np.median(np.abs(resid), axis=0) + 1e-4
        u = resid / (BIWEIGHT_C * scale)
        w = np.where(np.abs(u) < 1, (1 - u * u) ** 2, 0.0)
    # Keep the slope only as far as it stands out of the scatter (a shrinkage factor
    # slope² / (slope² + c·var(slope))): off-centre windows at a shot's ends then do not
    # extrapolate a trend the flicker made up, while a real ramp keeps its slope.
    s0, s1, s2 = w.sum(0), (w * x).sum(0), (w * x * x).sum(0)
    sxx = np.maximum(s2 - s1 * s1 / np.maximum(s0, 1e-9), 1e-9)
    var_resid = (w * resid * resid).sum(0) / np.maximum(s0 - 2, 1.0)
    var_slope = var_resid / sxx
    slope = slope * slope * slope / (slope * slope + SLOPE_SIGNIFICANCE * var_slope + 1e-12)
    icpt = ((w * y).sum(0) - slope * s1) / np.maximum(s0, 1e-9)
    if adaptive:
        icpt = icpt + _midrange_shift(y - (icpt + slope * x), w > 0)
    return icpt.astype(np.float32)


def _midrange_shift(resid: np.ndarray, inlier: np.ndarray) -> np.ndarray:
    """How far the inliers' midrange sits from their mean, weighted by how light-tailed they are."""
    n = inlier.sum(0)
    safe_n = np.maximum(n, 1)
    mean = np.where(inlier, resid, 0.0).sum(0) / safe_n
    r = np.where(inlier, resid - mean, 0.0)
    m2, m4 = (r * r).sum(0) / safe_n, (r**4).sum(0) / safe_n
    kurtosis = m4 / np.maximum(m2 * m2, 1e-30)
    mid = 0.5 * (np.where(inlier, resid, -np.inf).max(0) + np.where(inlier, resid, np.inf).min(0))
    weight = np.clip((MEAN_KURTOSIS - kurtosis) / (MEAN_KURTOSIS - MIDRANGE_KURTOSIS), 0.0, 1.0)
    weight = np.where((n >= ADAPTIVE_MIN_FRAMES) & (m2 > 0), weight, 0.0)
    return weight * np.where(np.isfinite(mid), mid - mean, 0.0)


def two_scale(times: np.ndarray, values: np.ndarray, near: int) -> np.ndarray:
    """``smooth_at_zero`` over all of ``times`` (J,), or over the ``near`` frames closest to 0
    where the two disagree by more than the flicker can explain.

    A wide window averages random flicker down further, but its straight line cannot follow a
    real curved change of level; there the wide and the near fit part by more than their noise
    (the flicker's scale, from second differences of the levels, times √(1/near − 1/J)), and
    the near fit wins smoothly: weight 1 / (1 + (z/z₀)⁴) for the wide one at z such standard errors.
    """
    wide = smooth_at_zero(times, values, adaptive=True)
    j = len(times)
    if near >= j or j < 5:
        return wide
    order = np.argsort(np.abs(times), kind="stable")[:near]
    idx = np.sort(order)
    narrow = smooth_at_zero(times[idx], values[idx])
    v = values.astype(np.float64)
    second = v[1:-1] - 0.5 * (v[:-2] + v[2:])
    # for i.i.d. flicker of scale σ a second difference has scale σ·√1.5
    sigma = 1.4826 * np.median(np.abs(second - np.median(second, axis=0)), axis=0) / np.sqrt(1.5) + 1e-5
    z = np.abs(wide - narrow) / (sigma * np.sqrt(max(1.0 / near - 1.0 / j, 1e-6)))
    w = 1.0 / (1.0 + (z / TWO_SCALE_Z) ** 4)
    return (w * wide + (1 - w) * narrow).astype(np.float32)


def cell_means(ycc: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Per-cell means of each channel, (3, rows, cols)."""
    return np.stack([_cell_sum(np.ascontiguousarray(ycc[..., c]), shape) for c in range(3)])


def significant(times: np.ndarray, values: np.ndarray, z: float = CELL_SIGNIFICANCE) -> np.ndarray:
    """``smooth_at_zero`` of per-cell ``values`` (J, 3, rows, cols), shrunk where it does not stand out.

    A cell's level estimate scatters over time even where nothing flickers (flow and estimation
    noise); corrected at face value, that scatter lowers clean footage. The noise floor is the
    median over cells of each cell's temporal scatter (robust), per channel: a breathing region
    covers a minority of cells, so the median cell shows estimation noise only. A correction c
    is weighted c² / (c² + (z·floor)²).
    """
    est = smooth_at_zero(times, values).astype(np.float64)
    v = values.astype(np.float64)
    scatter = 1.4826 * np.median(np.abs(v - np.median(v, axis=0)), axis=0)
    floor = np.median(scatter.reshape(scatter.shape[0], -1), axis=1).reshape(-1, 1, 1) + 1e-6
    return (est * est * est / (est * est + (z * floor) ** 2)).astype(np.float32)


def oscillation(values: np.ndarray) -> np.ndarray:
    """Robust scale of the frame-to-frame alternation of ``values`` (J consecutive frames, ...).

    The median absolute second difference (about its median), scaled so i.i.d. flicker of scale
    σ reads σ. A smooth or persistent change (a fade, a light that comes on and stays) has
    second differences only at its few bends, so it barely moves the median. NaN under 5 frames.
    """
    v = values.astype(np.float64)
    if v.shape[0] < 5:
        return np.full(v.shape[1:], np.nan)
    second = v[1:-1] - 0.5 * (v[:-2] + v[2:])
    return 1.4826 * np.median(np.abs(second - np.median(second, axis=0)), axis=0) / np.sqrt(1.5)


def oscillating(correction: np.ndarray, osc: np.ndarray, z: float = CELL_OSC_SIGNIFICANCE,
                cap: float = CELL_OSC_CAP) -> np.ndarray:
    """Per-cell ``correction`` (3, rows, cols) kept as far as the cell's level oscillates (``osc``, same shape).

    Weighted osc² / (osc² + (z·floor)²) against the cells' median oscillation per channel, and
    softly limited to ``cap`` oscillation scales: a cell whose level moves without alternating
    is a real change of light, not flicker, and is left alone.
    """
    if not np.isfinite(osc).all():
        return correction
    o = osc.astype(np.float64)
    floor = np.maximum(np.median(o.reshape(o.shape[0], -1), axis=1), OSC_FLOOR_MIN).reshape(-1, 1, 1)
    weight = o * o / (o * o + (z * floor) ** 2)
    c = correction.astype(np.float64) * weight
    limit = cap * o + 1e-9
    return (c / np.sqrt(1.0 + (c / limit) ** 2)).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Fields:
    """Per-cell correction for one frame: ``corrected = gain * value + bias`` per channel (3, rows, cols)."""

    gain: np.ndarray
    bias: np.ndarray


def link(stats: PairStats) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Level steps from one frame to the next: (cell offset, cell log gain, frame offset, frame log gain).

    Cells without support take the frame's step, and thin cells are shrunk toward it, so the
    chain of levels never breaks.
    """
    g_off = np.nan_to_num(stats.g_offset, nan=0.0)
    g_lg = np.nan_to_num(stats.g_log_gain, nan=0.0)
    weight = (stats.support / (stats.support + CELL_PRIOR_FRACTION))[None]
    off = np.where(np.isnan(stats.offset), g_off[:, None, None], g_off[:, None, None] + weight * (stats.offset - g_off[:, None, None]))
    lg = np.where(np.isnan(stats.log_gain), g_lg[:, None, None], g_lg[:, None, None] + weight * (stats.log_gain - g_lg[:, None, None]))
    # A cell's chroma variance is too small for a stable gain (a chained noisy gain drifts into
    # visible saturation changes), so cells take the frame's chroma gain step: whole-frame
    # saturation still follows a gain on RGB, which scales Cb and Cr with Y.
    lg[1:] = g_lg[1:, None, None]
    return off.astype(np.float32), lg.astype(np.float32), g_off, g_lg


def tie_chroma_gain(stats: PairStats) -> PairStats:
    """``stats`` with the frame's chroma gain steps set to its luma gain step.

    A multiplicative flicker scales Y, Cb and Cr alike, so the luma step says all there is. A
    chroma gain of its own (the slope of the cells' chroma means) is read off a handful of
    coloured cells: a regional change of colour (an egg that starts to glow) reads as a
    frame-wide saturation step, and chained, Wan's glowing egg got ×0.71..×1.45 saturation
    (breathing at half strength −3.05 → −1.90 dB, luma −1.37 → −0.09, chroma −1.52 → −0.27 dB).
    """
    g = stats.g_log_gain.copy()
    g[1:] = g[0]
    return PairStats(stats.offset, stats.log_gain, stats.support, stats.g_offset, g, stats.valid_fraction)


def correction(ycc_t: np.ndarray, times: np.ndarray, offsets: np.ndarray, log_gains: np.ndarray,
               shape: tuple[int, int]) -> Fields:
    """Fields that move frame t's levels onto the robust line through its neighbours' levels.

    ``offsets``/``log_gains`` are (J, 3, rows, cols): each neighbour's level minus frame t's,
    at time offsets ``times`` (frame t itself included as 0). Broadcastable (J, 3, 1, 1)
    arrays give one correction for the whole frame.
    """
    return fields_from_targets(ycc_t, smooth_at_zero(times, offsets), smooth_at_zero(times, log_gains), shape)


def fields_from_targets(ycc_t: np.ndarray, offset: np.ndarray, log_gain: np.ndarray, shape: tuple[int, int]) -> Fields:
    """Fields that add ``offset`` and multiply the cell contrast by exp(``log_gain``) (both broadcastable to (3, rows, cols))."""
    cell_mean = np.stack([_cell_sum(np.ascontiguousarray(ycc_t[..., c]), shape) for c in range(3)])
    off = np.broadcast_to(offset, (3, *shape))
    lg = np.broadcast_to(log_gain, (3, *shape))
    gain = np.exp(np.clip(lg, -MAX_LOG_GAIN, MAX_LOG_GAIN)).astype(np.float32)
    # corrected = cell_mean + off + gain * (value − cell_mean)
    bias = (cell_mean + off - gain * cell_mean).astype(np.float32)
    return Fields(gain, bias)


def apply(rgb: np.ndarray, fields: Fields, strength: float = 1.0) -> np.ndarray:
    """Apply ``fields`` (smoothly upsampled to the frame's size) to float RGB; returns float RGB."""
    h, w = rgb.shape[:2]
    packed = np.concatenate([fields.gain, fields.bias]).transpose(1, 2, 0)  # rows × cols × 6
    mid = cv2.resize(packed, (max(2, -(-w // FIELD_STEP)), max(2, -(-h // FIELD_STEP))), interpolation=cv2.INTER_CUBIC)
    full = cv2.resize(mid, (w, h), interpolation=cv2.INTER_LINEAR)
    gain, bias = full[..., :3], full[..., 3:]
    if strength != 1.0:
        gain = 1.0 + strength * (gain - 1.0)
        bias = strength * bias
    return ycc_to_rgb(rgb_to_ycc(rgb) * gain + bias)

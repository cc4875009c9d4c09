"""Window drift and seams of long renders, from per-frame tone statistics (pure).

The statistics are five numbers per frame (``STATS``): the mean of Y, Cb and Cr, the spread of
Y (standard deviation) and the saturation (the spread of Cb and Cr about their means), all in
grey levels. NaN marks a frame that was not decoded.

A **seam** is a frame where tone or colour steps in one pair and stays stepped: on the series
median-filtered over 9 frames (a flash of up to 3 frames vanishes, a step keeps its edge), the
pair change stands out of the local trend (the median change of the 20 pairs around) by at
least ``SEAM_MIN`` grey levels and ``SEAM_NOISE`` × the clip's typical deviation. Ramps, fades
and camera moves change the means over many pairs, so they do not read as seams. A seam is
placed where the raw statistics split best into a level before and a level after, with a
transient of up to ``FLASH`` decoded frames at the new window's start left out (a flash at the
join); a frame left out costs ``TRANSIENT_COST`` units of the clip's typical distance from a level
plus ``TRANSIENT_SHARE`` of the step, so only frames at neither level are left out, and a flash
that cancels the luma step still shows in chroma and saturation and keeps the seam on the join.
A join steps in one pair (or enters a flash in one pair and leaves it in another), so one pair
carries at least half its step (``concentration``); light that rises over a few frames does not,
even where the left-out transient would make its two levels look flat.

Windows recur at one period: steps that keep to a period (``regular``) are seams at the usual
sharpness, and weaker steps where the period puts the next window join them (``_extend``). A lone
step (no second seam, none named by the sidecar) is a seam only if it is a clean step between
flat levels (``ISOLATED_SHARPNESS``).

A join shifts (and perhaps scales) every part of the frame alike; a real change of light in one
frame does not, though it reads the same in these statistics when the scene around it is steady.
So each analysed pair also gives its ``misfit``: how far the motion-compensated luma changes of
its cells stray from one shift and gain. A candidate whose step pair's cells stray by more than
``SEAM_DISAGREEMENT`` of its step is no seam (``uniform``); where no pair of it was measured the
statistics decide alone.

**Drift** is what the seams accumulate: per channel, the sum of the steps at the seams (each
the level after minus the level before, less the local trend), and the clip's drift the largest
channel's, in grey levels per 100 frames; saturation drift in % per 100 frames. Tone changes
that arrive gradually are not counted: they cannot be told from intended grading or real light.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from flickerd.diagnose.global_flicker import YCC
from flickerd.diagnose.robust import column_median, median
from flickerd.diagnose.seam_list import REFINE, merged

STATS = ("y", "cb", "cr", "spread", "saturation")
MEDIAN_HALF = 4  # running median over 9 frames: removes flashes of up to 3 frames
TREND_HALF = 10  # pairs each side that give the local trend
SEAM_MIN = 1.5  # grey levels: the smallest step called a seam
SEAM_NOISE = 6.0  # × the clip's median deviation from the trend
SEAM_GAP = 6  # frames: the closest two seams can be
MIN_WINDOW = 8  # frames: no seam before this (a render's first frames often settle)
LEVEL_FRAMES = 6  # frames each side that give a seam's levels
FLASH = 3  # frames after a seam left out of its level (a flash at the join)
# a frame left out of a seam's levels as a flash costs this many units of the clip's typical
# distance from a level, plus this share of the step (both fitted on the fit half of bench drift_seams)
TRANSIENT_COST = 2.0
TRANSIENT_SHARE = 0.1
SCALE_FLOOR = 0.1  # grey levels: the least typical distance a column is read in (flat synthetic levels)
TREND_MIN = 1.0  # grey levels: a trend across a seam smaller than this is not taken out of its step
SEAM_SHARPNESS = 3.0  # step / spread of the frames about their two levels (see ``sharpness``)
SEAM_CONCENTRATION = 0.5  # the share of its step a seam's largest pair carries (see ``concentration``)
# the share of its change a seam pair's cells may stray from one shift and gain (``uniform``): fitted
# on the fit half (bench drift_seams' true seams ≤ 0.33, Steamboat Willie's real step of light 0.75–1.6)
SEAM_DISAGREEMENT = 0.5
# frames before a seam are already in the new window where one statistic steps by this many units of its
# typical distance from a level (``_scales``), this share of it in their first pair, and they sit past the
# other share of the way to the new level (``onset``; fitted on the fit half's flash-cancelled joins)
ONSET_UNITS = 3.0
ONSET_SHARE = 0.75
ONSET_JUMP = 0.5
ONSET_FLASH = SEAM_MIN / 2  # grey levels: the least luma departure read as a flash before a seam (``onset``)
# a luma departure toward the new level, under this share of the step, is no flash (``onset``): it is the step
# arriving (fit half, Open-Sora's 16x240 clip ping-ponged: −1 a fifth of the step, the seam went 3 frames early)
ONSET_TOWARD = 0.5
ISOLATED_SHARPNESS = 6.0  # a lone step's (twice a periodic one's; the fit half's lone seams have ≥ 7.1)
SATURATION_FLOOR = 8.0  # grey levels: near-grey footage's saturation drift is taken relative to this
SPREAD_FLOOR = 0.25  # grey levels: the spread of the cleanest levels, so flat synthetic ones do not divide by 0


def _filled(values: np.ndarray) -> np.ndarray:
    """Columns with NaNs filled by linear interpolation (constant past the ends)."""
    out = np.array(values, np.float64, copy=True)
    idx = np.arange(len(out))
    for c in range(out.shape[1]):
        ok = np.isfinite(out[:, c])
        if ok.any() and not ok.all():
            out[~ok, c] = np.interp(idx[~ok], idx[ok], out[ok, c])
        elif not ok.any():
            out[:, c] = 0.0
    return out


def compensated_levels(means: np.ndarray, offsets: Sequence[np.ndarray | None], cuts: Iterable[int] = ()) -> np.ndarray:
    """Per-frame (Y, Cb, Cr) tone levels with motion taken out (T × 3, grey levels).

    A frame's mean changes when content moves (a bright object enters, the camera pans onto
    sky); a window's tone step changes every pixel. So the level moves by each pair's
    motion-compensated global offset (``offsets[t]``: frame t−1 minus frame t warped onto it,
    robust over the pixels the flow explains), and only where a pair was not analysed (long
    clips sample pairs; frames the decoder skipped; cuts) by the change of the frame means.
    NaN means (frames not decoded) are bridged by the next measured change.
    """
    m = np.asarray(means, np.float64)[:, :3]
    n = len(m)
    out = np.full((n, 3), np.nan)
    if n == 0:
        return out
    cut_set = set(cuts)
    level = np.where(np.isfinite(m[0]), m[0], 0.0)
    last = m[0] if np.all(np.isfinite(m[0])) else None  # the last decoded frame's means
    out[0] = level
    for t in range(1, n):
        o = offsets[t] if t < len(offsets) else None
        if o is not None and t not in cut_set:
            level = level - np.asarray(o, np.float64)
        elif last is not None and np.all(np.isfinite(m[t])):
            level = level + (m[t] - last)
        if np.all(np.isfinite(m[t])):
            last = m[t]
        out[t] = level
    return out


THUMB_STEP = 1.0  # grey levels: pairs whose frame means change less are measured by those means alone
THUMB_EXPLAINED = 0.3  # share of the thumbnail the flow must explain for its offset to count


def thumb_offset(prev: Sequence[np.ndarray], cur: Sequence[np.ndarray], full_range: bool = True) -> np.ndarray | None:
    """A pair's motion-compensated (Y, Cb, Cr) offset from the cut detector's thumbnails (frame
    t−1 minus frame t warped onto it, median over the pixels the flow explains; grey levels),
    for pairs the diagnosis gives no flow: a window's tone step moves every pixel, content that
    moves or changes moves the frame means. None where the flow explains too little."""
    return thumb_pair(prev, cur, full_range)[0]


def thumb_pair(prev: Sequence[np.ndarray], cur: Sequence[np.ndarray], full_range: bool = True,
               grid: tuple[int, int] | None = None) -> tuple[np.ndarray | None, float]:
    """``thumb_offset`` and, with a ``grid``, the pair's ``misfit`` on the thumbnails (NaN without)."""
    from flickerd import flow as of  # OpenCV: only the engine, which has it loaded, calls this

    a, b = _standardised(prev[0]), _standardised(cur[0])
    if a.shape[0] < 8 or a.shape[1] < 8:
        return None, math.nan
    fw, bw = of.flow(a, b), of.flow(b, a)
    ok = of.occlusion_mask(fw, bw) & of.inside(fw)
    if ok.mean() < THUMB_EXPLAINED:
        return None, math.nan
    scale = np.array([1.0, 1.0, 1.0]) if full_range else np.array([255 / 219, 255 / 224, 255 / 224])
    out = np.array([float(np.median(p.astype(np.float32)[ok] - of.warp(c.astype(np.float32), fw)[ok]))
                    for p, c in zip(prev, cur)]) * scale
    if grid is None or abs(out[0]) < SEAM_MIN:  # as the flow pairs: only a step a seam could make
        return out, math.nan
    from flickerd.diagnose.local import cell_levels

    y = prev[0].astype(np.float32)
    res_y = (y - of.warp(cur[0].astype(np.float32), fw)) * np.float32(scale[0])
    level = y if full_range else (y - 16) * np.float32(scale[0])
    return out, misfit(cell_levels(res_y, grid), level)


def _standardised(gray: np.ndarray) -> np.ndarray:
    """uint8 luma at a fixed mean and contrast: the flow then follows structure, not a tone step."""
    g = gray.astype(np.float32)
    return np.clip((g - g.mean()) * (40.0 / (float(g.std()) + 1e-3)) + 128.0, 0, 255).astype(np.uint8)


CELL_MARGIN = 4.0  # grey levels: a cell this close to black or white (past the step) may clip, and is left out
CELL_MIN = 6  # cells a pair's misfit needs
CELL_QUANTILE = 0.75  # the cells' deviations are read here: light over more than a quarter of the scene shows
TS_MIN_LEVEL = 8.0  # grey levels: cell pairs closer in level than this give no gain slope


def misfit(change: np.ndarray, level_y: np.ndarray) -> float:
    """How far the cells of one pair disagree with a single global change of tone (grey levels;
    NaN where too few cells can tell). ``change``: per cell, the median of frame t−1's luma minus
    frame t's warped onto it (``local.cell_levels`` of the residual, so motion is out; the local
    measure's own cells plus the pair's offset); ``level_y``: frame t−1's luma. See ``cell_misfit``."""
    from flickerd.diagnose.local import cell_levels

    return cell_misfit(change, cell_levels(level_y, np.shape(change)))


def cell_misfit(change: np.ndarray, level: np.ndarray) -> float:
    """The spread of the cells' changes about one shift and gain: each cell's change less a gain
    times its level (the Theil–Sen slope over cell pairs), their absolute deviation from its
    median at the ``CELL_QUANTILE`` (a quarter of the cells may be off: flow failures on real
    motion, an object that enters), grey levels.

    A window join or a flash shifts (and perhaps scales) every pixel of the frame alike, so its
    cells' changes lie on one line in their levels; light that changes in one part of the
    scene, or more in one part than in another at the same level, does not. Cells whose level
    the change could push past black or white are left out (clipping is not disagreement)."""
    c, lv = np.ravel(change), np.ravel(level)
    ok = np.isfinite(c) & np.isfinite(lv)
    c, lv = c[ok], lv[ok]
    if len(c) < CELL_MIN:
        return math.nan
    reach = abs(float(median(c))) + CELL_MARGIN
    inside = (lv > reach) & (lv < 255.0 - reach)
    c, lv = c[inside], lv[inside]
    if len(c) < CELL_MIN:
        return math.nan
    i, j = np.triu_indices(len(c), 1)
    dl = lv[j] - lv[i]
    far = np.abs(dl) > TS_MIN_LEVEL
    gain = float(median((c[j] - c[i])[far] / dl[far])) if far.any() else 0.0
    e = c - gain * lv
    # np.quantile's linear quantile, by hand: np.median and np.quantile import numpy.ma (≈40 ms)
    d = np.sort(np.abs(e - median(e)))
    pos = CELL_QUANTILE * (len(d) - 1)
    lo = int(pos)
    return float(d[lo] + (pos - lo) * (d[min(lo + 1, len(d) - 1)] - d[lo]))


def running_median(values: np.ndarray, half: int) -> np.ndarray:
    """Per column, the median of the frames within ``half`` of each frame (shrunk at the ends)."""
    v = np.asarray(values, np.float64)
    return np.stack([column_median(v[max(0, t - half): t + half + 1]) for t in range(len(v))])


def _deviation(stats: np.ndarray) -> np.ndarray:
    """dev[t]: how far the filtered pair change (t−1 → t) of the means stands out of the local trend."""
    m = running_median(_filled(stats)[:, :3], MEDIAN_HALF)
    d = np.diff(m, axis=0)
    base = running_median(d, TREND_HALF)
    dev = np.zeros(len(m))
    dev[1:] = np.linalg.norm(d - base, axis=1)
    return dev


def _scales(raw: np.ndarray) -> np.ndarray:
    """Per column, how far a frame typically sits from its level (the mean distance from the
    5-frame running median; grey levels, at least ``SCALE_FLOOR``): the unit a frame's distance
    from a level is read in, so a quiet chroma step counts as much as luma, and a GIF's palette
    jitter or a render's motion is not taken for a flash."""
    if len(raw) < 3:
        return np.full(raw.shape[1], SCALE_FLOOR)
    out = np.mean(np.abs(raw - running_median(raw, 2)), axis=0)
    return np.maximum(out, SCALE_FLOOR)


def _refine(raw: np.ndarray, t: int, lo: int, hi: int, scales: np.ndarray | None = None,
            measured: np.ndarray | None = None) -> int:
    """The seam near ``t``: the split s and transient k (0..``FLASH`` frames at the new window's
    start, left out) that best separate ``raw`` into two levels of ``LEVEL_FRAMES`` frames each
    (L1, each column in units of its ``scales``), each frame left out costing ``TRANSIENT_COST``
    plus ``TRANSIENT_SHARE`` of the step between the two levels. A flash frame that is at neither level is then left out, and the seam placed on it; a frame
    that is at the old level is not (it would cost its distance from the new one). Frames not
    ``measured`` (not decoded: their levels are bridged copies) neither count nor cost there."""
    scales = _scales(raw) if scales is None else scales
    measured = np.ones(len(raw), bool) if measured is None else measured
    x = raw / scales
    # the same number of frames each side for every split, as many as the candidate has room for
    n = max(2, min(LEVEL_FRAMES, (hi - lo - FLASH) // 2 - 1))
    best, at = math.inf, t
    for s in range(max(lo + n, t - REFINE), min(hi - n, t + REFINE) + 1):
        a = x[s - n: s]
        for k in range(2 * FLASH + 1):
            left_out = int(measured[s: s + k].sum())
            b = x[s + k: s + k + n]
            if len(b) < n or left_out > FLASH:
                break
            la, lb = column_median(a), column_median(b)
            # a frame left out must be off both levels by more than a share of the step between them
            cost = np.abs(a - la).sum() + np.abs(b - lb).sum() \
                + left_out * (TRANSIENT_COST + TRANSIENT_SHARE * float(np.abs(lb - la).sum()))
            if cost < best - 1e-9:
                best, at = cost, s
    return at


def onset(raw: np.ndarray, s: int, scales: np.ndarray, measured: np.ndarray | None = None,
          floor: int = MIN_WINDOW) -> int:
    """The join of a seam found at ``s``: moved back to the earliest of the ``FLASH`` frames
    before it where some statistic steps to the new window's level in one pair and stays there up
    to ``s``. A join changes every statistic at once; a flash that cancels the luma step keeps
    luma at the old level for its frames while chroma or saturation are at the new one, and the
    split of ``_refine`` (which pays for every frame it leaves out) may still put the seam after
    the flash. A statistic counts where its step (old level: the ``LEVEL_FRAMES`` before those
    frames; new: as ``sharpness``) is at least ``ONSET_UNITS`` of its typical distance from a
    level and ``SEAM_MIN`` / 4 grey levels, the pair into the frame carries ``ONSET_JUMP`` of it,
    and the frames from there to ``s`` sit, on average, ``ONSET_SHARE`` of the way to the new
    level (content whose saturation ramps or swings moves a little each pair, or not to the new
    level, and has no onset). Also a luma flash: luma off the old level, either way, by at least
    ``ONSET_FLASH`` (and ``ONSET_UNITS`` of its typical distance) from the frame to ``s``, entered
    in the pair into it, and not a departure toward the new level of less than ``ONSET_TOWARD`` of
    its step (that is the step arriving; this branch asks nothing of chroma or saturation). Only the position
    moves, and not before ``floor``: whether there is a seam was decided at ``s``."""
    measured = np.ones(len(raw), bool) if measured is None else measured
    after = raw[min(s + FLASH, len(raw) - 1): s + FLASH + LEVEL_FRAMES]
    lo = max(MIN_WINDOW, floor, s - FLASH)
    if len(after) == 0 or s - lo < 1 or not measured[lo - 1: s].all():
        return s
    old = column_median(raw[max(0, lo - 1 - LEVEL_FRAMES): lo - 1])
    step = column_median(after) - old
    big = np.abs(step) >= np.maximum(ONSET_UNITS * scales, SEAM_MIN / 4)
    flash_floor = max(ONSET_UNITS * scales[0], ONSET_FLASH)
    for j in range(lo, s):
        kept = (raw[j: s].mean(axis=0) - old) * step >= ONSET_SHARE * step * step
        jump = (raw[j] - raw[j - 1]) * step >= ONSET_JUMP * step * step
        # a flash: luma off the old level (either way) from j to s, entered in the pair into j
        off = raw[j: s, 0] - old[0]
        # part of the way to the new level is the join's own step arriving (a trend, a softened edge), no flash
        toward = np.sign(off[0]) == np.sign(step[0]) and abs(off[0]) < ONSET_TOWARD * abs(step[0])
        flash = not toward and np.all(off * np.sign(off[0]) >= flash_floor) and \
            (raw[j, 0] - raw[j - 1, 0]) * np.sign(off[0]) >= ONSET_JUMP * abs(off[0])
        if (big & kept & jump).any() or flash:
            return j
    return s


def sharpness(raw: np.ndarray, s: int) -> tuple[float, float]:
    """(step, sharpness) of a seam at ``s``: the norm of the mean levels' change across it (the
    ``FLASH`` frames after it left out), and that step over the mean L1 spread of the frames
    about their two levels: a step into flat levels is sharp, a change spread over frames is not."""
    a = raw[max(0, s - LEVEL_FRAMES): s, :3]
    b = raw[min(s + FLASH, len(raw) - 1): s + FLASH + LEVEL_FRAMES, :3]
    if len(a) == 0 or len(b) == 0:
        return 0.0, 0.0
    step = float(np.linalg.norm(column_median(b) - column_median(a)))
    spread = float(np.linalg.norm((np.abs(a - column_median(a)).sum(0) + np.abs(b - column_median(b)).sum(0))
                                  / (len(a) + len(b))))
    return step, step / (spread + SPREAD_FLOOR)


def concentration(raw: np.ndarray, s: int, measured: np.ndarray | None = None) -> float:
    """How much of a seam's step crosses in one pair: the largest change between consecutive
    decoded frames, from the last before ``s`` through the ``FLASH`` after it and the first past
    them, projected on the step of its levels (as ``sharpness``), as a share of that step. A
    window join steps in one pair, or enters a flash in one and leaves it in another, and those
    two pairs together carry the whole step, so one of them carries half or more; a change of
    light that spreads over several frames (a ramp the transient would hide) carries less."""
    v = raw[:, :3]
    n = len(v)
    measured = np.ones(n, bool) if measured is None else measured
    a = v[max(0, s - LEVEL_FRAMES): s]
    b = v[min(s + FLASH, n - 1): s + FLASH + LEVEL_FRAMES]
    if len(a) == 0 or len(b) == 0:
        return 0.0
    step = column_median(b) - column_median(a)
    size = float(step @ step)
    before = [t for t in range(max(0, s - LEVEL_FRAMES), s) if measured[t]][-1:]
    idx = before + [t for t in range(s, min(n, s + 2 * FLASH + 2)) if measured[t]][: FLASH + 1]
    if size < 1e-12 or len(idx) < 2:
        return 0.0
    return float(np.max(np.diff(v[idx], axis=0) @ step) / size)


def uniform(raw: np.ndarray, misfits: np.ndarray, s: int) -> bool:
    """Whether the cells agree on one global change at a seam candidate ``s``: at the pair from
    ``s`` − 1 through the ``FLASH`` frames after it whose luma level changes most, the cells'
    ``misfit`` is at most ``SEAM_DISAGREEMENT`` of that change. True where that pair's cells were
    not measured or its luma changes by less than ``SEAM_MIN`` (no evidence either way; the
    diagnosis measures only pairs whose luma offset reaches it)."""
    n = len(raw)
    pairs = range(max(1, s - 1), min(n, s + FLASH + 1))
    if not len(pairs):
        return True
    change = np.abs(np.array([raw[t, 0] - raw[t - 1, 0] for t in pairs]))
    t = pairs[int(np.argmax(change))]
    if change.max() < SEAM_MIN or t >= len(misfits) or not math.isfinite(misfits[t]):
        return True  # a step of colour alone, or cells not measured: the cells (luma) cannot tell
    return float(misfits[t]) <= SEAM_DISAGREEMENT * float(change.max())


def regular(candidates: Sequence[int]) -> tuple[int, ...]:
    """The largest subset of ``candidates`` (earliest-first wins ties) spaced regularly: at f + k·P
    (± 1 frame) for a first seam f and a period P. Windows of one render share a length."""
    c = sorted(candidates)
    if len(c) < 3:
        return tuple(c)
    best: tuple[int, ...] = ()
    for i, f in enumerate(c):
        for g in c[i + 1:]:
            period = g - f
            kept = tuple(x for x in c if x >= f and abs((x - f) - period * round((x - f) / period)) <= 1)
            if len(kept) > len(best):
                best = kept
    return best


def find_seams(stats: np.ndarray, cuts: Iterable[int] = (), given: Sequence[int] = (),
               misfits: Sequence[float] | None = None) -> tuple[int, ...]:
    """Frames that start a new window (see the module docstring); ``given`` positions are kept as they are.
    ``misfits[t]``: the pair (t−1, t)'s ``misfit`` (NaN or absent: not measured; then only the tone
    statistics decide)."""
    stats = np.asarray(stats, np.float64)
    n = len(stats)
    cut_set = set(cuts)
    kept = sorted(g for g in given if 0 < g < n)
    if n < 2 * LEVEL_FRAMES:
        return tuple(kept)
    dev = _deviation(stats)
    floor = max(SEAM_MIN, SEAM_NOISE * float(median(dev[1:])))
    raw = _filled(stats)
    raw = np.concatenate([raw[:, :3], raw[:, 4:5]], axis=1)  # the flash leaves saturation alone
    scales, measured = _scales(raw), np.all(np.isfinite(stats), axis=1)
    mis = np.full(n, np.nan) if misfits is None else np.asarray(misfits, np.float64)
    found: list[int] = []
    for t in np.argsort(-dev):
        if dev[t] < floor:
            break
        if t < 2 or t > n - 2 or any(abs(t - f) < SEAM_GAP for f in found):
            continue
        # saturation keeps a flash-cancelled join on its frame, but content whose saturation swings
        # near a join can pull the split off it: then the split of tone and colour alone is tried
        for s in dict.fromkeys((_refine(raw, int(t), 0, n, scales, measured),
                                _refine(raw[:, :3], int(t), 0, n, scales[:3], measured))):
            if s < MIN_WINDOW or n - s <= FLASH:  # no window that short: the render's own first or last frames
                continue
            if any(abs(s - c) <= FLASH for c in cut_set) or any(abs(s - f) < SEAM_GAP for f in found):
                continue
            step, sharp = sharpness(raw, s)
            if step >= SEAM_MIN and sharp >= SEAM_SHARPNESS and concentration(raw, s, measured) >= SEAM_CONCENTRATION \
                    and uniform(raw, mis, s):
                found.append(s)
                break
    found = _extend(raw, regular(found), n, cut_set, scales, measured, mis)
    found = [f for f in merged(kept, found) if f not in kept]  # a found seam near a given one is that one
    if len(found) == 1 and not kept and sharpness(raw, found[0])[1] < ISOLATED_SHARPNESS:
        found = []  # one step, no period and no sidecar: a seam only if it is a clean step between flat levels
    return merged(kept, _on_joins(raw, found, kept, cut_set, scales, measured))


def placed(stats: np.ndarray, t: int, misfits: Sequence[float] | None = None) -> int | None:
    """A seam found near ``t`` placed again on ``stats`` of every frame around it (a few dozen,
    ``seam_window``): the split (all four statistics, then tone and colour alone, as ``find_seams``)
    about the largest filtered step within ``REFINE`` of ``t``, read in the window's own typical
    distances from a level (the frames near ``t`` left out of them: the step and its flash are no
    jitter). No ``onset``: on every frame the split itself sees a flash, and onset read a slow
    trend before a join as one (bench drift_seams' fit half, sampled pairs: 78 → 79 of 84 joins
    on their frame without it). None where no split passes the checks of a seam the period
    continues (half the sharpness): then the seam stays where it was found."""
    raw = _filled(np.asarray(stats, np.float64))
    raw = np.concatenate([raw[:, :3], raw[:, 4:5]], axis=1)
    n = len(raw)
    if n < 2 * LEVEL_FRAMES + FLASH:
        return None
    parts = [p for p in (raw[: max(0, t - REFINE)], raw[t + REFINE + FLASH:]) if len(p) >= 3]
    scales = np.max([_scales(p) for p in parts], axis=0) if parts else _scales(raw)
    mis = np.full(n, np.nan) if misfits is None else np.asarray(misfits, np.float64)
    # the split is looked for about the step's edge on these frames: the sampled one may sit a few
    # frames off it, and a split that far off can fall inside one level and cost only its noise
    dev = _deviation(np.asarray(stats, np.float64))
    near = range(max(1, t - REFINE), min(n - 1, t + REFINE + 1))
    t = max(near, key=lambda j: dev[j]) if len(near) else t
    for s in dict.fromkeys((_refine(raw, t, 0, n, scales), _refine(raw[:, :3], t, 0, n, scales[:3]))):
        if not FLASH <= s < n - FLASH - 1:
            continue
        step, sharp = sharpness(raw, s)
        if step >= SEAM_MIN and sharp >= SEAM_SHARPNESS / 2 and concentration(raw, s) >= SEAM_CONCENTRATION \
                and uniform(raw, mis, s):
            return s
    return None


def _on_joins(raw: np.ndarray, found: Sequence[int], given: Sequence[int], cuts: set[int], scales: np.ndarray,
              measured: np.ndarray) -> list[int]:
    """Each found seam on its join (``onset``), earliest first, moved back no closer than ``SEAM_GAP``
    to a seam before it (given, or found and already placed) and never within ``FLASH`` of a cut:
    the spacing the search kept holds after the move (a seam moved up to a sidecar's would be the
    same join corrected twice, one moved next to a cut a cut read as a join)."""
    out: list[int] = []
    for s in sorted(found):
        floor = max([MIN_WINDOW] + [g + SEAM_GAP for g in (*given, *out) if g < s] + [c + FLASH + 1 for c in cuts if c < s])
        out.append(onset(raw, s, scales, measured, floor))
    return out


def _extend(raw: np.ndarray, found: Sequence[int], n: int, cuts: set[int], scales: np.ndarray,
            measured: np.ndarray, mis: np.ndarray) -> list[int]:
    """Seams regularly spaced (two or more, one period) continued along their period: a weaker
    step (half the sharpness) where the period puts the next window is a seam too."""
    found = sorted(found)
    if len(found) < 2:
        return list(found)
    gaps = np.diff(found)
    period = int(gaps.min())
    if period < 2 * SEAM_GAP or np.any(np.abs(gaps - period * np.round(gaps / period)) > 1):
        return list(found)
    out = list(found)
    x = found[0] - period
    steps_back = [x - k * period for k in range(0, n // period + 1)]
    ahead = [found[-1] + k * period for k in range(1, n // period + 1)]
    between = [f + k * period for f, g in zip(found, found[1:]) for k in range(1, (g - f) // period)]
    for guess in [*steps_back, *between, *ahead]:
        if guess < MIN_WINDOW or n - guess <= FLASH or any(abs(guess - f) < SEAM_GAP for f in out):
            continue
        lo, hi = max(0, guess - 2 * LEVEL_FRAMES), min(n, guess + 2 * LEVEL_FRAMES + FLASH)
        s = _refine(raw, guess, lo, hi, scales, measured)
        step, sharp = sharpness(raw, s)
        if abs(s - guess) <= 1 and step >= SEAM_MIN and sharp >= SEAM_SHARPNESS / 2 and \
                concentration(raw, s, measured) >= SEAM_CONCENTRATION and uniform(raw, mis, s) and \
                not any(abs(s - c) <= FLASH for c in cuts):
            out.append(s)
    return sorted(out)


def _theil_sen(*sides: np.ndarray) -> np.ndarray:
    """Per column, the median slope over every pair of frames within a side (Theil–Sen, pooled)."""
    slopes = []
    for side in sides:
        for i in range(len(side)):
            for j in range(i + 1, len(side)):
                slopes.append((side[j] - side[i]) / (j - i))
    return column_median(slopes) if slopes else np.zeros(sides[0].shape[1])


def over(slope: np.ndarray, frames: float) -> np.ndarray:
    """A trend of ``slope`` a frame over ``frames`` frames; 0 where under ``TREND_MIN`` (the levels' noise)."""
    trend = slope * max(0.0, frames)
    trend[np.abs(trend) < TREND_MIN] = 0.0
    return trend


def steps(stats: np.ndarray, seams: Sequence[int]) -> np.ndarray:
    """Per seam, each statistic's level after minus before, less the local trend (S × 5, grey levels)."""
    v = _filled(np.asarray(stats, np.float64))
    out = np.zeros((len(seams), v.shape[1]))
    bounds = [0, *seams, len(v)]
    for i, s in enumerate(seams):
        # the levels before and after (the FLASH frames after the seam left out; neither side past the next seam)
        lo, hi = max(bounds[i], s - LEVEL_FRAMES), min(bounds[i + 2], s + FLASH + LEVEL_FRAMES)
        before, after = v[lo:s], v[min(s + FLASH, hi - 1):hi]
        if len(before) and len(after):
            gap = (min(s + FLASH, hi - 1) + (len(after) - 1) / 2) - (lo + (len(before) - 1) / 2)  # between centres
            out[i] = column_median(after) - column_median(before) - over(_theil_sen(before, after), gap - 1)
    return out


def drift(stats: np.ndarray, seams: Sequence[int]) -> tuple[float, float]:
    """(drift in grey levels per 100 frames, saturation drift in % per 100 frames) over the seams."""
    stats = np.asarray(stats, np.float64)
    n = len(stats)
    if not seams or n < 2:
        return 0.0, 0.0
    total = steps(stats, seams).sum(axis=0)
    grey = float(np.max(np.abs(total[:4])))
    first = max(SATURATION_FLOOR, float(_finite_median(stats[: max(1, seams[0]), 4])))
    sat = 100.0 * abs(float(total[4])) / first
    return grey * 100.0 / n, sat * 100.0 / n


def seam_step(stats: np.ndarray, seams: Sequence[int]) -> float:
    """The largest step at a seam: the biggest change of a channel mean over the pairs from the
    seam to ``FLASH`` frames past it, less the median change of the pairs around (grey levels)."""
    m = _filled(np.asarray(stats, np.float64))[:, :3]
    n = len(m)
    if n < 3 or not seams:
        return 0.0
    d = np.abs(np.diff(m, axis=0))  # d[t-1]: pair t-1 → t
    worst = 0.0
    for s in seams:
        near = [t for t in range(max(1, s - TREND_HALF), min(n, s + FLASH + TREND_HALF + 1))
                if not s <= t <= s + FLASH]
        typical = column_median(d[[t - 1 for t in near]]) if near else np.zeros(3)
        at = d[s - 1: min(n - 1, s + FLASH)]
        if len(at):
            worst = max(worst, float(np.max(at - typical)))
    return max(0.0, worst)


def plane_stats(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """``STATS`` of one frame from its full-range Y, Cb, Cr planes (any equal or subsampled sizes)."""
    y, cb, cr = (np.asarray(p, np.float32) for p in (y, cb, cr))
    sat = float(np.sqrt(cb.var() + cr.var()))
    return np.array([y.mean(), cb.mean(), cr.mean(), y.std(), sat])


def rgb_stats(img: np.ndarray) -> np.ndarray:
    """``STATS`` of one RGB frame (any range: the statistics come out in its units).

    ``plane_stats`` of the YCbCr planes, by ``cv2.transform`` and ``cv2.meanStdDev`` (double sums):
    numpy's N×3 @ 3×3 product took 19 ms a 320 px frame, this 0.4 ms; equal to 1e-7."""
    ycc = cv2.transform(np.asarray(img, np.float32).reshape(-1, 1, 3), YCC)
    mean, std = (v.ravel() for v in cv2.meanStdDev(ycc))
    return np.array([mean[0], mean[1] + 128, mean[2] + 128, std[0], math.hypot(std[1], std[2])])


def _finite_median(values: np.ndarray) -> float:
    v = np.asarray(values, dtype=np.float64)
    return float(median(v[np.isfinite(v)]))

"""Incoherence: content that changes identity without a cut, which no post-process can fix.

Per analysed pair, the *replaced area*: the fraction of the frame, in big connected areas, whose
content neither frame explains from the other. A pixel is unexplained where, after motion
compensation and the global offsets, its luma or colour differs a lot or its local structure
does not correlate (replaced content of matching brightness), and where the flow keeps it in
the frame (content leaving or entering the view is motion, not replacement). Replaced content
fails both ways at the same place; motion the flow gets wrong fails at an object's leading
edge one way and its trailing edge the other. What is left is searched for nearby in the
other frame: content that moved too far or deformed too much for the flow is still there.

Fast motion still leaves some unexplained area pair after pair, and a swap happens at a
moment: the clip's score is the largest *isolated* replaced area, how far one pair stands
above the ``ISOLATION`` measured pairs on each side. A change spread evenly over many frames
(a slow cross-fade into other content) is not seen: each pair explains most of it.

A brightness change that fades out smoothly (a strong breathing region, whose centre can move
by more than ``BIG_CHANGE`` between frames) grows by 2-7x when the bar is halved, while replaced
content ends at its outline (1.3x at the median); past ``SOFT_GROWTH`` the pair is flicker.
"""

from __future__ import annotations

import cv2
import numpy as np

from flickerd import flow as of
from flickerd.diagnose import global_flicker
from flickerd.diagnose.global_flicker import YCC

BIG_CHANGE = 28.0  # grey levels of luma (after global offset removal)
SIGNIFICANT_AREA = 0.04  # fraction of the frame: replaced areas well below this end the look early
SOFT_GROWTH = 3.0  # area over BIG_CHANGE / 2 this many times the area over BIG_CHANGE: a soft change


def _opening_size(shape: tuple[int, ...]) -> int:
    """The side (px, odd) of the opening that keeps only object-sized areas: 1/24 of the short side."""
    return max(3, int(min(shape[:2]) / 24) | 1)


def _big(residual_y: np.ndarray, level: float, inside: np.ndarray | None) -> np.ndarray:
    big = (np.abs(residual_y) > level).astype(np.uint8)
    if inside is not None:
        big &= inside.view(np.uint8)
    k = _opening_size(residual_y.shape)
    return cv2.morphologyEx(big, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))


def unexplained_area(residual_y: np.ndarray, inside: np.ndarray | None = None) -> float:
    """Fraction of the frame in big connected areas of large residual; ``inside``: where the
    flow stays in the frame (content leaving the view is not replaced content)."""
    area = float(_big(residual_y, BIG_CHANGE, inside).mean())
    if area > SIGNIFICANT_AREA and float(_big(residual_y, BIG_CHANGE / 2, inside).mean()) > SOFT_GROWTH * area:
        return 0.0  # a smooth brightness change (see the module docstring), not replaced content
    return area


STRUCTURE_SIGMA = 1.0  # px: the blur before comparing structure (regenerated fine detail is not identity)
STRUCTURE_WINDOW = 9  # px: side of the window whose correlation says whether the structure is the same
STRUCTURE_NCC = 0.3  # correlation below this in a textured window: other content
TEXTURED_STD = 4.0  # grey levels: windows flatter than this in both frames have no structure to compare


def structure_changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """uint8 mask of where ``b`` (warped onto ``a``) shows other structure: low local correlation.

    Brightness and contrast changes (flicker, a breathing region) keep the correlation; replaced
    content loses it even when its brightness matches what was there.
    """
    a = cv2.GaussianBlur(a.astype(np.float32), (0, 0), STRUCTURE_SIGMA)
    b = cv2.GaussianBlur(b.astype(np.float32), (0, 0), STRUCTURE_SIGMA)
    k = (STRUCTURE_WINDOW, STRUCTURE_WINDOW)
    ma, mb = cv2.boxFilter(a, -1, k), cv2.boxFilter(b, -1, k)
    va = cv2.boxFilter(a * a, -1, k) - ma * ma
    vb = cv2.boxFilter(b * b, -1, k) - mb * mb
    cov = cv2.boxFilter(a * b, -1, k) - ma * mb
    textured = np.maximum(va, vb) > TEXTURED_STD**2
    ncc = cov / np.sqrt(np.maximum(va, 1e-3) * np.maximum(vb, 1e-3))
    return (textured & (ncc < STRUCTURE_NCC)).view(np.uint8)


CHROMA_CHANGE = 20.0  # grey levels of Cb/Cr distance (after global offset removal): another colour


def _unexplained(residual: np.ndarray, a: np.ndarray, b_warped: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """uint8 mask of big connected areas whose luma, colour or structure the other frame does not explain;
    ``residual``: HxWx3 (Y, Cb, Cr) grey levels, global offsets removed."""
    # numpy's plane copies: cv2.split costs ~3x as much at the analysis size
    y, cb, cr = (np.ascontiguousarray(residual[..., i]) for i in range(3))
    big = (np.abs(y) > BIG_CHANGE) | (cv2.magnitude(cb, cr) > CHROMA_CHANGE)
    big = big.view(np.uint8) | structure_changed(a, b_warped)
    big &= inside.view(np.uint8)
    k = _opening_size(y.shape)
    return cv2.morphologyEx(big, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))


def replaced_area(prev_gray: np.ndarray, cur_gray: np.ndarray, forward: np.ndarray, flow: np.ndarray,
                  back_flow: np.ndarray, backward, inside: np.ndarray) -> float:
    """Fraction of the frame whose content is replaced: unexplained both ways at the same place.

    ``forward``: prev − W(cur) as (Y, Cb, Cr) residuals (global offsets removed) on prev's pixels;
    ``backward()``: gives cur − W(prev) likewise on cur's pixels (made only when needed);
    ``inside``: ``flow.inside(flow)``.
    A pixel is unexplained where its residual is large or its structure differs, and the flow
    keeps it in the frame. Replaced content fails both ways where it sits. Motion the flow gets
    wrong fails at an object's leading edge one way and its trailing edge the other; a pan fails
    where content leaves one way and where it enters the other.
    """
    fwd = _unexplained(forward, prev_gray, of.warp(cur_gray, flow), inside)
    if fwd.mean() < SIGNIFICANT_AREA / 4:
        return float(fwd.mean())
    bwd = _unexplained(backward(), cur_gray, of.warp(prev_gray, back_flow), of.inside(back_flow))
    both = fwd & bwd
    if both.mean() < SIGNIFICANT_AREA / 4:
        return float(both.mean())
    # Not other_structure here: a real swap (DynamiCrafter's honey, fit half) correlates 0.53-0.56
    # across its pair (0.46-0.54 along a smoothed flow too), over the bar, so it would be missed,
    # while the areas of Allegro's aurora that make its panned and frame-skipped copies incoherent
    # read 0.67-0.94: no bar with a margin between them.
    return float(_not_found(both, cur_gray, prev_gray).mean())


FOUND_RMSE = 14.0  # grey levels: content matched this closely nearby in the other frame moved there (GIF dither and
# blur leave ~10 on moved content; replaced content is far off)
SEARCH = 0.2  # the search reaches this fraction of the frame's longer side beyond the region


def _not_found(mask: np.ndarray, cur_gray: np.ndarray, prev_gray: np.ndarray,
               only: np.ndarray | None = None) -> np.ndarray:
    """``mask`` without the areas whose content (in ``cur_gray``) exists nearby in ``prev_gray``.

    Content that moved further or deformed more than the flow can follow is still there, shifted;
    replaced content is nowhere near. Each connected area's inner box is searched for.
    ``only`` (flat pixel indices): areas without any of them are left unsearched (and kept).
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    wanted = np.ones(n, bool)
    if only is not None:
        wanted[:] = False
        wanted[labels.ravel()[only]] = True
    h, w = mask.shape
    reach = int(SEARCH * max(h, w))
    a = cv2.GaussianBlur(cur_gray, (0, 0), 1.0).astype(np.float32)
    b = cv2.GaussianBlur(prev_gray, (0, 0), 1.0).astype(np.float32)
    out = mask.copy()
    for i in range(1, n):
        if not wanted[i]:
            continue
        x, y, bw_, bh, _area = stats[i]
        # the inner half of the box: the content itself, not its surroundings
        x0, y0, x1, y1 = x + bw_ // 4, y + bh // 4, x + bw_ - bw_ // 4, y + bh - bh // 4
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue
        template = a[y0:y1, x0:x1]
        sx0, sy0 = max(0, x0 - reach), max(0, y0 - reach)
        sx1, sy1 = min(w, x1 + reach), min(h, y1 + reach)
        ssd = cv2.matchTemplate(b[sy0:sy1, sx0:sx1], template, cv2.TM_SQDIFF)
        best = float(ssd.min()) / template.size
        if best < FOUND_RMSE**2:
            out[labels == i] = 0
    return out


def pair_area(prev_rgb: np.ndarray, cur_rgb: np.ndarray, prev_gray: np.ndarray, cur_gray: np.ndarray,
              c, offsets: np.ndarray, inside: np.ndarray) -> float:
    """The replaced area of a compensated pair (``warping.Compensated``; ``offsets``: its global (Y, Cb, Cr)
    offsets; ``inside``: ``flow.inside(c.flow)``)."""
    forward = c.residual @ YCC.T - offsets
    if unexplained_area(np.ascontiguousarray(forward[..., 0]), inside) == 0:
        return 0.0  # nothing, or a smooth brightness change
    return replaced_area(prev_gray, cur_gray, forward, c.flow, c.back,
                         lambda: c.backward_residual(prev_rgb, cur_rgb) @ YCC.T + offsets, inside)


ISOLATION = 2  # measured pairs on each side that an event must stand above


def isolated(areas) -> np.ndarray:
    """Per pair: its replaced area above the largest of the ``ISOLATION`` measured pairs on each side.

    An object that changes identity does so at a moment, and the pairs around it are explained
    (the new content moves coherently). Motion the flow cannot follow, or a subject deforming
    fast, leaves unexplained areas pair after pair, which cancel here. NaN where not measured.

    A pair needs a measured pair on each side (up to ``ISOLATION``): the clip's first and last
    pairs read 0, as they cannot be shown to stand alone. Measured on the fit half with harsher
    motion than the bench's (every 4th or 6th frame, a 30 px/frame pan of every 3rd): 3 of the 4
    clips then called incoherent were so at their first pair (a HunyuanVideo render's first frames
    differ most); no injected identity change moved on either half. (Asking for two on each side
    cleared the fourth too, but left a 16-frame render's first and last two pairs unjudged.)
    """
    a = np.asarray(areas, np.float64)
    measured = np.flatnonzero(~np.isnan(a))
    out = np.full(a.shape, np.nan)
    out[measured] = 0.0
    for k in range(1, len(measured) - 1):
        around = a[measured[max(0, k - ISOLATION):k]].tolist() + a[measured[k + 1:k + 1 + ISOLATION]].tolist()
        out[measured[k]] = max(0.0, a[measured[k]] - max(around))
    return out


def incoherence_score(isolated_areas) -> float:
    """The clip's largest isolated replaced area (fraction of the frame; 0 when none was measured)."""
    v = np.asarray(isolated_areas, np.float64)
    v = v[~np.isnan(v)]
    return float(v.max()) if v.size else 0.0


# A cross-fade into other content is explained pair by pair (each step is small) but not from
# FADE_LOOK frames before: along the motion chained over those pairs, the region holds other
# content, and it stays so for several long looks. Fast motion is followed pair by pair, so the
# chain follows it too. Only pixels the chain keeps in the frame at every link are judged.
# What else fails a long look: chained-flow error (zooms, frame skips, smooth shading the flow
# lags behind) and regenerated texture drifting. A fade moves each pixel steadily from the old
# content to the new, so the pairs' own residuals, read along the chain, point the same way
# (``steady``); regenerated texture gives steps of either sign. And a fade replaces
# content, far off in level or colour both ways, where lagging shading is a smaller change.
FADE_RUN = 3  # consecutive long looks a replaced area must last (a fade takes several frames)
# A fade's steps go one way (FADE_ONE_WAY of their summed size along the change) and are spread over
# the look (no pair carries more than FADE_SPREAD of the change: a one-pair jump is the per-pair look's).
# Until session 21 a step had to exceed 1 grey level at all but one pair: a fade whose ramp fills fewer
# pairs than the look (a 6-frame fade seen by a look that starts or ends off it) or whose content one
# pair's flow partly follows lost those pixels, and only the one look aligned with the ramp kept its
# area. Real-render bench, fit half (issue 16, session 21; README "Cross-fades, steady steps (session 21)"),
# each clip's fade read both ways in one pass: cross-fades of smooth renders about double (LaVie's shark at
# half strength 0.028 -> 0.054, over the 0.0385 bar; DynamiCrafter's honey 0.050 -> 0.079), those of the
# noodle renders move by under 0.004 either way, and no clip outside the identity changes rose (the largest,
# FastHunyuan as it is and zoomed 2 %/frame, 0.015 -> 0.012 and 0.023 -> 0.019). 0.8 is the middle of the
# values tried on the fit half (0.7, 0.8, 0.9: cross-fades' fade falls with it, the rest's too).
FADE_ONE_WAY = 0.8
FADE_SPREAD = 0.5
FADE_LEVEL = 56.0  # grey levels (Y, Cb, Cr distance): the long look's change, both ways, at a faded pixel


def chain(flows, steps: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The flows of consecutive pairs (each on its first frame's pixels) composed into one
    (on the first frame's pixels, to the last frame), and where every link stayed in the frame.
    ``steps``: if given, gets the chain so far before each link (zeros first). Nothing returned
    is written to later (no copies): a one-link chain is its flow."""
    total = flows[0]
    if steps is not None:
        steps += [np.zeros_like(total), total]
    kept = of.inside(total)
    for f in flows[1:]:
        total = total + of.warp(f, total)  # the next link, read where the chain has got to
        kept &= of.inside(total)
        if steps is not None and len(steps) < len(flows):
            steps.append(total)
    return total, kept


def steady(along: np.ndarray) -> np.ndarray:
    """Per pixel (columns of ``along``: pairs x pixels, each pair's step along the long look's change,
    grey levels; they sum to the change): whether the steps go one way and are spread over the look
    (``FADE_ONE_WAY``, ``FADE_SPREAD``). Steps of 0 (pairs before or after the fade) count for neither;
    a pixel with no change at all is no fade. A look needs 3 pairs or more (``DiagnoseSettings.fade_look``):
    over 2, one of a fade's steps always carries half of it or more."""
    change = along.sum(axis=0)
    return ((change > 0) & (change >= FADE_ONE_WAY * np.abs(along).sum(axis=0))
            & (along.max(axis=0) <= FADE_SPREAD * change))


def long_area(first_rgb: np.ndarray, last_rgb: np.ndarray, first_gray: np.ndarray, last_gray: np.ndarray,
              forward_flows, backward_flows, residuals) -> float:
    """The faded area between two frames several pairs apart, judged along the chained motion.

    ``forward_flows``: each pair's flow (first → last order), ``backward_flows``: each pair's
    back flow in the same order, ``residuals``: each pair's (Y, Cb, Cr) residual, global offsets
    removed, on its first frame's pixels. The pair test's replaced area (unexplained both ways,
    not found nearby), kept where the change is ``FADE_LEVEL`` both ways and the pairs step
    steadily towards it (``steady``), in areas whose detail is another
    picture's (``other_structure``: a light brightening keeps the detail it lights), that are
    not a light on a plain ground (``lit``) and that a direct flow first → last does not explain
    (``direct_unexplained``, with ``DIRECT_LOOK``).
    """
    steps: list = []
    fw, fw_in = chain(forward_flows, steps)
    residual = cv2.subtract(first_rgb, of.warp(last_rgb, fw), dtype=cv2.CV_32F)
    offsets = global_flicker.pair_offsets(residual, fw_in)
    forward = residual @ YCC.T - offsets
    last_seen = of.warp(last_gray, fw)  # the last frame's grey levels on the first frame's pixels
    fwd = _unexplained(forward, first_gray, last_seen, fw_in)
    if fwd.mean() < SIGNIFICANT_AREA / 4:
        return 0.0
    bw, bw_in = chain(backward_flows[::-1])  # only where the forward look found something (most looks end above)
    backward = cv2.subtract(last_rgb, of.warp(first_rgb, bw), dtype=cv2.CV_32F) @ YCC.T + offsets
    both = fwd & _unexplained(backward, last_gray, of.warp(first_gray, bw), bw_in)
    if both.mean() < SIGNIFICANT_AREA / 4:
        return 0.0
    # from here on only the pixels still in question are read (flat indices, row-major like a mask's)
    at = np.flatnonzero(both)
    at = at[np.linalg.norm(forward.reshape(-1, forward.shape[2])[at], axis=1) > FADE_LEVEL]
    at = at[np.linalg.norm(of.warp_at(backward, fw, at), axis=1) > FADE_LEVEL]  # read on the first frame's pixels
    if not at.size:
        return 0.0
    at = at[_not_found(both, last_gray, first_gray, at).ravel()[at] != 0]  # areas with none of them: not searched
    if not at.size:
        return 0.0
    pair = np.stack([of.warp_at(r, p, at) for r, p in zip(residuals, steps)])  # pairs x pixels x (Y, Cb, Cr)
    total = pair.sum(axis=0)
    along = (pair * (total / (np.linalg.norm(total, axis=1, keepdims=True) + 1e-6))).sum(axis=2)
    faded = np.zeros(first_gray.shape, np.uint8)
    faded.reshape(-1)[at] = steady(along)
    faded = other_structure(faded, first_gray, last_seen, fw_in)
    if not faded.any():
        return 0.0
    # last: it only takes areas away, so no look's area can grow (other_structure's grown areas are unchanged)
    faded[lit(both, forward[..., 0], first_gray, last_seen)] = 0
    if DIRECT_LOOK and faded.any():
        faded &= direct_unexplained(first_rgb, last_rgb, first_gray, last_gray, fw, offsets)
    return float(np.count_nonzero(faded) / faded.size)


# A chain of six flows adds up six errors: a zoom's scale change, the larger steps of a clip with skipped frames,
# a hand-held crop's turns and content deforming faster than a pair's flow follows all leave the chain a few
# pixels off, and the long look then reads moved content as replaced. One flow from the first frame straight
# to the last, started from the chain (so it need not find large motion on its own) and refined by DIS,
# follows the content where it is the same content moved or deformed; a cross-fade's new content is not the
# old one anywhere, so no flow explains it. Faded pixels this direct look explains are dropped (last, like lit:
# the look's area can only fall). Fit half of the real-render bench (issue 16, session 20; /work/notes/d20), 284
# clips whose fade can matter: cross-fades 12/24 and swaps 40/48 kept, the largest fade outside identity changes
# 0.0373 -> 0.0294 (every 5th/6th frame of a noodle render; bar 0.0385); cross-fades keep 0.82 of their fade at
# the median, stress clips 0.54-0.84. Started from the global shift instead of the chain it lost 2 cross-fades.
DIRECT_LOOK = True
DIRECT_PRESET = "medium"  # finer than the pairs' preset: one flow per look, and only where a fade is left


def direct_unexplained(first_rgb: np.ndarray, last_rgb: np.ndarray, first_gray: np.ndarray, last_gray: np.ndarray,
                       chained: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """uint8 mask (on the first frame's pixels) of what the last frame does not explain along a direct flow
    first → last started from ``chained`` (the chained flow; not written to); ``offsets``: the look's global
    (Y, Cb, Cr) offsets."""
    direct = of.flow_from(first_gray, last_gray, chained, DIRECT_PRESET)
    residual = cv2.subtract(first_rgb, of.warp(last_rgb, direct), dtype=cv2.CV_32F) @ YCC.T - offsets
    return _unexplained(residual, first_gray, of.warp(last_gray, direct), of.inside(direct))


# A light that brightens (an aurora, a lamp, sunrise) changes the level of the picture that is there: its
# detail keeps its shape, scaled and offset, so the detail's correlation across the long look stays high.
# A cross-fade to other content leaves the old detail's share: for equal contrast the correlation is
# (1 - a) / sqrt((1 - a)^2 + a^2) at blend a, under SAME_STRUCTURE_NCC = 0.5 once more than 63 % is new.
# Fit half of the real-render bench (fade_look 6), four renders with a region lit up
# (synth.inject.light_change): cross-faded regions 0.0-0.2 (their runs' looks), the lit ones 0.6-0.94;
# any bar from 0.4 to 0.6 keeps the same 7 of 8 cross-fades there, and the lights' fade falls from up to
# 0.061 to 0.030 at most. Whole fit half at fade_threshold 0.0385: cross-fades 12/24 (14 without the
# test: the lone hiker's run ends on a look that still correlates 0.57), nothing else incoherent.
# What the model leaves out: the correlation is taken over the grown area, a ring of unchanged
# surroundings included, which lifts it for small areas (80 px square, 65 % new: 0.58, not 0.44);
# an area without detail (sky, a plain wall) correlates about 0 and still counts as a fade; and a
# fade much longer than the look keeps fewer looks over the bar (14 frames: 4 of 9).
SAME_STRUCTURE_NCC = 0.5
DETAIL_SIGMAS = (1.0, 8.0)  # px: the detail compared, band-passed (noise below, the light's own falloff above)


def other_structure(mask: np.ndarray, a: np.ndarray, b: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """``mask`` (uint8) without the areas whose detail in ``b`` (warped onto ``a``) is ``a``'s own, lit
    differently: per connected area (grown by the pair test's opening size, within ``inside``), the
    correlation of the band-passed grey levels is at least ``SAME_STRUCTURE_NCC``."""
    k = _opening_size(mask.shape)
    grown = cv2.dilate(mask, np.ones((k, k), np.uint8)) & inside.view(np.uint8)
    n, labels = cv2.connectedComponents(grown, connectivity=8)
    if n <= 1:
        return mask

    def detail(g: np.ndarray) -> np.ndarray:
        g = g.astype(np.float32)
        return cv2.GaussianBlur(g, (0, 0), DETAIL_SIGMAS[0]) - cv2.GaussianBlur(g, (0, 0), DETAIL_SIGMAS[1])

    # only the labelled pixels, in the same order: the areas' sums are the same, the background's unused
    where = np.flatnonzero(labels)
    x, y, lab = detail(a).ravel()[where], detail(b).ravel()[where], labels.ravel()[where]

    def per_area(w: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(lab, w, minlength=n)

    cnt = np.maximum(per_area(), 1)
    mx, my = per_area(x) / cnt, per_area(y) / cnt
    cov = per_area(x * y) / cnt - mx * my
    vx, vy = per_area(x * x) / cnt - mx * mx, per_area(y * y) / cnt - my * my
    ncc = cov / np.sqrt(np.maximum(vx * vy, 1e-6))
    keep = ncc < SAME_STRUCTURE_NCC
    keep[0] = False
    return mask & keep[labels].view(np.uint8)


# A light coming on over a plain ground (an aurora's band over the night sky, a lamp on a bare wall)
# leaves other_structure nothing to compare: the ground has no detail, so its correlation with the lit
# picture is about 0, as a cross-fade's. Such a change is one-signed, all brighter (or, dimming, all
# darker), and its darker end is plain. Replaced content is brighter in parts and darker in others, or
# covers ground that had detail of its own. Fit half of the real-render bench (issue 16, session 17), with
# aurora-like bands that brighten, dim and sway over five fit renders (as they are and zoomed 6 %/frame;
# /work/notes/d17): their largest fade fell from 0.037 (bar 0.0385) to 0.013, and all 24 cross-fades' fade
# stayed the same for LIGHT_SIGN 0.8-0.95 with LIGHT_PLAIN 6-10 (without the plain test 0.8 cost 2 of them).
# The limit: content fading in over a plain ground darker than all of it (a bright object on a black sky)
# reads as a light too.
LIGHT_SIGN = 0.9  # share of an area's changed pixels (luma change > BIG_CHANGE / 2) changing one way: a light
LIGHT_PLAIN = 6.0  # grey levels: the band-passed detail (DETAIL_SIGMAS) of the area's darker end under this is plain


def lit(both: np.ndarray, change_y: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bool mask: the connected areas of ``both`` (uint8) that are a light on a plain ground, not other
    content. ``change_y``: luma of ``a`` − ``b`` (``b`` warped onto ``a``, global offset removed);
    a light's is one-signed over ``LIGHT_SIGN`` of the area's changed pixels, and the darker end's
    detail is under ``LIGHT_PLAIN``."""
    n, labels = cv2.connectedComponents(both, connectivity=8)
    lab, y = labels.ravel(), change_y.ravel()
    moved = np.abs(y) > BIG_CHANGE / 2
    pos = np.bincount(lab[moved & (y > 0)], minlength=n)
    neg = np.bincount(lab[moved & (y < 0)], minlength=n)
    one_way = np.maximum(pos, neg) >= LIGHT_SIGN * np.maximum(pos + neg, 1)
    one_way[0] = False
    if not one_way.any():
        return np.zeros(both.shape, bool)
    cnt = np.maximum(np.bincount(lab, minlength=n), 1)

    def spread(g: np.ndarray) -> np.ndarray:
        g = g.astype(np.float32)
        d = (cv2.GaussianBlur(g, (0, 0), DETAIL_SIGMAS[0]) - cv2.GaussianBlur(g, (0, 0), DETAIL_SIGMAS[1])).ravel()
        m = np.bincount(lab, d, minlength=n) / cnt
        return np.sqrt(np.maximum(np.bincount(lab, d * d, minlength=n) / cnt - m * m, 0.0))

    darker = np.where(neg > pos, spread(a), spread(b))  # change a − b < 0: ``a`` is the darker end
    return (one_way & (darker < LIGHT_PLAIN))[labels]


def fade_score(long_areas) -> float:
    """The clip's largest replaced area that lasts ``FADE_RUN`` consecutive measured long looks
    (the smallest of the run; fraction of the frame; 0 when too few were measured)."""
    a = np.asarray(long_areas, np.float64)
    a = a[~np.isnan(a)]
    if a.size < FADE_RUN:
        return 0.0
    runs = np.lib.stride_tricks.sliding_window_view(a, FADE_RUN).min(axis=1)
    return float(runs.max())

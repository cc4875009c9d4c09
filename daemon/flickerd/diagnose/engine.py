"""The streaming driver: one decode pass, a two-frame window, every measure fed per pair.

Frames come from ``flickerd.media.planes`` as the decoder's own Y/Cb/Cr planes, decoded on a
second thread. Every decoded frame gives its cheap numbers (means, the cut histogram) straight
from the planes; only the frames the pair measures or the codec samples use are resized to
the detail scale (at most 1280 px: blocking) and the analysis scale (at most ``max_side``:
flow, flicker, banding, incoherence) and converted to RGB; regenerated texture is judged on
native-resolution tiles of the decoded planes. Flow runs on every pair of clips up to
``every_pair_up_to`` frames and on evenly spread frame triples of longer ones (``max_pairs``); there the decoder
skips the frames nothing needs and no other frame is predicted from (timeline entries of
skipped frames hold None). Which frames are read, and at which sizes, is ``plan``'s.
"""

from __future__ import annotations

import math
import os
import time
from array import array
from collections import deque
from collections.abc import Callable

import numpy as np

from flickerd import flow as of
from flickerd.diagnose import (baseline, blockgrid, codec, cuts, drift, global_flicker, incoherence, local, plan,
                               seam_window, verdict, warping)
from flickerd.diagnose.frames import FrameView, Geometry
from flickerd.diagnose.model import Diagnosis, FramePoint
from flickerd.diagnose.settings import DiagnoseSettings
from flickerd.quality import texture
from flickerd.media.planes import PlaneReader

PROGRESS_EVERY = 16  # frames between progress callbacks


def _opt(v: float) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def run(
    path: str | os.PathLike,
    settings: DiagnoseSettings = DiagnoseSettings(),
    progress: Callable[[float], None] | None = None,
    started: plan.Started | None = None,
    seams: tuple[int, ...] = (),
    tiles_of: texture.PairMotions | None = None,
) -> Diagnosis:
    """Diagnose one video file. Raises ``flickerd.errors.InputError`` subclasses for bad input.

    ``started``: this file already probed and decoding (``plan.start``, same settings).
    ``seams``: frames known to start a render window (a sidecar's); more are looked for.
    ``tiles_of``: native tile motions of the video this one is a fix of, frame for frame
    (verification's, ``verify.check``): its texture is then judged on the same tiles along the
    input's motion, as verification judges it; pairs without them on tiles of their own.
    """
    start = time.monotonic()
    path = os.fspath(path)
    if started is None:
        started = plan.start(path, settings)
    elif started.path != path:
        raise ValueError(f"started for {started.path}, not for {path}")
    info, p = started.info, started.plan
    n, series = _analyse(started.reader, settings, p, progress, (info.width, info.height), info.fps or 25.0, tiles_of)
    blocking = codec.blocking_score(series["blocking"], series["keyframe"])
    scores, segments = verdict.scores_and_segments(series, blocking, settings)
    tex = verdict.texture_series(series, blocking, settings)
    given = seams
    seams = drift.find_seams(series["drift_stats"], series["cuts"], given, np.frombuffer(series["misfit"]))
    if settings.seam_window and p.stride > 2:  # frames skipped: seams found placed again on every frame about them
        geometry = Geometry.of(info.width, info.height, p.detail_scale, p.factor)
        means = np.frombuffer(series["ycc"]).reshape(-1, 3)
        placed = seam_window.place(path, [s for s in seams if s not in given], given, series["cuts"], means,
                                   geometry, settings.grid, settings.seam_window)
        seams = tuple(sorted({*(s for s in seams if s in given), *placed}))
    scores["drift"], scores["drift_saturation"] = drift.drift(series["drift_stats"], seams)
    scores["seams"] = float(len(seams))
    v, confidence = verdict.decide(scores, settings)
    tone = series["drift_stats"]
    timeline = tuple(
        FramePoint(
            index=t, time_s=series["time"][t], warp_error=_opt(series["warp"][t]), luma=_opt(series["luma"][t]),
            luma_flicker=_opt(series["luma_flicker"][t]), chroma_flicker=_opt(series["chroma_flicker"][t]),
            local_flicker=_opt(series["local"][t]), texture_flicker=_opt(tex[t]),
            incoherence=_opt(series["incoherent"][t]), mean_diff=_opt(series["mean_diff"][t]),
            flow_failure=_opt(series["failure"][t]), banding=_opt(series["banding"][t]),
            blocking=_opt(series["blocking"][t]),
            tone_y=_opt(tone[t, 0]), tone_cb=_opt(tone[t, 1]), tone_cr=_opt(tone[t, 2]),
            cut=t in series["cuts"], keyframe=series["keyframe"][t],
        )
        for t in range(n)
    ) if settings.timeline else ()
    if progress:
        progress(1.0)
    return Diagnosis(
        file=path, verdict=v, confidence=confidence, scores=scores, frames=n, fps=info.fps,
        width=info.width, height=info.height, duration_s=info.duration_s or n / max(info.fps, 1e-6),
        timeline=timeline, segments=segments, cuts=tuple(sorted(series["cuts"])), seams=seams,
        settings=settings.to_dict() | {"pair_stride": p.stride, "analysis_scale": p.scale},
        seconds=time.monotonic() - start, rotation=started.reader.rotation,
    )


_SKIPPED = {"warp": math.nan, "luma": math.nan, "mean_diff": math.nan, "failure": math.nan, "banding": math.nan,
            "blocking": math.nan, "keyframe": False, "offsets": None, "tone_offsets": None, "texture": math.nan,
            "texture_off_grid": math.nan, "texture_excess": math.nan, "texture_excess_off_grid": math.nan,
            "area": math.nan, "fade": math.nan}


_NO_YCC = (math.nan, math.nan, math.nan)
_NO_TONE = (math.nan, math.nan)


def _tone_offset(prev: FrameView | None, view: FrameView, pair: dict, cut: bool,
                 grid: tuple[int, int]) -> tuple[np.ndarray | None, float]:
    """The pair's motion-compensated tone offset for the drift levels and its cells' ``drift.misfit``:
    the flicker measures' own where the pair was analysed, else the thumbnails' where the frame
    means moved enough to matter."""
    if prev is None or cut or pair["offsets"] is not None:
        return (None, math.nan) if cut else (pair["offsets"], pair["misfit"])
    if float(np.max(np.abs(view.means() - prev.means()))) < drift.THUMB_STEP:
        return None, math.nan
    return drift.thumb_pair(prev.thumbnails(), view.thumbnails(), view.planes.full_range, grid)


def _skip_to(series: dict, lmap: local.LocalMap, n: int, t: int, fps: float) -> None:
    """Fill the series for frames n..t-1, which the decoder skipped (nobody predicts from them)."""
    for i in range(n, t):
        for key, value in _SKIPPED.items():
            series[key].append(value)
        series["time"].append(i / fps)
        series["ycc"].extend(_NO_YCC)
        series["tone"].extend(_NO_TONE)
        series["misfit"].append(math.nan)
        series["local"].append(lmap.add(None))


# Per-frame numbers are kept as packed doubles (8 bytes a frame each, where a list of floats
# holds 32): an hour at 24 fps keeps its series in about 10 MB; "ycc" holds three a frame.
_PAIR_SERIES = ("mean_diff", "warp", "failure", "texture", "texture_off_grid", "texture_excess",
                "texture_excess_off_grid", "area")
_FLOAT_SERIES = ("time", "luma", "banding", "blocking", "local", "ycc", "tone", "misfit", *_PAIR_SERIES)
_NO_PAIR = {k: math.nan for k in _PAIR_SERIES} | {"offsets": None, "cells": None, "misfit": math.nan, "flows": None}


def _pair_measures(prev: FrameView, view: FrameView, s: DiagnoseSettings, factor: int,
                   given: tuple[texture.TileMotion, ...] | None = None) -> dict:
    """The flow-based measures of one sampled pair (t−1, t), keyed as the series are; ``given``:
    its tiles' motions, found already (``run``'s ``tiles_of``)."""
    c = warping.compensate(prev.rgb, view.rgb, s.flow_preset, prev.gray, view.gray)
    offsets = global_flicker.pair_offsets(c.residual, c.mask)
    ry_local = c.residual @ global_flicker.YCC[0] - offsets[0]
    if factor == 1 and min(view.planes.y.shape) < texture.TILE + 2 * texture.TILE_MARGIN:
        prev_y = prev.gray.astype(np.float32)  # too small for native tiles: the analysis frame is native
        tiles = blockgrid.frame_measures(prev_y, prev_y - ry_local - offsets[0], c.mask, c.flow)
    else:
        motions = given
        if motions is None:
            native = prev.planes.y.shape[1] / prev.gray.shape[1]
            origins = texture.tile_origins(prev.gray, c.mask, native, prev.planes.y.shape)
            motions = tuple(texture.tile_motions(prev.planes.y, view.planes.y, c.flow, c.mask, native, origins))
        tiles = blockgrid.tile_measures(prev.planes.y, view.planes.y, motions)
    tex, tex_off = tiles.ratios()
    excess, excess_off = tiles.excesses()
    inside = of.inside(c.flow)  # content still in view: the local cells and the replaced area judge only it
    cells = local.cell_levels(ry_local, s.grid, inside)
    return {
        "mean_diff": baseline.mean_diff(prev.rgb, view.rgb),
        "warp": warping.warp_error(c.residual, c.mask),
        "failure": 1.0 - np.count_nonzero(c.mask) / c.mask.size,
        "texture": tex,
        "texture_off_grid": tex_off,
        "texture_excess": excess,
        "texture_excess_off_grid": excess_off,
        "area": incoherence.pair_area(prev.rgb, view.rgb, prev.gray, view.gray, c, offsets, inside),
        "offsets": offsets,
        "cells": cells,
        # the cells' agreement on one change of tone, where the pair's tone moves enough to be a seam's
        "misfit": drift.misfit(cells + float(offsets[0]), prev.gray) if abs(offsets[0]) >= drift.SEAM_MIN else math.nan,
        # the cross-fade look's links: flows and the (Y, Cb, Cr) residual, only when it looks
        "flows": (c.flow, c.back, c.residual @ global_flicker.YCC.T - offsets) if s.fade_look else None,
    }


def _analyse(reader: PlaneReader, s: DiagnoseSettings, p: plan.Plan, progress: Callable[[float], None] | None,
             size: tuple[int, int], fps: float, tiles_of: texture.PairMotions | None = None) -> tuple[int, dict]:
    """Analyse the planes at 1/``factor`` of the detail scale (blocking uses the detail); ``tiles_of``:
    tile motions found already (``run``)."""
    period = int(round(8 * p.detail_scale)) if p.detail_scale <= 1 else 0
    factor, total = p.factor, p.total
    geometry = Geometry.of(size[0], size[1], p.detail_scale, factor)
    series: dict = {k: array("d") for k in _FLOAT_SERIES} | {"keyframe": [], "offsets": [], "tone_offsets": []}
    cut_set: set[int] = set()
    lmap = local.LocalMap(s.grid)
    prev: FrameView | None = None
    prev_hist = None
    n = key_samples = 0
    # the last fade_look consecutive measured pairs: (first frame's view, forward flow, back flow, residual)
    links: deque = deque(maxlen=max(1, s.fade_look))
    series["fade"] = array("d")
    for planes in reader:
        t = planes.index
        _skip_to(series, lmap, n, t, fps)
        n = t
        view = FrameView(planes, geometry)
        hist = view.histogram()
        series["time"].append(planes.time_s)
        series["keyframe"].append(planes.pict_type == 1 or planes.keyframe)
        ycc = view.means()
        series["ycc"].extend(ycc)
        series["luma"].append(float(ycc[0]))
        series["tone"].extend(view.spreads())
        sampled = p.codec_sample(t)
        series["banding"].append(codec.banding(view.gray) if sampled else float("nan"))
        # I-frames are always measured too: at a very high CRF their blocks sit on the grid, while
        # P-frames carry moved copies of them off it, where the grid measure cannot see them
        key = series["keyframe"][-1]
        block = period >= 2 and (sampled or (key and key_samples < s.codec_samples))
        key_samples += key and block
        series["blocking"].append(codec.grid_blocking(view.detail, period) if block else float("nan"))
        pair = _NO_PAIR
        jump = float("nan")
        if prev is not None:
            jump = cuts.histogram_jump(prev_hist, hist)
            adjacent = prev.planes.index == t - 1
            sampled_pair = adjacent and p.sampled_pair(t)
            # A colour jump off the sampled pairs asks the thumbnails, then the flow, whether it is
            # a cut; a clear jump is one without asking. Neither adds a sample to the flicker measures.
            candidate = not sampled_pair and s.cut_threshold <= jump <= 2 * s.cut_threshold
            # plainly one shot: flicker moves histograms too
            one_shot = candidate and cuts.same_shot(prev.thumb, view.thumb)
            candidate = candidate and not one_shot
            failure = area = float("nan")
            if candidate:
                failure, area = cuts.flow_evidence(prev.rgb, view.rgb, s.flow_preset)
            elif sampled_pair:
                given = tiles_of.get(t, view.planes.y.shape) if tiles_of is not None else None
                pair = _pair_measures(prev, view, s, factor, given)
                failure, area = pair["failure"], pair["area"]
            if not one_shot and (cuts.is_cut(jump, area, s.cut_threshold) or (failure > cuts.FLOW_CUT and area > 0.25)):
                cut_set.add(t)
                pair = _NO_PAIR | {"mean_diff": pair["mean_diff"]}  # the seed's baseline counts cut pairs too
        for key in _PAIR_SERIES:
            series[key].append(pair[key])
        series["offsets"].append(pair["offsets"])
        tone_offset, misfit = _tone_offset(prev, view, pair, t in cut_set, s.grid)
        series["tone_offsets"].append(tone_offset)
        series["misfit"].append(misfit)
        series["local"].append(lmap.add(pair["cells"]))
        fade = math.nan
        if s.fade_look and pair["flows"] is not None:
            links.append((prev, *pair["flows"]))
            if len(links) == s.fade_look:
                first = links[0][0]
                _, fws, bws, res = map(list, zip(*links))
                fade = incoherence.long_area(first.rgb, view.rgb, first.gray, view.gray, fws, bws, res)
        else:
            links.clear()  # a cut, a skipped or unmeasured pair: the chain starts again
        series["fade"].append(fade)
        prev, prev_hist = view, hist
        n += 1
        if progress and n % PROGRESS_EVERY == 0:
            progress(min(0.99, n / total))
    _skip_to(series, lmap, n, reader.frames, fps)
    n = max(n, reader.frames)
    series["cuts"] = cut_set
    # Pairs that end on an I-frame carry the encoder's keyframe "pumping": a codec artifact
    # (scored as iframe_spike), so they are left out of the flicker and incoherence measures.
    keys = series["keyframe"]
    if sum(keys) > len(keys) / 2:  # intra-only streams (animated WebP, ProRes, MJPEG): no pumping
        keys = [False] * len(keys)
    series["pumping_free_offsets"] = [None if keys[t] and t > 0 else o for t, o in enumerate(series["offsets"])]
    series["area"] = array("d", (math.nan if keys[t] and t > 0 else a for t, a in enumerate(series["area"])))
    series["incoherent"] = incoherence.isolated(series["area"])
    series["fade"] = array("d", (math.nan if keys[t] and t > 0 else a for t, a in enumerate(series["fade"])))
    mc = global_flicker.offset_flicker(series["pumping_free_offsets"])
    series["luma_flicker"] = mc[:, 0].copy()
    series["chroma_flicker"] = np.hypot(mc[:, 1], mc[:, 2])
    ycc_arr = np.frombuffer(series["ycc"]).reshape(-1, 3)
    series["luma_raw"] = global_flicker.second_difference(ycc_arr[:, 0], cut_set)
    # window drift and seams: the tone levels with motion taken out, and the spreads
    levels = drift.compensated_levels(ycc_arr, series["tone_offsets"], cut_set)
    series["drift_stats"] = np.concatenate([levels, np.frombuffer(series["tone"]).reshape(-1, 2)], axis=1)
    series["local_map"] = lmap
    return n, series

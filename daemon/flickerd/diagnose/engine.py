"""The streaming driver: one decode pass, a two-frame window, every measure fed per pair.

Frames come from ``flickerd.media.iter_frames`` at the detail scale (at most 1280 px, for
blocking and fine texture) and are halved to the analysis scale (at most ``max_side``) for
flow and the flicker measures. Flow runs on every pair of short clips and on evenly spread
pairs of frame triples of long ones (``max_pairs``); cheap per-frame measures see every frame.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable

import cv2
import numpy as np

from flickerd.diagnose import baseline, codec, cuts, global_flicker, incoherence, local, texture, verdict, warping
from flickerd.diagnose.model import Diagnosis, FramePoint
from flickerd.diagnose.settings import DiagnoseSettings
from flickerd.media import iter_frames, probe

PROGRESS_EVERY = 16  # frames between progress callbacks
DETAIL_MAX_SIDE = 1280  # frames are decoded at most this large (halving) for blocking and fine texture



def _nanmedian(values) -> float:
    a = np.asarray(values, np.float64)
    a = a[~np.isnan(a)]
    return float(np.median(a)) if a.size else 0.0


def _opt(v: float) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def run(
    path: str | os.PathLike,
    settings: DiagnoseSettings = DiagnoseSettings(),
    progress: Callable[[float], None] | None = None,
) -> Diagnosis:
    """Diagnose one video file. Raises ``flickerd.errors.InputError`` subclasses for bad input."""
    start = time.monotonic()
    path = os.fspath(path)
    info = probe(path)
    total = max(1, info.frame_count)
    sample_every = max(1, total // max(1, settings.codec_samples))
    detail_scale = _halve_until(info.width, info.height, settings.scale, DETAIL_MAX_SIDE)
    scale = _halve_until(info.width, info.height, detail_scale, settings.max_side)
    settings_used = settings
    stride = settings.pair_stride
    if settings.max_pairs and total > settings.max_pairs:
        # pairs are analysed two at a time (a triple of frames) for the second differences
        stride = max(stride, math.ceil(2 * total / settings.max_pairs))
    settings = dataclasses.replace(settings, pair_stride=stride)
    n, series = _analyse(path, settings, detail_scale, round(detail_scale / scale), sample_every, progress, total)
    blocking = _nanmedian(series["blocking"]) or float("nan")
    scores, segments = verdict.scores_and_segments(series, blocking, settings)
    v, confidence = verdict.decide(scores, settings)
    timeline = tuple(
        FramePoint(
            index=t, time_s=series["time"][t], warp_error=_opt(series["warp"][t]), luma=_opt(series["luma"][t]),
            luma_flicker=_opt(series["luma_flicker"][t]), chroma_flicker=_opt(series["chroma_flicker"][t]),
            local_flicker=_opt(series["local"][t]), mean_diff=_opt(series["mean_diff"][t]),
            flow_failure=_opt(series["failure"][t]), banding=_opt(series["banding"][t]),
            blocking=_opt(series["blocking"][t]),
            cut=t in series["cuts"], keyframe=series["keyframe"][t],
        )
        for t in range(n)
    ) if settings.timeline else ()
    if progress:
        progress(1.0)
    return Diagnosis(
        file=path, verdict=v, confidence=confidence, scores=scores, frames=n, fps=info.fps,
        width=info.width, height=info.height, duration_s=info.duration_s or n / max(info.fps, 1e-6),
        timeline=timeline, segments=segments, cuts=tuple(sorted(series["cuts"])),
        settings=settings_used.to_dict() | {"pair_stride": stride, "analysis_scale": scale}, seconds=time.monotonic() - start,
    )


def _halve_until(width: int, height: int, scale: float, max_side: int) -> float:
    """``scale`` halved until the longer side fits ``max_side``.

    Power-of-two factors keep the codec's 8x8 block grid on whole pixels, and let the
    analysis flow be upscaled exactly onto the detail-scale frames.
    """
    while max(width, height) * scale > max_side and scale > 1 / 64:
        scale /= 2
    return scale


def analysis_scale(width: int, height: int, s: DiagnoseSettings) -> float:
    """The scale frames are analysed at (flow, flicker, banding) for a source of this size."""
    return _halve_until(width, height, _halve_until(width, height, s.scale, DETAIL_MAX_SIDE), s.max_side)


def _analyse(path: str, s: DiagnoseSettings, detail_scale: float, factor: int, sample_every: int,
             progress: Callable[[float], None] | None, total: int) -> tuple[int, dict]:
    """Decode at the detail scale; analyse at 1/``factor`` of it (blocking and texture use the detail)."""
    period = int(round(8 * detail_scale)) if detail_scale <= 1 else 0
    series: dict = {k: [] for k in ("time", "warp", "luma", "mean_diff", "failure", "banding", "blocking", "keyframe",
                                    "offsets", "texture", "area", "local", "ycc", "jump")}
    cut_set: set[int] = set()
    lmap = local.LocalMap(s.grid)
    prev = prev_gray = prev_hist = prev_detail = None
    n = 0
    for frame in iter_frames(path, scale=detail_scale):
        t = frame.index
        full = frame.image
        img = full if factor == 1 else cv2.resize(
            full, (full.shape[1] // factor, full.shape[0] // factor), interpolation=cv2.INTER_AREA)
        g = warping.gray(img)
        detail = g if factor == 1 else warping.gray(full)
        hist = cuts.histogram(img)
        series["time"].append(frame.time_s)
        series["keyframe"].append(frame.pict_type == 1 or frame.keyframe)
        ycc = np.asarray(cv2.mean(cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb))[:3])
        series["ycc"].append(ycc[[0, 2, 1]])  # Y, Cb, Cr
        series["luma"].append(float(ycc[0]))
        sampled = t % sample_every == 0
        series["banding"].append(codec.banding(g) if sampled else float("nan"))
        series["blocking"].append(codec.blocking(detail, period) if sampled and period >= 2 else float("nan"))
        warp_e = failure = tex = area = float("nan")
        offsets = cells = None
        jump = float("nan")
        if prev is not None:
            series["mean_diff"].append(baseline.mean_diff(prev, img))
            jump = cuts.histogram_jump(prev_hist, hist)
            analyse = s.pair_stride == 1 or t % s.pair_stride < 2 or jump >= s.cut_threshold
            if analyse:
                c = warping.compensate(prev, img, s.flow_preset, prev_gray, g)
                warp_e = warping.warp_error(c.residual, c.mask)
                failure = 1.0 - float(c.mask.mean())
                offsets = global_flicker.pair_offsets(c.residual, c.mask)
                ry = c.residual @ global_flicker.YCC[0]
                ry_local = ry - offsets[0]
                area = incoherence.unexplained_area(ry_local)
            if cuts.is_cut(jump, area, s.cut_threshold) or (failure > cuts.FLOW_CUT and area > 0.25):
                cut_set.add(t)
                warp_e = tex = area = float("nan")
                offsets = None
            elif analyse:
                if factor == 1:
                    prev_y = prev_gray.astype(np.float32)
                    tex = texture.texture_ratio(prev_y, prev_y - ry, c.mask)
                else:
                    tex = texture.detail_ratio(prev_detail, detail, c.flow, c.mask, factor)
                cells = local.cell_means(ry_local, c.mask, s.grid)
        else:
            series["mean_diff"].append(float("nan"))
        series["jump"].append(jump)
        series["warp"].append(warp_e)
        series["failure"].append(failure)
        series["offsets"].append(offsets)
        series["texture"].append(tex)
        series["area"].append(area)
        series["local"].append(lmap.add(cells))
        prev, prev_gray, prev_hist, prev_detail = img, g, hist, detail
        n += 1
        if progress and n % PROGRESS_EVERY == 0:
            progress(min(0.99, n / total))
    series["cuts"] = cut_set
    # Pairs that end on an I-frame carry the encoder's keyframe "pumping": a codec artifact
    # (scored as iframe_spike), so they are left out of the flicker and incoherence measures.
    keys = series["keyframe"]
    if sum(keys) > len(keys) / 2:  # intra-only streams (animated WebP, ProRes, MJPEG): no pumping
        keys = [False] * len(keys)
    series["pumping_free_offsets"] = [None if keys[t] and t > 0 else o for t, o in enumerate(series["offsets"])]
    series["area"] = [float("nan") if keys[t] and t > 0 else a for t, a in enumerate(series["area"])]
    mc = global_flicker.offset_flicker(series["pumping_free_offsets"])
    series["luma_flicker"] = list(mc[:, 0])
    series["chroma_flicker"] = list(np.hypot(mc[:, 1], mc[:, 2]))
    ycc_arr = np.asarray(series["ycc"])
    series["luma_raw"] = global_flicker.second_difference(ycc_arr[:, 0], cut_set)
    series["local_map"] = lmap
    return n, series

"""From per-frame series to scores, segments, a verdict and its confidence (pure).

Incoherence wins over everything (post-processing cannot fix it); otherwise generative
flicker (any of luma, chroma, local, texture over its threshold; texture not where it is the
codec's, ``codec_texture``) and codec artifacts (banding, blocking, or keyframe pumping over
threshold) combine into clean / generative_flicker /
codec_artifacts / mixed. Confidence grows with the distance of the deciding scores from
their thresholds (on a log scale) and is 0.5 right at a threshold.
"""

from __future__ import annotations

import math

import numpy as np

from flickerd.diagnose import baseline, codec, incoherence
from flickerd.diagnose.model import Segment, Verdict
from flickerd.diagnose.robust import median
from flickerd.diagnose.settings import DiagnoseSettings

MIN_SEGMENT = 3  # frames
SCORE_NAMES: tuple[str, ...] = (
    "luma_flicker", "luma_flicker_raw", "chroma_flicker", "local_flicker", "texture_flicker", "texture_flicker_all",
    "texture_excess",
    "warp_error", "flow_failure", "incoherence", "fade", "banding", "blocking", "iframe_spike", "mean_diff", "vbench_flickering",
    "cuts", "drift", "drift_saturation", "seams",
)
"""Every key of ``Diagnosis.scores`` (documented in ``flickerd.diagnose``); rules may name these."""
IFRAME_SPIKE = 4.0  # warping error on I-frame pairs this many times the rest: keyframe pumping
# A heavy encode re-quantises each block's whole spectrum from frame to frame: the texture measure's
# residual then spreads into the next band up, so its excess (``texture.excess``) is negative, where
# re-drawn 1-3 px detail leaves it in the finest band (excess > 0; tracked content reads about 0).
# Real-render bench, fit half: blocky clips whose texture ratio is over its threshold read -0.69 to
# -0.50 when codec damage made the ratio (a HunyuanVideo render at CRF 39-45: 6 clips), +0.34 when
# the render's texture is re-drawn (a frame-skipped pan); nothing else there is both. The bar is the
# middle of that gap.
CODEC_TEXTURE_EXCESS = -0.08
# Re-drawn detail too faint for the texture threshold still sits almost wholly in the finest band,
# where a render's own motion, zooms and pans spread their residual into the next band up. Real-render
# bench, fit half: the half-strength texture clips of two smooth renders read ratio 0.21-0.33 with
# ``texture_excess`` 0.68-0.89 of it; every other clip under the texture threshold with a ratio over
# 0.14 read at most 0.53 of it, and the one clip over 0.6 of it read a ratio of 0.135 (a slow zoom).
# Both bars sit in the middle of those gaps.
FINE_TEXTURE_FLOOR = 0.17
FINE_TEXTURE_SHARE = 0.6


def _clean(values) -> np.ndarray:
    a = np.asarray([np.nan if v is None else v for v in values], np.float64)
    return a[~np.isnan(a)]


def _mean(values) -> float:
    a = _clean(values)
    return float(a.mean()) if a.size else 0.0


def _median(values) -> float:
    a = _clean(values)
    return float(median(a)) if a.size else 0.0


def _segments(values, threshold: float, kind: str) -> list[Segment]:
    """Runs of measured frames whose value exceeds ``threshold``, one cold frame between hot ones bridged.

    Unmeasured frames (NaN: sampled clips, cuts) neither end nor make a run, so a clip whose
    flow measures saw only spread-out triples still gets its runs, spanning the frames between.
    """
    v = np.asarray([np.nan if x is None else x for x in values], np.float64)
    idx = np.flatnonzero(~np.isnan(v))
    hot = v[idx] > threshold
    out: list[Segment] = []
    t, n = 0, len(idx)
    while t < n:
        if not hot[t]:
            t += 1
            continue
        end = t
        while end + 1 < n and (hot[end + 1] or (end + 2 < n and hot[end + 2])):
            end += 1
        if end - t + 1 >= MIN_SEGMENT:
            out.append(Segment(int(idx[t]), int(idx[end]), kind, float(v[idx[t:end + 1]].mean())))
        t = end + 1
    return out


def _whole(values, kind: str, score: float) -> list[Segment]:
    """The measured span of the clip: its score is over the threshold, but no run stands out."""
    idx = np.flatnonzero(~np.isnan(np.asarray([np.nan if x is None else x for x in values], np.float64)))
    return [Segment(int(idx[0]), int(idx[-1]), kind, score)] if idx.size else []


def texture_series(series: dict, blocking: float, s: DiagnoseSettings):
    """Each pair's texture ratio as the verdict reads it: off the block grid on a clip the blocking
    measure calls blocky (``blockgrid``: a heavy encode's re-quantised block edges are not the
    render's texture), on all the tiles' pixels otherwise."""
    return series["texture_off_grid"] if blocking > s.blocking_threshold else series["texture"]


def excess_series(series: dict, blocking: float, s: DiagnoseSettings):
    """Each pair's ``texture.excess`` on the pixels ``texture_series`` reads."""
    return series["texture_excess_off_grid"] if blocking > s.blocking_threshold else series["texture_excess"]


def codec_texture(scores: dict[str, float], s: DiagnoseSettings) -> bool:
    """Whether the texture score is the codec's re-quantised detail, not re-drawn texture: the clip is
    blocky and the texture residual is not confined to the finest band (``CODEC_TEXTURE_EXCESS``)."""
    return scores["blocking"] > s.blocking_threshold and scores.get("texture_excess", 0.0) < CODEC_TEXTURE_EXCESS


def fine_texture_margin(scores: dict[str, float]) -> float:
    """> 0 where the texture ratio, under its threshold, is re-drawn 1-3 px detail: over
    ``FINE_TEXTURE_FLOOR`` with ``texture_excess`` at least ``FINE_TEXTURE_SHARE`` of it."""
    t, e = scores["texture_flicker"], scores.get("texture_excess", 0.0)
    return min(_margin(t, FINE_TEXTURE_FLOOR), _margin(e / t if t > 0 else 0.0, FINE_TEXTURE_SHARE))


def _fine_texture_counts(scores: dict[str, float], s: DiagnoseSettings) -> bool:
    """Whether ``fine_texture_margin`` is read at all: texture under its threshold, on a clip without
    codec damage (there the codec rules choose the fix, deflicker or deband, and a faint texture that
    no route improves must not turn them into ``mixed`` chains: README, rules)."""
    return scores["texture_flicker"] <= s.texture_threshold and codec_margin(scores, s) <= 0


def fine_texture(scores: dict[str, float], s: DiagnoseSettings) -> bool:
    """Whether texture under its threshold counts as generative flicker (``fine_texture_margin``)."""
    return _fine_texture_counts(scores, s) and fine_texture_margin(scores) > 0


def scores_and_segments(series: dict, blocking: float, s: DiagnoseSettings) -> tuple[dict[str, float], tuple[Segment, ...]]:
    mean_diff = _mean(series["mean_diff"])
    texture = texture_series(series, blocking, s)
    excess = excess_series(series, blocking, s)
    lmap = series["local_map"]
    scores = {
        "luma_flicker": _mean(series["luma_flicker"]),
        "luma_flicker_raw": _mean(series["luma_raw"]),
        "chroma_flicker": _mean(series["chroma_flicker"]),
        "local_flicker": lmap.score(),
        "texture_flicker": _median(texture),
        "texture_flicker_all": _median(series["texture"]),
        "texture_excess": _median(excess),
        "warp_error": _mean(series["warp"]),
        "flow_failure": _mean(series["failure"]),
        "incoherence": incoherence.incoherence_score(series["incoherent"]),
        "fade": incoherence.fade_score(series["fade"]),
        "banding": _median(series["banding"]),
        "blocking": 0.0 if math.isnan(blocking) else blocking,
        "iframe_spike": _iframe(series),
        "mean_diff": mean_diff,
        "vbench_flickering": baseline.vbench_flickering(_clean(series["mean_diff"])),
        "cuts": float(len(series["cuts"])),
    }
    # Segments agree with the verdict: only a kind whose score is over its threshold has any,
    # and such a kind always has one (the whole measured span when no run stands out).
    kinds = (
        ("luma", "luma_flicker", series["luma_flicker"], s.luma_threshold, s.luma_threshold),
        ("chroma", "chroma_flicker", series["chroma_flicker"], s.chroma_threshold, s.chroma_threshold),
        ("local", "local_flicker", series["local"], s.local_threshold, s.local_threshold * 2),  # per-frame peaks
    )
    if not codec_texture(scores, s):  # the codec's re-quantised detail is no texture kind
        kinds += (("texture", "texture_flicker", texture, s.texture_threshold, s.texture_threshold),)
        if fine_texture(scores, s):  # faint re-drawn detail: its frames over the floor
            kinds += (("texture", "texture_flicker", texture, FINE_TEXTURE_FLOOR, FINE_TEXTURE_FLOOR),)
        elif s.texture_excess_threshold and scores["texture_flicker"] <= s.texture_threshold:  # one texture kind
            kinds += (("texture", "texture_excess", excess, s.texture_excess_threshold, s.texture_excess_threshold),)
    segs: list[Segment] = []
    for kind, key, values, over, per_frame in kinds:
        if scores[key] > over:
            segs += _segments(values, per_frame, kind) or _whole(values, kind, scores[key])
    replaced: list[Segment] = []
    if scores["incoherence"] > s.incoherence_threshold:  # events, not runs: a pair where content was replaced
        replaced += [Segment(int(t) - 1, int(t), "incoherent", float(series["incoherent"][t]))
                     for t in np.flatnonzero(np.nan_to_num(series["incoherent"]) > s.incoherence_threshold)]
    if s.fade_look and scores["fade"] > s.fade_threshold:  # the long looks over the fade: frames t − fade_look .. t
        replaced += [Segment(int(t) - s.fade_look, int(t), "incoherent", float(series["fade"][t]))
                     for t in np.flatnonzero(np.nan_to_num(series["fade"]) > s.fade_threshold)]
    segs += _joined(replaced)
    return scores, tuple(sorted(segs, key=lambda x: (x.start, x.kind)))


def _joined(segments: list[Segment]) -> list[Segment]:
    """Overlapping or touching segments as one, scored by their highest: one fade's looks
    (17–23, 18–24, 19–25 …) or two neighbouring replaced pairs are one event to a reader."""
    out: list[Segment] = []
    for g in sorted(segments, key=lambda x: x.start):
        if out and g.start <= out[-1].end:
            last = out[-1]
            out[-1] = Segment(last.start, max(last.end, g.end), last.kind, max(last.score, g.score))
        else:
            out.append(g)
    return out


def _iframe(series: dict) -> float:
    return codec.iframe_spike(series["warp"], series["keyframe"])


def _margin(score: float, threshold: float) -> float:
    """log-ratio of a score to its threshold: >0 above, <0 below."""
    return math.log(max(score, 1e-9) / max(threshold, 1e-9))


def _confidence(margin: float) -> float:
    return 1.0 / (1.0 + math.exp(-4.0 * abs(margin)))


def generative_margin(scores: dict[str, float], s: DiagnoseSettings) -> float:
    margins = [
        _margin(scores["luma_flicker"], s.luma_threshold),
        _margin(scores["chroma_flicker"], s.chroma_threshold),
        _margin(scores["local_flicker"], s.local_threshold),
    ]
    if not codec_texture(scores, s):
        margins.append(_margin(scores["texture_flicker"], s.texture_threshold))
        if _fine_texture_counts(scores, s):
            margins.append(fine_texture_margin(scores))
        if s.texture_excess_threshold:  # opt-in (settings)
            margins.append(_margin(scores.get("texture_excess", 0.0), s.texture_excess_threshold))
    return max(margins)


def codec_margin(scores: dict[str, float], s: DiagnoseSettings) -> float:
    return max(_margin(scores["banding"], s.banding_threshold), _margin(scores["blocking"], s.blocking_threshold),
               _margin(scores["iframe_spike"], IFRAME_SPIKE))


def decide(scores: dict[str, float], s: DiagnoseSettings) -> tuple[Verdict, float]:
    inc = _margin(scores["incoherence"], s.incoherence_threshold)
    if s.fade_look:
        inc = max(inc, _margin(scores.get("fade", 0.0), s.fade_threshold))
    if inc > 0:
        return Verdict.INCOHERENT, _confidence(inc)
    gen, cod = generative_margin(scores, s), codec_margin(scores, s)
    if gen > 0 and cod > 0:
        return Verdict.MIXED, _confidence(min(gen, cod))
    if gen > 0:
        return Verdict.GENERATIVE_FLICKER, _confidence(min(gen, -cod, -inc))
    if cod > 0:
        return Verdict.CODEC_ARTIFACTS, _confidence(min(cod, -gen, -inc))
    return Verdict.CLEAN, _confidence(min(-gen, -cod, -inc))

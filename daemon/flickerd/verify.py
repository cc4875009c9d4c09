"""Verification: did the fix reduce flicker without damaging the picture? Accept or reject.

``check`` reads the input and the output in lockstep at analysis scale (a three-frame window,
never the whole clip) and scores both with the *input's* optical flow, so an output that is
simply blurred cannot fake a lower warping error. It then compares the measures with the
``Acceptance`` thresholds (per route where configured) and re-diagnoses the output.

In ``interpolate`` mode (more frames per second) the output is compared at the source
timestamps, ghosting is scored on the inserted frames, and flicker is not scored: a frame-rate
change is never counted as a flicker fix.

A fix of window drift (``drift`` route) lowers none of the flicker measures: it is judged on
``drift`` (the tone and colour the seams accumulate, ``diagnose.drift``) and on the largest step
left at a seam, both measured at the input's seams (the diagnosis's and those the drift steps
corrected; never found here). A fix whose drift falls by more than ``min_flicker_reduction``
counts as reducing flicker; every other check still applies.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import cv2
import numpy as np

from flickerd.ahead import Ahead
from flickerd.diagnose import drift as window_drift
from flickerd.diagnose.baseline import mean_diff
from flickerd.quality import texture
from flickerd.routes.guide_stream import resized
from flickerd.diagnose.model import Diagnosis, json_float
from flickerd.diagnose.seam_list import merged
from flickerd.errors import ConfigError, FlickerdError, InputError
from flickerd.figures import apart, percent_apart
from flickerd.flow import flow, occlusion_mask, warp
from flickerd.media.probe import MediaInfo, probe
from flickerd.media.reader import analysis_size, iter_frames
from flickerd.quality.change import MAP_SIDE, ChangeMap
from flickerd.quality.fidelity import psnr, psnr_tone_matched, ssim
from flickerd.quality.ghosting import ghosting, midpoint_estimate, moving_mask
from flickerd.quality import sums
from flickerd.quality.sharpness import detail_energy, stable_texture, texture_mask
from flickerd.quality.temporal import local_residuals, luma_second_difference, warp_error
from flickerd.routes.base import ChainResult, ProgressFn, no_progress

SCHEMA_VERSION = 3

DEFAULT_MIN_FLICKER_REDUCTION = 0.10  # the best of warp/luma/local flicker must fall by more (a re-encode alone: ≈0.09)
DEFAULT_MAX_FLICKER_INCREASE = 0.10  # none of them may rise by more than this fraction
DEFAULT_MIN_SSIM = 0.70  # a fix of regenerated texture scores 0.71–0.83 vs its input (bench verify)
DEFAULT_MIN_PSNR = 24.0  # dB vs the input after per-frame gain/offset matching (a fix may move the tone)
DEFAULT_MAX_GHOSTING = 0.20  # 1 = a plain 50/50 blend of the neighbours
DEFAULT_MIN_SHARPNESS = 0.75  # detail energy of the output / the input on textured pixels (texture fixes ≥ 0.82)
DEFAULT_MIN_DETAIL_KEPT = 0.95  # persistent fine-detail energy, output over input (a blur: ~0.1); see bench real_repairs
# A fix's change is flicker removed (differs every frame: 1/3) plus error that persists (1); at
# 2/3 the persistent error's energy equals the flicker's: beyond, the fix moved the picture further
# from a steady truth than the flicker had. 1 turns the check off.
DEFAULT_MAX_CHANGE_PERSISTENCE = 1.0
# How much of a fix's change lines up with the input's flicker along the motion (a correlation,
# ``change_on_flicker``): removing flicker alone scores 0.6–0.85 (bench restoration), an error or
# a change of content adds energy that does not line up. −1: off. Off by default: 0.2, the best
# on the fit half of bench real_repairs, cut held-out harmful publications 24 → 16 but none on
# the steady renders, and cost texture's median gain and as-is fixes (README, Verification).
DEFAULT_MIN_CHANGE_ON_FLICKER = -1.0
DEFAULT_MIN_DETAIL_CHANGE_ON_FLICKER = -1.0  # reported; no threshold helped on the fit half
# The same correlation, asked of chains with a tone step (``TONE_ROUTES``) only, on by default: a
# plain re-encode of a real render scores 0.04–0.11 (its noise smooths the render's own boil), so a
# tone fix scoring near that changed little more than its encode did. Where the render's own
# residual swamps the flicker (Open-Sora 240p, luma at half strength) the tone correction is small
# and the fine noise of one more encode outweighs it: harmful. Fit half of bench real_repairs (seeds 0-2): harmful normalize fixes score 0.09-0.14,
# good ones (>= +0.5 dB) 0.19 and more (README, Verification).
DEFAULT_MIN_TONE_CHANGE_ON_FLICKER = 0.15
TONE_ROUTES = frozenset({"normalize"})
# Also asked of tone chains only: the share of the flicker a fix undoes that lies in the low band
# (``flicker_undone_low`` / ``flicker_undone``). A tone correction is smooth; the fine part of what it
# "undoes" is its encode smoothing the render's own fine boil, which the truth has: credited as flicker
# removed, it is error added. A half-strength clip whose injected flicker is small beside the render's own
# residual reads low. Fit half of bench real_repairs (456 clips, seeds 0-5, 6-11 on two renders): published tone
# fixes worse than their input 12 -> 1 (the -0.31 dB one among the 11), good ones (>= +0.5 dB) refused 13 of 259
# (5%), medians unchanged; held out harmful 3 -> 2, good refused 0 -> 1 of 43. Off by default: a contrast
# correction (breathing) undoes real fine-band flicker too, and on bench restoration's real footage 0.80 refused
# 3 good breathing fixes (+0.68 to +0.86 dB; README, Verification).
FITTED_MIN_TONE_UNDONE_LOW_SHARE = 0.80
DEFAULT_MIN_TONE_UNDONE_LOW_SHARE = -1.0  # off
TONE_UNDONE_FLOOR = 0.5  # grey levels²: under it the fix undoes next to nothing and the share is any number
# A chain with a texture step (``TEXTURE_ROUTES``) must lower its best flicker measure by more than
# this (and ``min_flicker_reduction``). Off by default. 0.30, the fit half's best (bench real_repairs,
# seeds 0-2), refused all 16 harmful texture fixes there (renders that boil by themselves: DynamiCrafter,
# LaVie, Open-Sora sample_0, whose own boiling `detail` removes like injected texture) for 1 of 14 good
# ones; held out it took texture's median from +0.69 to +0.17 dB and refused 2 of 11 good texture fixes.
FITTED_MIN_TEXTURE_FLICKER_REDUCTION = 0.30
DEFAULT_MIN_TEXTURE_FLICKER_REDUCTION = -1.0  # off
TEXTURE_ROUTES = frozenset({"detail"})
# Grey levels² per sample: the most a fix's expected error change against a steady truth may be
# (``expected_error_change``: its change's energy at full size less the flicker it undoes). Above
# it, the change is mostly the final encode's noise or detail moved, not flicker removed.
# Off by default: 0.25, the best on the fit half of bench real_repairs, cut published-harmful 7 → 5
# (fit) and 5 → 3 (held out) but refused 2/42 good held-out fixes and took texture's held-out
# median from +0.35 to 0.00 dB (README, Verification).
FITTED_MAX_EXPECTED_ERROR_CHANGE = 0.25
DEFAULT_MAX_EXPECTED_ERROR_CHANGE = 1e6  # off
DEFAULT_MIN_VMAF = 0.0  # 0: VMAF not required (it is slow; computed only when asked)
# Deband alone does not reduce flicker; it must only not add any. Nor is its change flicker
# removed (deband), so it is not judged on change_on_flicker either. A guided fix resamples every
# neighbour along the guide's flow, which softens persistent detail a little: on the fit half of
# bench guided the three guided fixes refused at 0.95 kept 0.918–0.950 and all gained (+1.1 to
# +2.4 dB against the truth); no guided fix there was harmful.
DEFAULT_ROUTE_OVERRIDES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {"ffmpeg": MappingProxyType({"min_flicker_reduction": -0.05, "min_change_on_flicker": -1.0,
                                 "max_expected_error_change": DEFAULT_MAX_EXPECTED_ERROR_CHANGE}),
     "guided": MappingProxyType({"min_detail_kept": 0.90}),
     "normalize+guided": MappingProxyType({"min_detail_kept": 0.90})}
)

ANALYSIS_MAX_SIDE = 320  # px: verification reads both files at this size
FPS_TOLERANCE = 1e-3  # relative
DURATION_TOLERANCE_FRAMES = 2.0
# Noise floors: below these a clip has no flicker of that kind to reduce (and changes are noise).
LUMA_FLICKER_SLACK = 0.25  # luma levels
LOCAL_FLICKER_SLACK = 0.6  # luma levels: a re-encode alone moves it by ±0.2; half the visible level
WARP_ERROR_FLOOR = 1e-5  # RGB in [0, 1], squared
UNDONE_SIGMA = 1.5  # analysis px: the low pass of the change and the residual for flicker_undone_low
MIN_CHANGE = 0.25  # luma levels²: a fix changing frames by less (RMS 0.5 level) is not judged on persistence
PERSISTENT_SHARE = 0.1  # detail_kept is measured where at least this share of the input's detail persists
# With a guide, detail_kept follows the guide's detail where the input's detail lines up with it
# at least this much (a correlation, over the clip's tiles); below it the guide says little about
# which detail is the render's own, and the blind measure stands. bench guided, fit half: 0.77-0.86
# where the render follows its guide, 0.28 under texture jitter. The share of the input's detail
# energy off the guide's, which the guided measure does not look at, is 1 - r^2: 91% at 0.3, 75% here.
GUIDE_DETAIL_CORRELATION = 0.5
CHROMA_FLICKER_SLACK = 0.45  # chroma levels: the diagnosis's chroma threshold, below which no chroma flicker shows (a 5-frame re-encode moves it 0.3)
DRIFT_FLOOR = 1.0  # grey levels per 100 frames: less drift than this is none (a re-encode moves it ±0.3)
SEAM_STEP_FLOOR = 0.5  # grey levels
DETAIL_FLICKER_SLACK = 2.0  # grey levels RMS: a per-frame gain of a few % (a deflicker) moves fine detail by 1.5; no bench decision changes
# each flicker measure's noise floor: under it the input had none of that flicker to reduce
FLOORS: Mapping[str, float] = MappingProxyType({
    "warp_error": WARP_ERROR_FLOOR, "luma_flicker": LUMA_FLICKER_SLACK, "local_flicker": LOCAL_FLICKER_SLACK,
    "chroma_flicker": CHROMA_FLICKER_SLACK, "detail_flicker": DETAIL_FLICKER_SLACK, "drift": DRIFT_FLOOR,
})
# The flicker measures, each with the input's motion: a fix must lower one and raise none.
FLICKER_MEASURES: Mapping[str, str] = MappingProxyType({
    "warp_error": "warping error", "luma_flicker": "luma flicker", "local_flicker": "local flicker",
    "chroma_flicker": "chroma flicker", "detail_flicker": "fine-detail flicker",
})

_THRESHOLDS = (
    "min_flicker_reduction",
    "max_flicker_increase",
    "min_ssim",
    "min_psnr",
    "max_ghosting",
    "min_sharpness_ratio",
    "min_detail_kept",
    "max_change_persistence",
    "min_change_on_flicker",
    "min_detail_change_on_flicker",
    "min_tone_change_on_flicker",
    "min_tone_undone_low_share",
    "min_texture_flicker_reduction",
    "max_expected_error_change",
    "min_vmaf",
)


@dataclass(frozen=True, slots=True)
class Acceptance:
    """Numbers a fix must meet; ``routes`` maps a route or chain name to overrides of them."""

    min_flicker_reduction: float = DEFAULT_MIN_FLICKER_REDUCTION
    max_flicker_increase: float = DEFAULT_MAX_FLICKER_INCREASE
    min_ssim: float = DEFAULT_MIN_SSIM
    min_psnr: float = DEFAULT_MIN_PSNR
    max_ghosting: float = DEFAULT_MAX_GHOSTING
    min_sharpness_ratio: float = DEFAULT_MIN_SHARPNESS
    min_detail_kept: float = DEFAULT_MIN_DETAIL_KEPT
    max_change_persistence: float = DEFAULT_MAX_CHANGE_PERSISTENCE
    min_change_on_flicker: float = DEFAULT_MIN_CHANGE_ON_FLICKER
    min_detail_change_on_flicker: float = DEFAULT_MIN_DETAIL_CHANGE_ON_FLICKER
    min_tone_change_on_flicker: float = DEFAULT_MIN_TONE_CHANGE_ON_FLICKER
    min_tone_undone_low_share: float = DEFAULT_MIN_TONE_UNDONE_LOW_SHARE
    min_texture_flicker_reduction: float = DEFAULT_MIN_TEXTURE_FLICKER_REDUCTION
    max_expected_error_change: float = DEFAULT_MAX_EXPECTED_ERROR_CHANGE
    min_vmaf: float = DEFAULT_MIN_VMAF
    routes: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: DEFAULT_ROUTE_OVERRIDES, hash=False)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], path: str = "acceptance") -> "Acceptance":
        """Build from a TOML table; unknown keys and non-numbers raise ``ConfigError`` naming the key path."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: expected a table, got {type(data).__name__}.")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key == "routes":  # merged over the defaults key by key: a user's table keeps the defaults it does not name
                user = _route_overrides(value, f"{path}.routes")
                values["routes"] = MappingProxyType({**DEFAULT_ROUTE_OVERRIDES, **{
                    r: MappingProxyType({**DEFAULT_ROUTE_OVERRIDES.get(r, {}), **t}) for r, t in user.items()}})
            elif key in _THRESHOLDS:
                values[key] = _number(value, f"{path}.{key}")
            else:
                raise ConfigError(f"{path}.{key}: unknown key; expected one of {', '.join(_THRESHOLDS + ('routes',))}.")
        if "routes" not in values:
            values["routes"] = DEFAULT_ROUTE_OVERRIDES
        return cls(**values)

    def for_chain(self, routes: Sequence[str], along_guide: bool = False) -> "Acceptance":
        """The thresholds for a chain: its exact name's overrides, else the strictest of its steps';
        a chain with a tone step asks ``min_tone_change_on_flicker`` of ``change_on_flicker`` too (when
        measured ``along_guide`` only if a route table for the chain sets it: the default bar was fitted
        on chains measured with their own motion), one with a texture step ``min_texture_flicker_reduction``
        of ``best_reduction`` (never looser)."""
        t = self._overridden(routes)
        tone = not along_guide or self._route_sets(routes, "min_tone_change_on_flicker")
        if TONE_ROUTES.intersection(routes) and tone:
            t = dataclasses.replace(t, min_change_on_flicker=max(t.min_change_on_flicker, t.min_tone_change_on_flicker))
        # the low-band share is asked of tone chains only, and along a guide only where a route table sets it
        share = not along_guide or self._route_sets(routes, "min_tone_undone_low_share")
        if not (TONE_ROUTES.intersection(routes) and share):
            t = dataclasses.replace(t, min_tone_undone_low_share=-1.0)
        # the texture bar stays its own field (``judge`` asks it of best_reduction only, not of the
        # drift reduction that lets a drift fix through); a chain without a texture step has it off
        texture = max(t.min_flicker_reduction, t.min_texture_flicker_reduction) if TEXTURE_ROUTES.intersection(routes) else -1.0
        return dataclasses.replace(t, min_texture_flicker_reduction=texture)

    def _route_sets(self, routes: Sequence[str], key: str) -> bool:
        """Whether the route tables that apply to the chain (its exact name's, else its steps') name
        ``key`` (the default tables set no tone bar, so this is the user's)."""
        name = "+".join(routes)
        tables = [self.routes[name]] if name in self.routes else [self.routes.get(r, {}) for r in routes]
        return any(key in table for table in tables)

    def _overridden(self, routes: Sequence[str]) -> "Acceptance":
        name = "+".join(routes)
        if name in self.routes:
            return dataclasses.replace(self, routes=MappingProxyType({}), **dict(self.routes[name]))
        merged: dict[str, float] = {}
        for route in routes:
            for key, value in self.routes.get(route, {}).items():
                if key not in merged:
                    merged[key] = value
                elif key.startswith("min_"):
                    merged[key] = max(merged[key], value)
                else:
                    merged[key] = min(merged[key], value)
        # A step without overrides keeps the defaults: it is stricter than any loosened step.
        if len(routes) > 1:
            for key in list(merged):
                if any(key not in self.routes.get(r, {}) for r in routes):
                    base = getattr(self, key)
                    merged[key] = max(merged[key], base) if key.startswith("min_") else min(merged[key], base)
        return dataclasses.replace(self, routes=MappingProxyType({}), **merged)

    def to_json(self) -> dict:
        out: dict[str, Any] = {k: getattr(self, k) for k in _THRESHOLDS}
        if self.routes:
            out["routes"] = {r: dict(v) for r, v in self.routes.items()}
        return out


# thresholds on a correlation or a reduction: a value outside [-1, 1] is a typo (15 for 0.15)
# that would refuse (or pass) every fix
_UNIT_RANGE = frozenset({"min_change_on_flicker", "min_detail_change_on_flicker", "min_tone_change_on_flicker",
                         "min_tone_undone_low_share", "min_texture_flicker_reduction"})


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{path}: expected a number, got {value!r}.")
    if path.rsplit(".", 1)[-1] in _UNIT_RANGE and not -1.0 <= value <= 1.0:
        raise ConfigError(f"{path}: {value!r} is out of range; expected a number from -1 to 1 (-1: off).")
    return float(value)


def _route_overrides(value: Any, path: str) -> dict[str, Mapping[str, float]]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: expected a table of route names, got {type(value).__name__}.")
    out: dict[str, Mapping[str, float]] = {}
    for route, table in value.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"{path}.{route}: expected a table of thresholds, got {type(table).__name__}.")
        entry = {}
        for key, v in table.items():
            if key not in _THRESHOLDS:
                raise ConfigError(f"{path}.{route}.{key}: unknown key; expected one of {', '.join(_THRESHOLDS)}.")
            entry[key] = _number(v, f"{path}.{route}.{key}")
        out[str(route)] = MappingProxyType(entry)
    return out


@dataclass(frozen=True, slots=True)
class Verification:
    """The verdict on one fixed file. ``metrics`` holds numbers (None where not measured)."""

    accepted: bool
    reasons: tuple[str, ...]
    metrics: Mapping[str, Any]
    after: Diagnosis | None
    mode: str = "fix"
    thresholds: Acceptance = field(default_factory=Acceptance)
    series: Mapping[str, tuple[float | None, ...]] = field(default_factory=dict)  # per source frame
    seconds: float = 0.0
    # where the fix changed the frame-to-frame change most (``quality.change``), for the side-by-side
    # clip's zoom; not part of the verdict or the JSON
    change_map: np.ndarray | None = field(default=None, compare=False, repr=False)

    def to_json(self, *, include_after: bool = True) -> dict:
        return {
            "schema": SCHEMA_VERSION,
            "accepted": self.accepted,
            "mode": self.mode,
            "reasons": list(self.reasons),
            "metrics": {k: _round(v) for k, v in self.metrics.items()},
            "thresholds": self.thresholds.to_json(),
            "after": self.after.to_json() if include_after and self.after is not None else None,
            "series": {k: [_round(v) for v in vs] for k, vs in self.series.items()},
            "seconds": round(self.seconds, 3),
        }


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return json_float(v) if math.isfinite(v) else None
    return v


# ---------------------------------------------------------------- measurement (streaming)


class _Img:
    """A frame at analysis size with its luma and mean chroma, and its native-size luma."""

    __slots__ = ("rgb", "gray", "chroma", "y")

    def __init__(self, native: np.ndarray, size: tuple[int, int] | None = None) -> None:
        """``native``: the decoded RGB frame; ``size``: the analysis (w, h) (None: native is it)."""
        rgb = native if size is None or native.shape[1::-1] == size else cv2.resize(native, size, interpolation=cv2.INTER_AREA)
        self.rgb = rgb
        self.gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
        self.chroma = (float(ycc[..., 2].mean()), float(ycc[..., 1].mean()))  # (Cb, Cr)
        self.y = self.gray if rgb is native else cv2.cvtColor(native, cv2.COLOR_RGB2GRAY)


def _fit(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The output frame at the input's size (encoders may crop odd sizes by a pixel)."""
    if image.shape == shape:
        return image
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def _analysis_size(shape: tuple[int, ...], max_side: int) -> tuple[int, int] | None:
    """The (w, h) a native frame of ``shape`` is measured at (None: native, it is small enough)."""
    h, w = shape[:2]
    if max(h, w) <= max_side:
        return None
    return analysis_size(w, h, max_side=max_side)


def _thumbnails(shape: tuple[int, ...], *grays: np.ndarray) -> list[np.ndarray]:
    """Analysis-size luma at the change map's size (``quality.change.MAP_SIDE``)."""
    size = analysis_size(shape[1], shape[0], max_side=MAP_SIDE)
    return [g if g.shape[::-1] == size else cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in grays]


def _magnitude(f: np.ndarray) -> float:
    return float(cv2.magnitude(f[..., 0], f[..., 1]).mean())


@dataclass(slots=True)
class _Tally:
    """Running sums; one instance per ``check``."""

    frames_in: int = 0
    frames_out: int = 0
    warp_in: list = field(default_factory=list)
    diff_in: list = field(default_factory=list)  # the input's mean |F_t − F_{t−1}|, every pair: the plot's repeated frames
    warp_out: list = field(default_factory=list)
    local_in: list = field(default_factory=list)
    local_out: list = field(default_factory=list)
    luma_in: list = field(default_factory=list)
    luma_out: list = field(default_factory=list)
    chroma_in: list = field(default_factory=list)  # (Cb, Cr) means per frame
    chroma_out: list = field(default_factory=list)
    drift_in: list = field(default_factory=list)  # per frame: diagnose.drift.STATS (means, spreads)
    drift_out: list = field(default_factory=list)
    hf_in: list = field(default_factory=list)  # per pair: RMS high-pass change along the motion, native px
    hf_out: list = field(default_factory=list)
    kept_num: float = 0.0  # Σ covariance of the output's detail across each pair (its persistent energy)
    kept_den: float = 0.0  # the same for the input
    detail_energy: float = 0.0  # Σ the input's detail energy on the same tiles
    # with a guide: Σ the output's and the input's detail times the guide's (on the same tiles,
    # along the same motion), Σ the guide's detail energy; None once a pair had no guide
    guide_num: float | None = 0.0
    guide_den: float = 0.0
    guide_energy: float = 0.0
    ssim: list = field(default_factory=list)
    psnr: list = field(default_factory=list)
    psnr_matched: list = field(default_factory=list)
    motion: list = field(default_factory=list)  # mean |flow| per pair, analysis-scale px
    change_smooth: float = 0.0  # Σ (the fix's change, averaged over three frames along the motion)²
    change_total: float = 0.0  # Σ (the fix's change)²
    change_pixels: float = 0.0
    native_change: list = field(default_factory=list)  # per frame: mean squared change, RGB, native size
    # the fix's change d against the input's own residual along the motion r (RGB, analysis scale;
    # and the fine-detail band on native tiles): Σd·r, Σd², Σr²
    flick_dr: float = 0.0
    flick_dd: float = 0.0
    flick_rr: float = 0.0
    flick_pixels: float = 0.0
    # the same Σd·r with both low-passed (``UNDONE_SIGMA``)
    flick_dr_low: float = 0.0
    hf_dr: float = 0.0
    hf_dd: float = 0.0
    hf_rr: float = 0.0
    hf_pixels: float = 0.0
    ghost_num: float = 0.0
    ghost_den: float = 0.0
    ghost_frames: int = 0
    detail_in: float = 0.0
    detail_out: float = 0.0
    change: ChangeMap = field(default_factory=ChangeMap)

    def fidelity(self, a: _Img, b: _Img) -> None:
        self.ssim.append(ssim(a.gray, b.gray))
        self.psnr.append(psnr(a.rgb, b.rgb))
        self.psnr_matched.append(psnr_tone_matched(a.rgb, b.rgb))
        self.luma_in.append(float(a.gray.mean()))
        self.luma_out.append(float(b.gray.mean()))
        self.chroma_in.append(a.chroma)
        self.chroma_out.append(b.chroma)
        self.drift_in.append(window_drift.rgb_stats(a.rgb))
        self.drift_out.append(window_drift.rgb_stats(b.rgb))

    def high_frequency(self, a0: _Img, a1: _Img, b0: _Img, b1: _Img, motions: Sequence[texture.TileMotion],
                       guide_bands: Sequence[tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        """Fine detail along the input's motion, on native tiles: how much changes frame to frame
        (flicker: regenerated texture, noise) before and after, and how much of the detail that
        persists across the pair the output keeps (a fix may remove the first, never the second).
        ``motions``: the input's tile motions (``_SourceSide``); ``guide_bands``: the guide's
        detail on the same tiles (``_SourcePair.guide_bands``), when the render has a guide."""
        moved_in = moved_out = 0.0
        count = 0
        if guide_bands is None:
            self.guide_num = None
        for n, motion in enumerate(motions):
            ia, ib = texture.tile_bands(a0.y, a1.y, motion)
            oa, ob = texture.tile_bands(b0.y, b1.y, motion)
            if self.guide_num is not None and guide_bands is not None:
                # the render's detail that lines up with the guide's: a per-frame sharpening the
                # guide does not have moves it up and down, and steadying it keeps its mean
                ga, gb = guide_bands[n]
                self.guide_num += sums.dot(oa, ga) + sums.dot(ob, gb)
                self.guide_den += sums.dot(ia, ga) + sums.dot(ib, gb)
                self.guide_energy += cv2.norm(ga, cv2.NORM_L2SQR) + cv2.norm(gb, cv2.NORM_L2SQR)
            moved_in += cv2.norm(ia, ib, cv2.NORM_L2SQR)
            moved_out += cv2.norm(oa, ob, cv2.NORM_L2SQR)
            # detail that persists along the motion: the pair's covariance (what changes cancels)
            self.kept_num += sums.dot(oa, ob)
            self.kept_den += sums.dot(ia, ib)
            self.detail_energy += (cv2.norm(ia, cv2.NORM_L2SQR) + cv2.norm(ib, cv2.NORM_L2SQR)) / 2
            # the fix's change to each frame's detail against the input's change along the motion
            # (the other frame's detail less this one's): removing boiling opposes it
            r = cv2.subtract(ib, ia)
            da, db = cv2.subtract(oa, ia), cv2.subtract(ob, ib)
            self.hf_dr += sums.dot(db, r) - sums.dot(da, r)
            self.hf_dd += cv2.norm(da, cv2.NORM_L2SQR) + cv2.norm(db, cv2.NORM_L2SQR)
            self.hf_rr += 2 * cv2.norm(r, cv2.NORM_L2SQR)
            self.hf_pixels += 2 * int(motion.ok.sum())
            count += int(motion.ok.sum())
        self.hf_in.append(math.sqrt(moved_in / count) if count else None)
        self.hf_out.append(math.sqrt(moved_out / count) if count else None)

    def sharpness(self, a: _Img, b: _Img, nxt: _Img | None = None, fw: np.ndarray | None = None,
                  reliable: np.ndarray | None = None, mask: np.ndarray | None = None) -> None:
        """Detail kept by ``b`` on ``a``'s textured pixels; stable ones only when the next frame is given.
        ``mask``: those pixels when the source side found them already (``_sharp_mask``)."""
        if mask is None:
            mask = _sharp_mask(a, nxt, fw, reliable)
        if mask.any():
            self.detail_in += detail_energy(a.gray, mask)
            self.detail_out += detail_energy(b.gray, mask)

    def persistence(self, a0: _Img, b0: _Img, a1: _Img, b1: _Img, a2: _Img, b2: _Img, to_prev: np.ndarray,
                    to_next: np.ndarray, reliable: np.ndarray) -> None:
        """How much of the fix's change to the middle frame it makes to its neighbours too, along the
        motion. Removing flicker changes each frame differently (its mean over three frames is
        small); a change that persists — a tone moved for good, detail smoothed away — is a change
        of the content, which the flicker measures cannot tell from a fix."""
        if not reliable.any():
            return
        d0, d1, d2 = (cv2.subtract(b.gray, a.gray, dtype=cv2.CV_32F) for a, b in ((a0, b0), (a1, b1), (a2, b2)))
        smooth = (warp(d0, to_prev) + d1 + warp(d2, to_next)) / 3.0
        k = reliable.astype(np.float32)
        self.change_smooth += sums.total(smooth * smooth * k)
        self.change_total += sums.total(d1 * d1 * k)
        self.change_pixels += sums.total(k)

    def against_flicker(self, a0: _Img, a1: _Img, b1: _Img, a2: _Img, to_prev: np.ndarray,
                        to_next: np.ndarray, reliable: np.ndarray) -> None:
        """The fix's change to the middle frame against the input's own residual there: the frame
        less the mean of its neighbours warped onto it (RGB). Flicker removed opposes that residual
        wherever it is; an error the fix adds, or content it moves (a real change of light, detail
        that persists), does not line up with it."""
        if not reliable.any():
            return
        mid = a1.rgb.astype(np.float32)
        r = mid - (warp(a0.rgb.astype(np.float32), to_prev) + warp(a2.rgb.astype(np.float32), to_next)) * 0.5
        d = cv2.subtract(b1.rgb, a1.rgb, dtype=cv2.CV_32F)
        k = cv2.merge([reliable.astype(np.float32)] * 3)
        dk = d * k
        self.flick_dr += sums.total(dk * r)
        self.flick_dd += sums.total(dk * d)
        self.flick_rr += sums.total(r * r * k)
        self.flick_pixels += 3 * float(np.count_nonzero(reliable))
        # warping resamples fine detail, so r holds some of the truth's detail and a change that
        # smooths it lines up with r: low-passed it does not
        self.flick_dr_low += sums.total(cv2.GaussianBlur(d, (0, 0), UNDONE_SIGMA) * k
                                        * cv2.GaussianBlur(r, (0, 0), UNDONE_SIGMA))

    def ghost(self, num: float, den: float) -> None:
        if den > 0:
            self.ghost_num += num
            self.ghost_den += den
            self.ghost_frames += 1


def _sharp_mask(a: _Img, nxt: _Img | None = None, fw: np.ndarray | None = None,
                reliable: np.ndarray | None = None) -> np.ndarray:
    """``a``'s textured pixels, only the stable ones (along the flow to ``nxt``) when that is given."""
    mask = texture_mask(a.gray)
    if nxt is not None and fw is not None and reliable is not None:
        residual = warp(nxt.gray, fw).astype(np.float32) - a.gray.astype(np.float32)
        mask = stable_texture(mask, residual, reliable)
    return mask


@dataclass(frozen=True, slots=True)
class _SourcePair:
    """What verification measures on the input alone for the pair (t−1, t): the same for every output."""

    fw: np.ndarray  # flow t−1 → t at analysis size
    bw: np.ndarray  # t → t−1
    rel_fw: np.ndarray  # reliable on t−1's grid
    rel_bw: np.ndarray  # on t's grid
    motions: tuple[texture.TileMotion, ...]  # native tiles of t−1 along the motion
    sharp: np.ndarray  # t−1's stable textured pixels
    guide_bands: tuple[tuple[np.ndarray, np.ndarray], ...] | None = None  # the guide's on ``motions``' tiles


def _source_side(src_frames: Iterator[np.ndarray], cuts: set[int], max_side: int,
                 guide_frames: Iterator[np.ndarray] | None = None,
                 seen: texture.PairMotions | None = None) -> Iterator[tuple[np.ndarray, _Img, _SourcePair | None]]:
    """Per input frame: (native frame, analysis image, the pair with the frame before or None at a cut).

    ``seen`` hears each pair's native tile motions (for the output's re-diagnosis, ``check``).

    ``guide_frames``: the render's guide (its source video, same frame count, any size); the
    motion then comes from the guide at the input's analysis size, the flickering input steering
    no flow. A guide that ends early leaves the remaining pairs to the input's own flow.
    Nothing here depends on the output, so ``check`` runs it on a worker thread (``Ahead``)."""
    prev: _Img | None = None
    prev_motion: _Img | None = None  # the frame the previous pair's motion was measured on
    prev_guide_y: np.ndarray | None = None
    for t, x in enumerate(src_frames):
        a = _Img(x, _analysis_size(x.shape, max_side))
        g = next(guide_frames, None) if guide_frames is not None else None
        motion = a if g is None else _Img(g, a.gray.shape[1::-1])
        guide_y = None if g is None else _guide_luma(g, x.shape)
        pair = None
        if prev is not None and t not in cuts:
            fw, bw, rel_fw, rel_bw = _pair_flows(prev_motion if prev_motion is not None else prev, motion)
            scale = prev.y.shape[1] / prev.gray.shape[1]
            origins = texture.tile_origins(prev.gray, rel_fw, scale, prev.y.shape)
            motions = tuple(texture.tile_motions(prev.y, a.y, fw, rel_fw, scale, origins))
            if seen is not None:
                seen.add(t, x.shape, motions)
            bands = (None if guide_y is None or prev_guide_y is None
                     else tuple(texture.tile_bands(prev_guide_y, guide_y, m) for m in motions))
            pair = _SourcePair(fw, bw, rel_fw, rel_bw, motions, _sharp_mask(prev, a, fw, rel_fw), bands)
        yield x, a, pair
        prev, prev_motion, prev_guide_y = a, motion, guide_y


def _guide_luma(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The guide frame's luma at the input's native size (its tiles' detail is read there)."""
    return cv2.cvtColor(resized(g, (shape[1], shape[0])), cv2.COLOR_RGB2GRAY)


def _pair_flows(a: _Img, b: _Img) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(fw a→b, bw b→a, reliable on a's grid, reliable on b's grid)."""
    fw = flow(a.gray, b.gray)
    bw = flow(b.gray, a.gray)
    return fw, bw, occlusion_mask(fw, bw), occlusion_mask(bw, fw)


def _measure_fix(src_frames: Iterator[np.ndarray], out_frames: Iterator[np.ndarray], cuts: set[int],
                 tally: _Tally, progress: Callable[[int], None], max_side: int = ANALYSIS_MAX_SIDE,
                 guide_frames: Iterator[np.ndarray] | None = None,
                 keep: Callable[[np.ndarray, np.ndarray], None] | None = None,
                 seen: texture.PairMotions | None = None) -> None:
    """Same frame rate: frame t of the output against frame t of the input (both native size).

    The input's side (decoding, flows, masks, tile motions) runs a few frames ahead on a worker
    thread while the output's frames are decoded and measured here. ``keep`` hears each decoded
    (input, output) pair (``media.spill``: the side-by-side clip reads them instead of decoding)."""
    prev_in = prev_out = older_in = older_out = None
    prev_back = None  # (flow t−1→t−2, reliable) for the frame before the newest
    with Ahead(_source_side(src_frames, cuts, max_side, guide_frames, seen), depth=3,
               name="flickerd-verify-source") as source:
        for (x, a, pair), y in _zip_counting(source, out_frames, tally):
            if keep is not None:
                keep(x, y)
            y = _fit(y, x.shape)
            b = _Img(y, _analysis_size(x.shape, max_side))
            tally.fidelity(a, b)
            # the whole change at full size: re-encoding noise and fine detail that analysis size averages away
            tally.native_change.append(cv2.norm(x, y, cv2.NORM_L2SQR) / x.size)
            tally.change.add(*_thumbnails(x.shape, a.gray, b.gray))
            if prev_in is not None:  # every pair, cuts too, at verification's analysis size (the diagnosis's mean_diff: sampled pairs, its own size)
                tally.diff_in.append(mean_diff(prev_in.rgb, a.rgb))
            if prev_in is not None and pair is not None:
                fw, rel_fw = pair.fw, pair.rel_fw
                tally.motion.append(_magnitude(fw))
                tally.sharpness(prev_in, prev_out, mask=pair.sharp)
                tally.warp_in.append(warp_error(a.rgb, prev_in.rgb, fw, rel_fw))
                tally.warp_out.append(warp_error(b.rgb, prev_out.rgb, fw, rel_fw))
                tally.local_in.append(local_residuals(a.gray, prev_in.gray, fw, rel_fw))
                tally.local_out.append(local_residuals(b.gray, prev_out.gray, fw, rel_fw))
                tally.high_frequency(prev_in, a, prev_out, b, pair.motions, pair.guide_bands)
                if prev_back is not None and older_in is not None:
                    # ghosting of the middle frame (prev) from its neighbours (older, a)
                    to_prev, rel_prev = prev_back
                    naive, mc = midpoint_estimate(older_in.gray, a.gray, to_prev, fw)
                    mask = moving_mask(to_prev, fw, reliable=rel_prev & rel_fw)
                    tally.ghost(*ghosting(prev_out.gray, prev_in.gray, naive, mc, mask))
                    tally.persistence(older_in, older_out, prev_in, prev_out, a, b, to_prev, fw, rel_prev & rel_fw)
                    tally.against_flicker(older_in, prev_in, prev_out, a, to_prev, fw, rel_prev & rel_fw)
                prev_back = (pair.bw, pair.rel_bw)
            else:
                if prev_in is not None:
                    tally.sharpness(prev_in, prev_out)
                    for series in (tally.warp_in, tally.warp_out, tally.local_in, tally.local_out, tally.hf_in,
                                   tally.hf_out):
                        series.append(None)
                prev_back = None
            older_in, older_out = prev_in, prev_out
            prev_in, prev_out = a, b
            progress(tally.frames_in)
    if prev_in is not None:
        tally.sharpness(prev_in, prev_out)


def _measure_interpolated(src_frames: Iterator[np.ndarray], out_frames: Iterator[np.ndarray], factor: int,
                          tally: _Tally, progress: Callable[[int], None], max_side: int = ANALYSIS_MAX_SIDE) -> None:
    """Output frame k·factor is input frame k; the frames between are scored for ghosting only."""
    prev_in: _Img | None = None
    prev_out: _Img | None = None  # the output frame at prev_in's timestamp
    out_iter = iter(out_frames)
    for x in src_frames:
        tally.frames_in += 1
        size = _analysis_size(x.shape, max_side)
        a = _Img(x, size)
        want = 1 if prev_in is None else factor
        pending: list[_Img] = []  # output frames up to this source timestamp
        for _ in range(want):
            try:
                pending.append(_Img(_fit(next(out_iter), x.shape), size))
                tally.frames_out += 1
            except StopIteration:
                break
        if len(pending) < want:
            out_iter = iter(())
            prev_in = prev_out = None
            continue  # too few frames: the count check rejects
        tally.fidelity(a, pending[-1])
        if prev_in is not None:
            fw, _bw, rel_fw, _ = _pair_flows(prev_in, a)
            tally.motion.append(_magnitude(fw))
            tally.sharpness(prev_in, prev_out, a, fw, rel_fw)
            mask = moving_mask(fw, reliable=rel_fw)
            for j, mid in enumerate(pending[:-1], start=1):
                s = j / factor
                naive, mc = midpoint_estimate(prev_in.gray, a.gray, -s * fw, (1.0 - s) * fw, s)
                tally.ghost(*ghosting(mid.gray, mc, naive, mc, mask))
        prev_in, prev_out = a, pending[-1]
        progress(tally.frames_in)
    if prev_in is not None and prev_out is not None:
        tally.sharpness(prev_in, prev_out)
    for _ in out_iter:  # a trailing group after the last source frame (n·factor outputs) is allowed
        tally.frames_out += 1


def _zip_counting(a: Iterator[np.ndarray], b: Iterator[np.ndarray], tally: _Tally) -> Iterator[tuple]:
    """Pairs while both last; afterwards count what is left of either (dropped/duplicated frames)."""
    ia, ib = iter(a), iter(b)
    while True:
        x = next(ia, None)
        y = next(ib, None)
        if x is not None:
            tally.frames_in += 1
        if y is not None:
            tally.frames_out += 1
        if x is None or y is None:
            tally.frames_in += sum(1 for _ in ia)
            tally.frames_out += sum(1 for _ in ib)
            return
        yield x, y


class _OutputUnreadable(Exception):
    """The fixed file failed to decode part-way: a rejection, unlike a bad source."""


def _images(path: str, *, output: bool = False) -> Iterator[np.ndarray]:
    """Native-size RGB frames: the measures at analysis size shrink them, the fine-detail ones do not."""
    try:
        for frame in iter_frames(path):
            yield frame.image
    except InputError as exc:
        if output:
            raise _OutputUnreadable(str(exc)) from exc
        raise


def _guide_images(path: str) -> Iterator[np.ndarray]:
    """The guide's frames until it ends or stops decoding: a broken guide leaves the rest of the
    pairs to the input's own flow, it never fails the verification of the render."""
    try:
        yield from _images(path)
    except InputError:
        return


# ---------------------------------------------------------------- decision (pure)


def _mean(values: Sequence[float | None]) -> float | None:
    xs = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(xs)) if xs else None


def _reduction(before: float | None, after: float | None, floor: float) -> float | None:
    """1 − after/before, with both raised to ``floor`` so changes within noise count as none."""
    if before is None or after is None:
        return None
    return 1.0 - max(after, floor) / max(before, floor)


def _listed(names) -> str:
    names = list(names)
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def _chroma_second_difference(means: Sequence[tuple[float, float]], cuts: Sequence[int]) -> list[float | None]:
    """Per frame, the mean of Cb's and Cr's second differences (chroma levels); see luma's."""
    if not means:
        return []
    cb = luma_second_difference([m[0] for m in means], cuts)
    cr = luma_second_difference([m[1] for m in means], cuts)
    return [None if b is None else (b + r) / 2 for b, r in zip(cb, cr)]


def _moved(reduction: float, places: int = 1) -> str:
    """``0.01`` → "fell by only 1.0%", ``-0.03`` → "rose by 3.0%" (a signed "+1.0%" read as a gain)."""
    pct = round(100 * reduction, places)
    return (f"fell by only {pct:.{places}f}%" if pct > 0 else f"rose by {-pct:.{places}f}%" if pct < 0
            else "did not change")


def _none_fell(metrics: Mapping[str, Any], red: float, places: int) -> str:
    """Where the best "did not change" only because the measures under their floors count 0 while
    the warping error moved: guided_mochi's reason said "did not change" under a title "warping
    error +0.4%" (qa19). Words only; the figure judged is the same."""
    warp = metrics.get("flicker_reduction")
    if round(100 * red, places) != 0 or not isinstance(warp, (int, float)) or not math.isfinite(warp) \
            or round(100 * warp, places) == 0:
        return ""
    return f" (the warping error {_moved(warp, places)}; a measure under its noise floor counts as unchanged)"


def judge(metrics: Mapping[str, Any], t: Acceptance, mode: str) -> list[str]:
    """The reasons to reject (empty: accept). Pure: numbers in, sentences out. ``t`` is a chain's
    (``Acceptance.for_chain``): the raw table would ask its texture bar of every fix."""
    reasons: list[str] = []
    if mode == "fix":
        red = metrics.get("best_reduction")
        drift_red = metrics.get("drift_reduction")
        drift_fixed = drift_red is not None and drift_red > t.min_flicker_reduction
        bar = max(t.min_flicker_reduction, t.min_texture_flicker_reduction)
        if red is not None and red <= bar and not drift_fixed:
            places = percent_apart(red, bar)
            reasons.append(
                # "each above its noise floor": DynamiCrafter's chroma went 0.048 -> 0.040 (-16%) under
                # its floor and counts as none, which the report's bare before/after do not show
                f"the fix does not reduce flicker: the best of {_listed(FLICKER_MEASURES.values())} "
                f"(each above its noise floor) {_moved(red, places)}{_none_fell(metrics, red, places)}, and it must "
                f"fall by more than {round(100 * bar, places):g}%."
            )
        for key, label in FLICKER_MEASURES.items():
            b, a, r = metrics.get(f"{key}_before"), metrics.get(f"{key}_after"), metrics.get(f"{key}_reduction")
            if r is not None and r < -t.max_flicker_increase:
                reasons.append(f"the fix adds flicker: {label} rose from {b:.4g} to {a:.4g}.")
    checks = (
        ("ssim", "min", t.min_ssim, "SSIM vs the input {v:.4f} is below the minimum {t:.4f}."),
        ("psnr_tone_matched_db", "min", t.min_psnr,
         "PSNR vs the input (after matching each frame's tone) {v:.2f} dB is below the minimum {t:.2f} dB."),
        ("ghosting", "max", t.max_ghosting, "ghosting on moving regions {v:.3f} exceeds the maximum {t:.3f} (double edges or blended neighbours)."),
        ("sharpness_ratio", "min", t.min_sharpness_ratio, "sharpness retention {v:.3f} is below the minimum {t:.3f} (the output is blurred)."),
        ("change_persistence", "max", t.max_change_persistence,
         "the fix changes the picture the same way frame after frame ({v:.3f} of its change persists over "
         "three frames, the maximum is {t:.3f}): that moves the content, not flicker."),
        ("change_on_flicker", "min", t.min_change_on_flicker,
         "the fix's change lines up with the input's flicker along the motion only {v:.2f} (correlation; the "
         "minimum is {t:.2f}): the rest of what it changed is not flicker — an error it added, or real content "
         "such as a change of light."),
        ("detail_change_on_flicker", "min", t.min_detail_change_on_flicker,
         "the fix's change to the fine detail lines up with the input's boiling along the motion only {v:.2f} "
         "(correlation; the minimum is {t:.2f}): it changed detail that does not boil."),
        ("expected_error_change", "max", t.max_expected_error_change,
         "the fix is expected to end further from a steady picture than its input: its change at full size "
         "({v:.2f} grey levels² per sample more than the flicker it undoes; the maximum is {t:.2f}) is mostly "
         "encoding noise or detail moved, not flicker removed."),
        ("detail_kept", "min", t.min_detail_kept,
         "the fix removed detail that persists from frame to frame: it kept {v:.3f} of it, below the minimum {t:.3f}."),
    )
    for key, kind, limit, text in checks:
        v = metrics.get(key)
        if v is None:
            continue
        if (kind == "min" and v < limit) or (kind == "max" and v > limit):
            reasons.append(_apart(text, v, limit).format(v=v, t=limit))
    share = undone_low_share(metrics)
    if share is not None and share < t.min_tone_undone_low_share:
        reasons.append(
            f"only {share:.2f} of the flicker the tone fix undoes is in the low band (the minimum is "
            f"{t.min_tone_undone_low_share:.2f}): the rest is its encode smoothing the picture's own fine "
            "detail, which is not flicker removed.")
    vm = metrics.get("vmaf")
    if t.min_vmaf > 0 and vm is not None and vm < t.min_vmaf:
        reasons.append(f"VMAF vs the input {vm:.2f} is below the minimum {t.min_vmaf:.2f}.")
    return reasons


def _apart(text: str, v: float, limit: float) -> str:
    """``text`` with ``{v:.Nf}`` and ``{t:.Nf}`` widened alike until ``v`` no longer prints as its
    limit (``figures.apart``): "only 0.15 (the minimum is 0.15)" read as a rejection for nothing;
    "only 0.149 (the minimum is 0.150)" says why. A user's limit with more places than the
    template is shown in full."""
    m = re.search(r"\{v:\.(\d)f\}", text)
    if m is None:
        return text
    places = apart(v, limit, max(int(m.group(1)), _places(limit)))
    return re.sub(r"\{([vt]):\.\d+f\}", lambda g: f"{{{g.group(1)}:.{places}f}}", text)


def _places(x: float) -> int:
    """Decimal places ``x`` needs (up to 6): 0.155 → 3, 0.9 → 1."""
    return next((p for p in range(7) if abs(round(x, p) - x) < 1e-9), 6)


def _structure(info_in: MediaInfo, info_out: MediaInfo, frames_in: int, frames_out: int, mode: str,
               factor: int) -> list[str]:
    """Reasons from frame count, rate, duration, size and audio (dropped or duplicated frames)."""
    reasons = []
    if mode == "interpolate":
        if factor < 2:
            return [f"interpolation expected an integer frame-rate multiple ≥ 2, got {info_out.fps:.3f} fps "
                    f"from {info_in.fps:.3f} fps."]
        allowed = {(frames_in - 1) * factor + 1, frames_in * factor}
        if frames_out not in allowed:
            reasons.append(f"frame count {frames_out} does not match {factor}× interpolation of {frames_in} frames "
                           f"(expected {' or '.join(map(str, sorted(allowed)))}).")
        want_fps = info_in.fps * factor
    else:
        if frames_out != frames_in:
            reasons.append(f"frame count changed from {frames_in} to {frames_out}: the fix dropped or duplicated frames.")
        want_fps = info_in.fps
    if abs(info_out.fps - want_fps) > FPS_TOLERANCE * want_fps:
        reasons.append(f"frame rate changed from {want_fps:.3f} to {info_out.fps:.3f} fps.")
    if info_in.duration_s and info_out.duration_s:
        slack = DURATION_TOLERANCE_FRAMES / info_in.fps
        if abs(info_out.duration_s - info_in.duration_s) > slack:
            reasons.append(f"duration changed from {info_in.duration_s:.3f} s to {info_out.duration_s:.3f} s.")
    if info_in.has_audio and not info_out.has_audio:
        reasons.append("the audio track was lost.")
    if abs(info_out.width - info_in.width) > 1 or abs(info_out.height - info_in.height) > 1:
        reasons.append(f"frame size changed from {info_in.width}×{info_in.height} to {info_out.width}×{info_out.height}.")
    return reasons


def _interpolation_factor(info_in: MediaInfo, info_out: MediaInfo) -> int:
    ratio = info_out.fps / info_in.fps if info_in.fps else 0.0
    k = int(round(ratio))
    return k if k >= 2 and abs(ratio - k) <= FPS_TOLERANCE * k else 0


def _default_rediagnose(path: str, tiles: texture.PairMotions | None = None) -> Diagnosis | None:
    try:
        from flickerd.diagnose import run
    except ImportError:  # the diagnosis engine is optional for verification itself
        return None
    return run(path, tiles_of=tiles)


def check(
    src: str,
    fixed: str,
    before: Diagnosis | None,
    chain: ChainResult | None,
    thresholds: Acceptance = Acceptance(),
    *,
    mode: str = "fix",
    rediagnose: Callable[[str, texture.PairMotions | None], Diagnosis | None] | None = _default_rediagnose,
    vmaf: bool = False,
    max_side: int = ANALYSIS_MAX_SIDE,
    progress: ProgressFn = no_progress,
    guide: str | None = None,
    keep: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> Verification:
    """Measure ``fixed`` against ``src`` and accept or reject it (see the module docstring).

    ``rediagnose(output, tiles)`` re-runs the diagnosis on the output (None: skip); ``tiles``: the
    input's native tile motions measured here (``diagnose.run``'s ``tiles_of``; None with a guide,
    in ``interpolate`` mode or when the frame counts differ), so that the output's texture is judged on the same tiles along the
    input's motion without refining them again. VMAF runs when ``vmaf``
    is true or the thresholds require it. ``guide``: the render's guide video (checked by
    ``media.guide``: same frame count); both files are then measured with the guide's motion. ``keep``
    hears every decoded (input, output) frame pair in ``fix`` mode (``media.spill``). Problems with the *output* (unreadable, wrong frame
    count, rate or size) are rejections, not exceptions; an unreadable *input* raises ``InputError``.
    """
    if mode not in ("fix", "interpolate"):
        raise ValueError(f"unknown verification mode {mode!r}")
    start = time.monotonic()
    along_guide = bool(guide) and mode == "fix"  # the measures follow the guide's motion (see flow_from_guide)
    t = thresholds.for_chain([s.route for s in chain.steps] if chain is not None else [], along_guide)
    info_in = probe(src)
    try:
        info_out = probe(fixed)
    except InputError as exc:
        return Verification(False, (f"the output cannot be read: {exc}",), {}, None, mode, t,
                            seconds=time.monotonic() - start)
    factor = _interpolation_factor(info_in, info_out) if mode == "interpolate" else 1
    cuts = set(before.cuts) if before is not None else set()
    total = max(1, info_in.frame_count)
    tally = _Tally()
    seen = texture.PairMotions() if rediagnose is not None and mode == "fix" and not guide else None

    def frame_progress(i: int) -> None:
        progress(min(0.9, 0.9 * i / total))

    reasons: list[str] = []
    unreadable = False
    try:
        out_frames = _images(fixed, output=True)
        if mode == "interpolate" and factor:
            _measure_interpolated(_images(src), out_frames, factor, tally, frame_progress, max_side)
        elif mode == "fix":
            _measure_fix(_images(src), out_frames, cuts, tally, frame_progress, max_side,
                         _guide_images(guide) if guide and mode == "fix" else None, keep, seen)
    except _OutputUnreadable as exc:
        unreadable = True
        reasons.append(f"the output cannot be decoded: {exc}")
    reasons[:0] = _structure(info_in, info_out, tally.frames_in or info_in.frame_count,
                             tally.frames_out or info_out.frame_count, mode, factor)

    metrics = _metrics(tally, mode, factor, info_in, info_out, sorted(cuts))
    metrics["flow_from_guide"] = bool(guide) and mode == "fix"  # whose motion the measures followed
    if mode == "fix":
        metrics.update(drift_metrics(tally.drift_in, tally.drift_out, judged_seams(before, chain)))
        metrics.update(headline(metrics))
    if (vmaf or t.min_vmaf > 0) and not reasons:
        from flickerd.quality.vmaf import vmaf as run_vmaf

        metrics["vmaf"] = run_vmaf(src, fixed, info_in.width, info_in.height, every_nth_distorted=factor or 1)
    reasons += judge(metrics, t, mode)

    after = None
    if rediagnose is not None and not unreadable:
        try:
            # frame t of the output is frame t of the input only when none was dropped or added
            same = seen is not None and seen.pairs and tally.frames_in == tally.frames_out
            after = rediagnose(fixed, seen if same else None)
        except FlickerdError as exc:
            reasons.append(f"the output cannot be diagnosed: {exc}")
    progress(1.0)
    series = {
        "warp_error_before": tuple([None] + tally.warp_in) if tally.warp_in else (),
        "mean_diff_before": tuple([None] + tally.diff_in) if tally.diff_in else (),
        "warp_error_after": tuple([None] + tally.warp_out) if tally.warp_out else (),
        "luma_flicker_before": tuple(luma_second_difference(tally.luma_in, sorted(cuts))),
        "luma_flicker_after": tuple(luma_second_difference(tally.luma_out, sorted(cuts))),
    }
    return Verification(not reasons, tuple(reasons), metrics, after, mode, t, series, time.monotonic() - start,
                        change_map=tally.change.total if mode == "fix" else None)


def _metrics(tally: _Tally, mode: str, factor: int, info_in: MediaInfo, info_out: MediaInfo,
             cuts: Sequence[int]) -> dict[str, Any]:
    ssim_mean = _mean(tally.ssim)
    m: dict[str, Any] = {
        "frames_in": tally.frames_in,
        "frames_out": tally.frames_out,
        "fps_in": info_in.fps,
        "fps_out": info_out.fps,
        "duration_in_s": info_in.duration_s,
        "duration_out_s": info_out.duration_s,
        "ssim": ssim_mean,
        "ssim_min": min(tally.ssim) if tally.ssim else None,
        "psnr_db": _mean(tally.psnr),
        "psnr_tone_matched_db": _mean(tally.psnr_matched),  # after per-frame gain/offset: what the threshold uses
        "ghosting": max(0.0, tally.ghost_num / tally.ghost_den) if tally.ghost_den > 0 else None,
        "ghosting_frames": tally.ghost_frames,
        "sharpness_ratio": tally.detail_out / tally.detail_in if tally.detail_in > 0 else None,
        "flicker_fix": mode == "fix",
        "motion_px": _mean(tally.motion),  # mean flow magnitude of the input at analysis scale
    }
    if mode == "interpolate":
        m["interpolation_factor"] = factor
        return m
    series = {  # measure: (before, after); each judged against its noise floor (FLOORS)
        "warp_error": (_mean(tally.warp_in), _mean(tally.warp_out)),
        "luma_flicker": (_mean(luma_second_difference(tally.luma_in, cuts)),
                         _mean(luma_second_difference(tally.luma_out, cuts))),
        "local_flicker": (_mean(tally.local_in), _mean(tally.local_out)),
        "chroma_flicker": (_mean(_chroma_second_difference(tally.chroma_in, cuts)),
                           _mean(_chroma_second_difference(tally.chroma_out, cuts))),
        "detail_flicker": (_mean(tally.hf_in), _mean(tally.hf_out)),
    }
    for key, (before, after) in series.items():
        m[f"{key}_before"], m[f"{key}_after"] = before, after
        m[f"{key}_reduction"] = _reduction(before, after, FLOORS[key])
    wb, wa = series["warp_error"][:2]
    m.update(
        # energy of the fine detail that persists along the input's motion, output over input (> 1:
        # boiling made steady); not measured where almost nothing of the input's detail persists
        detail_kept=_detail_kept(tally),
        detail_guide_correlation=_guide_correlation(tally),  # above GUIDE_DETAIL_CORRELATION: detail_kept followed the guide
        # share of the fix's change energy that persists over three frames: 1/3 for a change that
        # differs every frame (flicker removed), 1 for one that stays; not measured for tiny changes
        change_persistence=(tally.change_smooth / tally.change_total
                            if tally.change_total > MIN_CHANGE * tally.change_pixels > 0 else None),
    )
    m["change_on_flicker"] = _against(tally.flick_dr, tally.flick_dd, tally.flick_rr, tally.flick_pixels)
    m.update(_error_change(tally.flick_dr, tally.flick_dd, tally.flick_rr, tally.flick_pixels))
    m["change_energy_native"] = _mean(tally.native_change)
    m["detail_change_on_flicker"] = _against(tally.hf_dr, tally.hf_dd, tally.hf_rr, tally.hf_pixels)
    m.update(_expected_error_change(m["change_energy_native"], tally))
    m["flicker_undone_low_share"] = _low_share(m["flicker_undone"], m["flicker_undone_low"])
    # The warping error with the input's flow, before and after, and 1 − after/before (not raised to
    # its floor): flickerd_flicker_score/_reduction_ratio, and the headline's fallback (``headline``).
    m["flicker_before"], m["flicker_after"] = wb, wa
    m["flicker_reduction"] = 1.0 - wa / wb if wb and wa is not None else None
    # Acceptance asks more leniently: a fix may target one kind of flicker only (a breathing
    # region barely moves the global numbers), so the best of the five reductions counts there.
    found = [m[f"{k}_reduction"] for k in FLICKER_MEASURES if m[f"{k}_reduction"] is not None]
    m["best_reduction"] = max(found) if found else None
    return m


def _guide_correlation(tally: _Tally) -> float | None:
    """How closely the input's fine detail follows the guide's over the clip's tiles (None: no guide
    on every pair, or no detail)."""
    if tally.guide_num is None or tally.guide_energy <= 0 or tally.detail_energy <= 0:
        return None
    return tally.guide_den / math.sqrt(2 * tally.detail_energy * tally.guide_energy)


def _detail_kept(tally: _Tally) -> float | None:
    """The share of the input's persistent fine detail the output keeps. Blind: the pair
    covariance (what persists along the motion). With a guide whose detail the input's follows
    (``GUIDE_DETAIL_CORRELATION``): the detail that lines up with the guide's, which is stable, so
    detail that boils in the render but not in the guide (a per-frame sharpening) is flicker and
    its removal is no loss; the pair covariance counts the sharpened pairs' extra energy as kept
    detail (bench guided: the truth itself kept 0.93 by it on a sharpening-jitter clip)."""
    corr = _guide_correlation(tally)
    if corr is not None and corr > GUIDE_DETAIL_CORRELATION:
        return tally.guide_num / tally.guide_den
    if tally.kept_den > PERSISTENT_SHARE * tally.detail_energy > 0:
        return tally.kept_num / tally.kept_den
    return None


def undone_low_share(metrics: Mapping[str, Any]) -> float | None:
    """``flicker_undone_low_share`` from the metrics' ``flicker_undone`` and ``flicker_undone_low``
    under today's ``TONE_UNDONE_FLOOR`` (what ``_metrics`` reported, the same numbers): a stored
    metrics dict (``bench real_repairs --from-dump``) is re-judged by today's thresholds, whether or
    not it carries the share. One without the two parts gives the share it carries."""
    if "flicker_undone" in metrics and "flicker_undone_low" in metrics:
        return _low_share(metrics["flicker_undone"], metrics["flicker_undone_low"])
    return metrics.get("flicker_undone_low_share")


def _low_share(full: float | None, low: float | None) -> float | None:
    """``low`` / ``full``: the low band's share of the flicker a fix undoes; None where it undoes under
    ``TONE_UNDONE_FLOOR`` or either is unmeasured."""
    if full is None or low is None or full < TONE_UNDONE_FLOOR:
        return None
    return low / full


def _against(dr: float, dd: float, rr: float, pixels: float) -> float | None:
    """−corr(change, residual) in [−1, 1]: 1 when all the fix changed undoes the input's residual
    along the motion (flicker removed), 0 when none of it does; None for changes under
    ``MIN_CHANGE`` (a fix that barely touches the picture has nothing to judge)."""
    if dd <= MIN_CHANGE * pixels or rr <= 0:
        return None
    return -dr / math.sqrt(dd * rr)


def _error_change(dr: float, dd: float, rr: float, pixels: float) -> dict[str, float | None]:
    """Grey levels² per RGB sample on reliably tracked pixels: the fix's change, the input's own
    residual along the motion, and the change of squared error against a steady truth that the two
    predict. If the input is the truth plus flicker that differs frame to frame, the residual is that
    flicker, and an output = input + d is off the truth by |d|² + 2·d·flicker more than the input:
    negative when the change undoes the flicker more than it adds. Residual the truth has itself
    (motion the flow misses) counts as flicker here, so this is an estimate, not a measurement."""
    if pixels <= 0:
        return {"change_energy": None, "residual_energy": None, "error_change_estimate": None}
    return {"change_energy": dd / pixels, "residual_energy": rr / pixels,
            "error_change_estimate": (dd + 2.0 * dr) / pixels}


def _expected_error_change(native: float | None, tally: _Tally) -> dict[str, float | None]:
    """Grey levels² per sample: what the fix's change is expected to add to the error against a
    steady truth, band by band. The 320 px band: the change's energy less the flicker it undoes
    (−2·d·r with both low-passed, ``flicker_undone_low``: warping resamples fine detail, so an
    unfiltered r holds some of the truth's detail and smoothing it would score). The fine band:
    what 320 px averages away of the change (full size less 320 px: the final encode's noise,
    detail moved or removed), of which only the share the native tiles see undoing the boiling
    (``detail_flicker_undone`` / ``detail_change_energy``) is credited. A change that is mostly one
    more generation of x264, or real detail averaged, reads > 0: expected to end further from the
    truth than its input. ``flicker_undone`` (unfiltered) is reported for comparison. The tiles'
    share (2 for a change that undoes exactly the boiling, more for one that undoes part of it) is
    taken only where their change is more than ``MIN_CHANGE``: a near-zero change makes it any number."""
    out: dict[str, float | None] = dict.fromkeys(
        ("flicker_undone", "flicker_undone_low", "detail_flicker_undone",
         "detail_change_energy", "expected_error_change"))
    if tally.hf_pixels > 0:
        out["detail_flicker_undone"] = -2.0 * tally.hf_dr / tally.hf_pixels
        out["detail_change_energy"] = tally.hf_dd / tally.hf_pixels
    if tally.flick_pixels <= 0:
        return out
    out["flicker_undone"] = -2.0 * tally.flick_dr / tally.flick_pixels
    out["flicker_undone_low"] = low = -2.0 * tally.flick_dr_low / tally.flick_pixels
    if native is None:
        return out
    coarse = tally.flick_dd / tally.flick_pixels
    share = 0.0
    if tally.hf_pixels > 0 and tally.hf_dd > MIN_CHANGE * tally.hf_pixels:
        share = -2.0 * tally.hf_dr / tally.hf_dd
    out["expected_error_change"] = coarse - low + max(native - coarse, 0.0) * (1.0 - share)
    return out


def judged_seams(before: Diagnosis | None, chain: ChainResult | None) -> tuple[int, ...]:
    """The seams a fix is judged at: those the chain's ``drift`` steps corrected and the diagnosis's,
    one join counted once (``seam_list.merged``, as ``rules.with_seams`` hands them on). Never found
    here on whole-frame statistics: seams have one standard, and a real change of light taken for a
    seam would count as drift removed. No diagnosis and no drift step: none."""
    corrected = [int(s) for step in (chain.steps if chain is not None else ()) if step.route == "drift"
                 for s in step.extra.get("seams", ())]
    return merged(corrected, before.seams if before is not None else ())


HEADLINE_MEASURES: Mapping[str, str] = MappingProxyType({**FLICKER_MEASURES, "drift": "window drift"})


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def headline(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The figure people see for a fix (log, metric, report, plot title, CLI): the reduction of the
    measure that fell most among those whose input was over their noise floor (``FLOORS``) — the
    kind the fix was for. The warping error alone undersold tone fixes: MagicTime's luma flicker
    fell 87%, its warping error 3%. Where no such measure fell, the warping error's own change
    (``flicker_reduction``, not raised to a floor): a fix that made everything worse says so, rather
    than a 0% of a measure the input never had. A tie goes to the first in ``HEADLINE_MEASURES``;
    nothing measured: no headline."""
    found = [(metrics[f"{k}_reduction"], -i, k) for i, k in enumerate(HEADLINE_MEASURES)
             if _finite(metrics.get(f"{k}_reduction")) and _finite(metrics.get(f"{k}_before"))
             and metrics[f"{k}_before"] > FLOORS[k]]
    if found and max(found)[0] > 0:
        red, _, key = max(found)
        return {"headline_measure": key, "headline_reduction": float(red)}
    if _finite(metrics.get("flicker_reduction")):
        return {"headline_measure": "warp_error", "headline_reduction": float(metrics["flicker_reduction"])}
    return {"headline_measure": None, "headline_reduction": None}


def drift_metrics(stats_in: Sequence[np.ndarray], stats_out: Sequence[np.ndarray],
                  seams: Sequence[int]) -> dict[str, Any]:
    """Window drift and the largest seam step, before and after, at the input's ``seams``
    (``judged_seams``); drift in grey levels per 100 frames, steps in grey levels."""
    if not stats_in or len(stats_in) != len(stats_out):
        return {}
    a, b = np.stack(stats_in), np.stack(stats_out)
    at = tuple(seams)
    m: dict[str, Any] = {"seams_checked": len(at)}
    m["drift_before"], m["drift_after"] = window_drift.drift(a, at)[0], window_drift.drift(b, at)[0]
    m["seam_step_before"], m["seam_step_after"] = window_drift.seam_step(a, at), window_drift.seam_step(b, at)
    m["drift_reduction"] = _reduction(m["drift_before"], m["drift_after"], FLOORS["drift"]) if at else None
    return m

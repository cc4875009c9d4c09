"""The ``detail`` route: motion-compensated temporal stabilisation of fine detail.

Generative models often re-draw fine texture (foliage, skin pores, film grain) in every frame
while the coarse picture stays: the texture "boils". ``normalize`` cannot touch it (it only
moves low-frequency levels). This step splits every plane into a base and a detail layer,
warps the detail of up to ``radius`` neighbours on each side onto the frame with DIS optical
flow, and replaces the frame's detail with the weighted mean of its own and the aligned ones,
counting a neighbour only where its flow passes the forward–backward check, its base agrees
with the frame's, and its detail does not already repeat the frame's (``detail_fit``). Where
the flow is not trustworthy — true motion it misses, occlusions, scene cuts — or the texture
is stable, a frame keeps its own detail, so moving content and real texture stay sharp. The
base layer is never changed.

Planar YUV sources (8–12 bit) are processed on their decoded planes (chroma at its own
resolution) and handed back to the encoder unchanged in format; other sources go through RGB.
Frames stream through a bounded window of ``2 × radius + 1`` frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from flickerd.flow import PRESETS, warp
from flickerd.flow_source import AheadFlows, FlowSource
from flickerd.routes.guide_stream import GUIDE_PARAM, GuideReader
from flickerd.media.probe import MediaInfo
from flickerd.media.reader import analysis_size
from flickerd.routes import detail_fit as dfit
from flickerd.routes.base import StepResult
from flickerd.routes.encode import DEFAULT_CRF, DEFAULT_PRESET, Encoding
from flickerd.routes.frame_stream import FrameFormat, FrameStage, StageRoute, flow_stage_result
from flickerd.routes.neighbour_window import NeighbourWindow
from flickerd.routes.params_table import RouteParams

# Neighbours on each side. On the fit half of bench real_repairs (detail alone on the 24 texture
# clips) 2 → 3 → 4 took the median gain against the render +0.46 → +0.72 → +0.77 dB (4 added a
# harmful publication), for about a third more route time each; but on renders that boil by
# themselves 3 moved every published fix a further 0.07–0.3 dB from the render, and held out
# verification then published two more of those (SEINE, −0.72 and −0.79 dB): 2 stays.
RADIUS = 2
# px at full resolution: detail finer than this is stabilised. Version 2's 1.5 put persisting 1-1.5 px
# structure in the averaged band, so the novelty gate saw neighbours "repeat" it and shut them out (fit
# half, woman reading, strength 1: 54% of the pixels, 38% of the error), and a render's own 1-2.5 px
# boiling was averaged too. bench real_repairs, fit half, detail alone: texture median +0.46 -> +0.81 dB
# (held out +0.35 -> +0.69), no harmful publication (was 2); renders that boil by themselves no worse.
SIGMA = 1.0
# px at full resolution: the low-pass of the analysis luma the flows and the base gate see. Version 2
# used the split's 1.5; at 1.0 the gate's base kept so much re-drawn detail that strong re-drawn texture
# shut it (TurboWan astronaut, strength 1, in memory: +1.81 dB at 1.5 → +0.61 at 1.0; fit half's
# strength-1 texture median +1.36 at 1.5, +0.80 at 1.0, though renders boiling by themselves fared better).
GATE_SIGMA = 1.5
STRENGTH = 1.0
# Base luma mismatch (fraction of full scale) at which a neighbour stops counting. Measured on
# clean zooms and pans: 0.03 lets sub-pixel misalignment blur (SSIM vs input 0.971), 0.015 does not (0.983).
TOLERANCE = 0.015
# Local correlation of a frame's detail with an aligned neighbour's above which the detail is
# real (repeated) and kept. Measured on clean real footage (bigbuckbunny's fur and grass): with
# no gate the step cost 4.5 dB of PSNR, as sub-pixel misalignment blurred fine texture; with
# 0.8 it costs 0.15 dB while re-drawn texture (ρ ≈ 0) is still averaged (+2.9 dB).
KEEP = 0.8
# The least local detail amplitude kept, as a fraction of the frame's own: a mean of re-drawn
# texture is weaker than any one frame's and looks smoothed. Measured on the corpus: 0 → 0.85
# takes verification's sharpness retention from 0.59–0.67 to 0.87–0.93 for −0.1–0.3 dB.
AMPLITUDE = 0.85
# Where the frame's detail mostly persists, the stabilised detail keeps all of its local amplitude (1, not
# ``amplitude``): the flicker is then a small share of the frame's detail energy, and what the mean lost is
# the real detail that the re-draw (and the alignment's sub-pixel errors) took, not flicker. The frame's
# persistence is the mean, over its near neighbours, of the energy-weighted correlation of its detail with
# the aligned neighbour's (detail_fit.mean_correlation): the amplitude rises from ``amplitude`` at
# ``amplitude_rho`` − AMPLITUDE_RHO_RAMP to 1 at ``amplitude_rho``. Fit half, in memory (luma, 24 frames,
# no final encode): half-strength re-drawn texture persists 0.36-0.81 (TurboWan astronaut 0.58, lone hiker
# 0.45, woman reading 0.81), full strength 0.11-0.16, LaVie's shark (boiling by itself) 0.24 at half strength.
# Half-strength output detail on the lone hiker was 0.55 x the render's (input 0.63) with its re-drawn part
# 3.22 -> 1.86 grey levels^2: the loss is the render's detail, not flicker (see README, detail 6).
AMPLITUDE_RHO = 0.45
AMPLITUDE_RHO_RAMP = 0.15
# The share of persistent detail energy the alignment's sub-pixel errors cost when it is averaged
# (detail_fit.wiener_gain): the larger, the less detail moves where its flicker share is small.
# Fitted on the fit half of bench real_repairs (detail alone on 11 texture clips, and the boiling
# renders): 0.25 gained 0.06–0.4 dB on weak re-drawn texture and on renders that boil by
# themselves but lost 0.1–0.3 dB on strong texture (sum −0.56 dB; 0.1: the same trade, smaller),
# and bench restoration's texture 0.1–0.23 dB. The estimated flicker share cannot tell a render's
# own boiling from re-drawn texture, so it is an opt-in, off by default.
MISALIGNMENT = 0.0
# The base gate's allowance for re-drawn detail, × the local RMS of the detail's change between the
# aligned frames (detail_fit.detail_leak): 0.08 of a white re-draw leaks through the split into the
# base, 3 × that is a three-sigma bound. Strong re-drawn texture shuts the plain gate although the
# flow is right (fit half, TurboWan astronaut, in memory: 57% of the input's error on the 17% of
# pixels with mean reliability < 0.3). bench real_repairs, fit half, detail alone: texture at
# strength 1 +1.19 → +1.48 dB median (0.4: +1.59), but on the renders that boil by themselves
# their luma/breathing clips moved a further 0.05–0.45 dB from the render (the gate was what kept
# averaging off their own boiling): off by default.
LEAK = 0.0
# The leak allowance only where the detail is mostly re-drawn: it fades out as the energy-weighted
# mean correlation of the frame's detail with the aligned neighbour's (detail_fit.mean_correlation)
# rises from ``leak_rho`` − LEAK_RHO_RAMP to ``leak_rho``. 0 (default): the allowance everywhere.
LEAK_RHO = 0.0
LEAK_RHO_RAMP = 0.2
# px per frame at full resolution: neighbours beyond ``radius``, out to ``far``, count only where their
# motion is slower than this (full weight below slow / 2, none from slow on). At half the injector's
# strength 61-82% of the error sat where under half a neighbour's weight passed the gates (fit half, in
# memory), and more neighbours everywhere (radius 4) moved renders that boil by themselves 0.6 dB
# further from themselves; where they move under 1 px a frame (DynamiCrafter honey, LaVie as they are:
# 1-4 px) the far ones do not reach them.
SLOW = 1.0
# Neighbours on each side counted where the motion is slow (≤ radius: none beyond radius); their flows are
# chained through the nearer frames' (in memory: within 0.01 dB of their own flows, at no flow cost).
# Route CPU 0.18 -> 0.26 s a frame (832x480, 48 frames, alternated; README, detail 4); an earlier probe read 0.200 -> 0.276.
FAR = 4
# Where a neighbour moves slower than ``slow`` the novelty gate opens too (its repeated detail is averaged):
# fit half, detail alone, auto's texture median (detail swapped) +0.81 -> +0.85 dB alone, +0.93 with far
# 4; but a clean real film whose fur and grass barely move (bench restoration, bigbuckbunny at 320 px) then
# loses 3 dB more (detail kept 0.88; verification refuses it), so it is an opt-in.
SLOW_OPEN = False
# Where the motion is slow the novelty gate opens too, unless the frame's detail persists: the frame's most
# repeating neighbour (the largest energy-weighted mean correlation over its slowly moving pixels) decides,
# fully open up to OPEN_RHO − OPEN_RHO_RAMP, shut from OPEN_RHO on. Half-strength re-drawn texture repeats
# 0.68-0.88 (fit half, in memory: woman reading 0.83-0.88, TurboWan astronaut 0.68-0.71) and a clean film's
# barely moving fur and grass 0.98-1.00 (bigbuckbunny, whose 3-dB loss kept ``slow_open`` opt-in). Fit half,
# in memory, luma, texture 0.5: woman reading +0.47 -> +1.10 dB, TurboWan +1.01 -> +1.22, lone hiker +0.47 ->
# +0.62; bigbuckbunny clean unchanged. bench real_repairs, fit half, auto: texture median +0.84 -> +0.91 dB
# (strength 0.5 +0.04 -> +0.09), no harmful publication; route CPU +4-9%. 0: never (version 4).
OPEN_RHO = 0.95
OPEN_RHO_RAMP = 0.05
# the least mean slowness (the 0-1 ramp `slow`, over the frame) for a neighbour's repeat to be judged (less: not counted)
OPEN_MIN_SLOW = 0.05
NOVELTY_SIGMA = 3.0  # px at full resolution: the window of that correlation
ANALYSIS_MAX_SIDE = 480  # flows need detail-level accuracy, so a larger analysis size than normalize's
FLOW_PRESET = "medium"  # "fast" misaligns fine detail on zooms (clean-clip SSIM 0.971 vs 0.983 at medium)


@dataclass(frozen=True, slots=True)
class DetailParams(RouteParams):
    """Parameters of the ``detail`` route.

    radius: neighbours on each side (1–8); more removes more boiling, costs 2 flows per frame each.
    sigma: px at full resolution; detail finer than this is stabilised (0.5–8).
    strength: 0–1, how far the detail moves toward the temporal mean.
    tolerance: base-layer mismatch (fraction of full scale, 0.005–0.5) beyond which a neighbour is ignored.
    keep: local correlation (0.05–1) of a frame's detail with an aligned neighbour's above which
        the detail is real and kept as it is; 1 averages repeated detail too.
    amplitude: 0–1, the least local detail amplitude the stabilised detail keeps, as a fraction
        of the frame's own (0: the plain temporal mean, which looks smoothed).
    amplitude_rho: 0–1; > 0: where the frame's detail persists (its mean correlation with its aligned near
        neighbours) at ``amplitude_rho`` or more the least amplitude kept is 1, ramping down to ``amplitude``
        at ``amplitude_rho`` − 0.15. 0: ``amplitude`` everywhere (version 5).
    misalignment: 0–4, how much averaging costs persistent detail (alignment errors); > 0: each
        pixel's detail moves toward the temporal mean by the Wiener gain of its estimated
        flicker share (``detail_fit.wiener_gain``) times ``strength``. 0 (default): by
        ``strength`` everywhere.
    leak: 0–2, the base gate's allowance for what re-drawn detail leaks into the base, × the local
        RMS of the detail's change between the aligned frames (``detail_fit.detail_leak``); 0
        (default): none, the gate is ``tolerance`` alone.
    leak_rho: 0–1; > 0: ``leak`` only where a neighbour's detail is mostly re-drawn: it fades out as the
        frame's mean detail correlation with that neighbour rises from ``leak_rho`` − 0.2 to ``leak_rho``
        (a render whose detail mostly persists keeps the plain gate). 0 (default): ``leak`` everywhere.
    gate_sigma: px at full resolution (0.5–8), the low-pass of the analysis luma the flows and the base
        gate see (before version 3: ``sigma``).
    slow: px per frame at full resolution (0–8); what counts as slow motion: full below ``slow`` / 2,
        ramping to none at ``slow``. 0: nothing (version 3).
    far: 0–8; neighbours on each side out to ``far`` count where their motion (per frame) is slower
        than ``slow``, those beyond ``radius`` nowhere else; their flows are chained through the frames
        ``radius`` apart (no more flows are computed). ≤ ``radius``, or ``slow`` 0: none.
    slow_open: where a neighbour moves slower than ``slow`` its detail is averaged even where it
        repeats the frame's (the novelty gate opens). False (default): as ``open_rho`` says.
    open_rho: 0–1; > 0: the novelty gate opens where the motion is slow unless the frame's detail persists:
        fully where its most repeating neighbour's mean correlation over the slowly moving pixels is at
        most ``open_rho`` − 0.05, not at all from ``open_rho`` on. 0: never (version 4).
    chroma: stabilise the chroma planes too (False: luma only).
    analysis_max_side, flow_preset: the size and DIS preset of the flows.
    crf, preset, pix_fmt: the final encode (pix_fmt None follows the input).
    """

    radius: int = RADIUS
    sigma: float = SIGMA
    strength: float = STRENGTH
    tolerance: float = TOLERANCE
    chroma: bool = True
    keep: float = KEEP
    amplitude: float = AMPLITUDE
    amplitude_rho: float = AMPLITUDE_RHO
    misalignment: float = MISALIGNMENT
    leak: float = LEAK
    leak_rho: float = LEAK_RHO
    gate_sigma: float = GATE_SIGMA
    slow: float = SLOW
    far: int = FAR
    slow_open: bool = SLOW_OPEN
    open_rho: float = OPEN_RHO
    analysis_max_side: int = ANALYSIS_MAX_SIDE
    flow_preset: str = FLOW_PRESET
    crf: int = DEFAULT_CRF
    preset: str = DEFAULT_PRESET
    pix_fmt: str | None = None

    ROUTE = "detail"
    RANGES = {"radius": (1, 8), "sigma": (0.5, 8.0), "strength": (0.0, 1.0), "tolerance": (0.005, 0.5),
              "keep": (0.05, 1.0), "amplitude": (0.0, 1.0), "amplitude_rho": (0.0, 1.0), "misalignment": (0.0, 4.0),
              "leak": (0.0, 2.0), "leak_rho": (0.0, 1.0), "gate_sigma": (0.5, 8.0),
              "slow": (0.0, 8.0), "far": (0, 8), "open_rho": (0.0, 1.0), "analysis_max_side": (32, 4096), "crf": (0, 51)}
    CHOICES = {"flow_preset": PRESETS}


@dataclass(slots=True)
class _Frame:
    data: Any  # what the writer needs back (an av.VideoFrame, or the RGB array)
    bases: list[np.ndarray]  # per plane, float32
    details: list[np.ndarray]
    small_base: np.ndarray  # analysis-scale low-passed luma in [0, 1]
    gray: np.ndarray  # analysis-scale standardised uint8 for the flow


class DetailStabilizer(NeighbourWindow[_Frame]):
    """The streaming core: ``feed(index, data, planes)`` yields ``(index, data, new planes)`` when ready.

    ``planes`` are float32 arrays in [0, peak] (Y first; chroma may be smaller). Plane 0 is
    the luma the flows are computed on (for RGB sources, pass a luma-like first plane order:
    see ``DetailRoute.stage``). At most ``2 × radius + 2`` frames are held: a frame is emitted one
    frame later than it could be, so ``flows`` (an ``AheadFlows``) computes the newest frame's
    flows while the older one is worked on. The output does not depend on the flow source.
    ``mean_weight`` counts a neighbour's pixels whose flow and base passed, before the novelty gate.
    """

    AHEAD = 1

    def __init__(self, width: int, height: int, peak: float, p: DetailParams,
                 flows: FlowSource | None = None) -> None:
        super().__init__(max(p.radius, p.far if p.slow > 0 else 0), p.flow_preset, flows, reach=p.radius)
        self.p = p
        self.peak = peak
        self.size = analysis_size(width, height, 1.0, p.analysis_max_side)
        self.scale = self.size[0] / width

    def _analyse(self, data: Any, analysis: list[np.ndarray] | tuple[list[np.ndarray], np.ndarray]) -> _Frame:
        """``analysis``: the frame's float planes, or (those, the guide frame's luma at the
        analysis size, uint8), whose motion the flows then follow."""
        plane_list, guide = analysis if isinstance(analysis, tuple) else (analysis, None)
        width = plane_list[0].shape[1]
        bases, details = [], []
        for k, plane in enumerate(plane_list):
            if k > 0 and not self.p.chroma:
                bases.append(plane)
                details.append(np.zeros_like(plane))
                continue
            base, detail = dfit.split(plane, self.p.sigma * plane.shape[1] / width)
            bases.append(base)
            details.append(detail)
        small = cv2.resize(plane_list[0], self.size, interpolation=cv2.INTER_AREA) / self.peak
        sigma = max(dfit.MIN_SIGMA, self.p.gate_sigma * self.scale)
        small_base = cv2.GaussianBlur(small, (0, 0), sigma)
        # the flows follow the guide's base when there is one (the same low pass), the render's otherwise
        motion = small_base if guide is None else cv2.GaussianBlur(guide.astype(np.float32), (0, 0), sigma)
        return _Frame(data, bases, details, small_base, dfit.flow_image(motion))

    def _flow(self, a: int, b: int) -> np.ndarray:
        """The flow a → b; beyond ``radius`` (a ``far`` neighbour) chained through the frame ``radius`` nearer
        b: no flow of its own is computed, and where the chain is used (slow motion) it barely drifts."""
        if abs(b - a) <= self.reach:
            return super()._flow(a, b)
        mid = a + (self.reach if b > a else -self.reach)
        first = super()._flow(a, mid)
        return first + warp(self._flow(mid, b), first)

    def _emit(self, t: int) -> tuple[int, Any, list[np.ndarray]]:
        here = self.frames[t]
        aligned: list[list[np.ndarray]] = [[] for _ in here.details]
        rhos: list[np.ndarray] = []  # luma detail's correlation with each aligned neighbour
        trusts: list[np.ndarray] = []  # and that neighbour's reliability (before the novelty gate)
        # per neighbour: its reliability (analysis size), the novelty gate, and where slow motion may open it
        # (analysis size): full-size planes are made again below rather than held for every neighbour
        gates: list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]] = []
        repeats: list[float] = []  # per neighbour moving slowly enough: its detail's mean correlation there
        persists: list[float] = []  # per near neighbour: its detail's mean correlation over the frame
        # the luma detail's local energy: the same for the novelty gate of every neighbour and the amplitude
        energy = dfit.local_energy(here.details[0], NOVELTY_SIGMA)
        may_open = self.p.slow > 0 and (self.p.slow_open or self.p.open_rho > 0)
        for s in self.neighbours(t):
            fw = self._flow(t, s)
            far = abs(s - t) > self.p.radius
            slow = None
            if self.p.slow > 0 and (far or may_open):
                slow = dfit.slowness(fw, abs(s - t) * self.scale, self.p.slow)
            if far and not slow.any():  # a far neighbour that moves everywhere: no weight
                continue
            bw = self._flow(s, t)
            coords: dict[tuple[int, int], np.ndarray] = {}  # the sampling map per plane size: Cb and Cr share one
            for k, d in enumerate(here.details):
                if k > 0 and not self.p.chroma:
                    continue
                h, w = d.shape
                if (w, h) not in coords:
                    coords[w, h] = dfit.sample_map(dfit.scale_flow(fw, w, h))
                aligned[k].append(dfit.warp_along(self.frames[s].details[k], coords[w, h]))
            d, moved = here.details[0], aligned[0][-1]
            h, w = d.shape
            if (self.p.keep < 1.0 or self.p.misalignment > 0 or (self.p.leak > 0 and self.p.leak_rho > 0)
                    or self.p.amplitude_rho > 0):
                rho = dfit.correlation(d, moved, NOVELTY_SIGMA, energy)
            if self.p.amplitude_rho > 0 and not far:
                persists.append(dfit.mean_correlation(rho, energy))
            leak = None
            factor = self.p.leak
            if factor > 0 and self.p.leak_rho > 0:  # only where the detail is mostly re-drawn
                factor *= dfit.ramp_down(dfit.mean_correlation(rho, energy), self.p.leak_rho, LEAK_RHO_RAMP)
            if factor > 0:  # the flow is judged on the base: allow what re-drawn detail leaks into it
                leak = dfit.detail_leak(d, moved, NOVELTY_SIGMA, self.size, factor / self.peak)
            w_small = dfit.reliability(here.small_base, self.frames[s].small_base, fw, bw, self.p.tolerance, leak)
            if far:  # a far neighbour counts only where the motion is slow
                w_small = w_small * slow
            self._count_weight(w_small)
            if self.p.misalignment > 0:
                rhos.append(rho)
                trusts.append(cv2.resize(w_small, (w, h), interpolation=cv2.INTER_LINEAR))
            novel = opens = None
            if self.p.keep < 1.0:
                novel = dfit.novelty_of(rho, self.p.keep)
                if may_open and slow is not None:  # slow motion: repeated detail may be averaged too
                    opens = slow
                    if not self.p.slow_open and float(slow.mean()) >= OPEN_MIN_SLOW:
                        opening = cv2.resize(slow, (w, h), interpolation=cv2.INTER_LINEAR)
                        repeats.append(dfit.mean_correlation(rho, energy * opening))
            gates.append((w_small, novel, opens))
        # how far slow motion opens the gate: the frame's most repeating neighbour decides (1: slow_open)
        opened = 1.0 if self.p.slow_open else (dfit.ramp_down(max(repeats), self.p.open_rho, OPEN_RHO_RAMP)
                                               if repeats and self.p.open_rho > 0 else 0.0)
        weights: list[list[np.ndarray]] = [[] for _ in here.details]
        size = here.details[0].shape[::-1]  # luma's (w, h)
        while gates:
            w_small, novel, opens = gates.pop(0)  # each neighbour's full-size planes live only here
            luma_weight = cv2.resize(w_small, size, interpolation=cv2.INTER_LINEAR)
            if novel is not None:
                if opens is not None and opened > 0:
                    opening = cv2.resize(opens, size, interpolation=cv2.INTER_LINEAR)
                    novel = np.maximum(novel, opening * np.float32(opened))
                luma_weight = luma_weight * novel
            for k, d in enumerate(here.details):
                if k > 0 and not self.p.chroma:
                    continue
                h, w = d.shape
                weights[k].append(luma_weight if k == 0 else
                                  cv2.resize(luma_weight, (w, h), interpolation=cv2.INTER_LINEAR))
        amplitude = self.p.amplitude
        if persists and self.p.amplitude_rho > 0:  # detail that mostly persists keeps all of its amplitude
            rise = 1.0 - dfit.ramp_down(float(np.mean(persists)), self.p.amplitude_rho, AMPLITUDE_RHO_RAMP)
            amplitude += (1.0 - amplitude) * rise
        strength: float | np.ndarray = self.p.strength
        if rhos:
            strength = self.p.strength * dfit.wiener_gain(dfit.flicker_share(rhos, trusts), self.p.misalignment)
        out = []
        for k, (base, d) in enumerate(zip(here.bases, here.details)):
            if aligned[k]:
                s = strength
                if isinstance(s, np.ndarray) and s.shape != d.shape:  # chroma at its own resolution
                    s = cv2.resize(s, (d.shape[1], d.shape[0]), interpolation=cv2.INTER_AREA)
                new = dfit.stabilise(d, aligned[k], weights[k], s)
                sigma = NOVELTY_SIGMA * d.shape[1] / here.details[0].shape[1]
                new = dfit.keep_amplitude(new, d, amplitude, sigma, energy if k == 0 else None)
            else:
                new = d
            out.append(np.clip(base + new, 0.0, self.peak))
        self._forget(t + 1 - self.radius)
        return t, here.data, out


class DetailRoute(StageRoute):
    """Temporal stabilisation of fine detail (see ``DetailParams``)."""

    name = "detail"
    params_type = DetailParams
    version = "6"  # 3: sigma 1.5 -> 1.0; 4: far 4 where slower than 1 px a frame; 5: open_rho 0.95; 6: amplitude_rho 0.45

    def stage(self, info: MediaInfo, params: Mapping[str, Any], p: DetailParams | None = None) -> FrameStage:
        """The per-frame work for frames like ``info``'s (see ``frame_stream.FrameStage``)."""
        p = p or DetailParams.from_mapping(params)
        fmt = FrameFormat.of(info)
        flows: list[AheadFlows] = []  # started with the core, closed by the stage's close

        def make_core(width: int, height: int) -> DetailStabilizer:
            flows.append(AheadFlows())
            return DetailStabilizer(width, height, fmt.peak, p, flows[-1])

        guide = GuideReader(params[GUIDE_PARAM]) if params.get(GUIDE_PARAM) else None

        def analyse(core: DetailStabilizer, data: Any) -> list[np.ndarray] | tuple[list[np.ndarray], np.ndarray]:
            ps = fmt.lead_first(fmt.float_planes(data))  # the luma's plane first: the flows are made from it
            return ps if guide is None else (ps, guide.next(core.size))

        def render(data: Any, new: list[np.ndarray]) -> Any:
            return fmt.rebuilt(data, fmt.in_order(new))

        def close() -> None:
            for f in flows:
                f.close()
            if guide is not None:
                guide.close()

        def describe(core: DetailStabilizer | None, written: int, seconds: float, out: str,
                     encoding: Encoding | None) -> StepResult:
            return flow_stage_result(self, p, p.flow_preset, info, written=written, seconds=seconds, out=out,
                                     encoding=encoding, size=core.size if core else None,
                                     mean_neighbour_weight=round(core.mean_weight, 4) if core else 0.0,
                                     **({"flow_from_guide": guide.guide} if guide is not None else {}))

        return FrameStage(make_core, analyse, render, describe, p.crf, p.preset, p.pix_fmt, close)

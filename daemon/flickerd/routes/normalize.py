"""The ``normalize`` route: motion-compensated temporal normalisation of tone and colour.

Every frame is compared with the previous one warped onto it by DIS optical flow at a reduced
analysis scale (occlusions, flow failures and, for offsets, edges down-weighted). The paired
statistics give per channel (Y, Cb, Cr) a frame-to-frame step of level — an offset per cell
and for the frame, and a frame gain (the slope of the cells' warped means against their own)
— and chained, the steps give each frame's levels within its shot. The frame's target is a
robust line through the levels of up to ``2 × global_window`` neighbours, read at the frame by
the flicker's own distribution (mean, or midrange for flicker that jumps between states), with
a near-window fallback where a real curve departs from the line. The frame is corrected by one
affine map per channel (the chroma's gain is the luma's: a multiplicative flicker scales all
three alike); cells correct only what is left of their level beyond it, over ``2 × window``
neighbours, shrunk where it does not stand out of the cells' noise floor and kept only as far
as the cell's level oscillates from frame to frame over the wide window (a real regional change
of light is persistent, flicker alternates). Only
low-frequency gain/offset fields (cubic-interpolated to full resolution) are applied, so detail
is never blended between frames, and fades and exposure ramps lie on the line, so they survive.
Changes under a level fade out, and a frame that would change by a fraction of a level is
passed through exactly, so footage without flicker is left alone. See ``normalize_fit``.

Planar YUV sources (yuv420p, yuv422p, yuv444p, 8–12 bit) are analysed and corrected on their
decoded planes and handed back to the encoder without an RGB round trip, which alone would
cost 0.3–1.5 dB on real footage (``normalize_planes``); other sources go through RGB.

Frames stream through a bounded window: at most ``2 × window + 1`` decoded frames (in their
integer form) are held. Scene cuts (given in ``cuts``, or detected where the flow fails and
the warped frame does not match) start a new neighbourhood.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from flickerd.flow import PRESETS, flow, occlusion_mask, standardised, warp
from flickerd.media.probe import FULL_RANGE, MediaInfo
from flickerd.media.reader import analysis_size
from flickerd.routes import normalize_fit as fit
from flickerd.routes import normalize_planes as planes
from flickerd.routes.normalize_clip import keep_clipped_rgb
from flickerd.routes.base import StepResult
from flickerd.routes.encode import DEFAULT_CRF, DEFAULT_PRESET, Encoding
from flickerd.routes.frame_stream import FrameFormat, FrameStage, StageRoute, flow_stage_result
from flickerd.routes.guide_stream import GUIDE_PARAM, GuideReader
from flickerd.routes.params_table import RouteParams

# The whole-frame levels use a wide window: random flicker averages out as 1/√frames, and a
# frame's level is estimated from so many pixels that it hardly drifts along the chain. A cell's
# chained level does drift, so cells use a short window over their deviation from the frame
# (measured on the restoration bench, grid 4 / window 8 → grid 8 / window 2: breathing
# +0.59 → +1.30 dB, luma and chroma unchanged; a wider cell window averages drift in).
WINDOW = 2
GLOBAL_WINDOW = 15
# Where the wide window's line misses a real, curved change of level (a light coming on, a
# colour drifting), the frame-level target falls back toward this window (see fit.two_scale).
NARROW_GLOBAL_WINDOW = 4
# Measured (normalize alone, restoration bench): grid 8 → 12 took breathing from +1.13 to
# +1.48 dB; 16 gave no more. A breathing region of radius ≈0.3 × the short side then spans
# several cells.
GRID = 12
# Cells correct their level only; their contrast follows the frame's. A per-cell gain (a ratio
# of variances) is noisy on real texture: it added nothing to breathing (+1.35 vs +1.35 dB) and
# cost a clean real clip up to 0.75 dB.
LOCAL_GAIN = False
STRENGTH = 1.0
ANALYSIS_SCALE = 0.5
ANALYSIS_MAX_SIDE = 320
FLOW_PRESET = "fast"
# A cut: the flow fails over most of the frame AND the standardised luma does not match after
# warping (median |difference| on a scale where one standard deviation is 48) or its histogram jumps.
CUT_RESIDUAL = 15.0
CUT_HIST_DISTANCE = 0.5
CUT_MAX_VALID = 0.6
# A channel at full scale is darkened by half the correction (see normalize_clip): measured on the fit half.
KEEP_CLIPPED = True


def fmt_full_range(frame: Any) -> bool:
    """True for a JPEG-range (0–255) planar frame."""
    return frame.format.name.startswith("yuvj") or int(frame.color_range) == FULL_RANGE


@dataclass(frozen=True, slots=True)
class NormalizeParams(RouteParams):
    """Parameters of the ``normalize`` route.

    window: neighbours on each side for the per-cell correction (1–30).
    global_window: neighbours on each side for the whole-frame correction (1–30); wider
        removes more random flicker. Up to 2 × max(window, global_window) + 1 full frames
        are buffered; time hardly depends on either.
    grid: cells along the longer side for the local correction (1 = global only, up to 32);
        finer grids follow smaller breathing regions but pick up more estimation noise.
    strength: 0–1, how much of the correction to apply.
    local: apply per-cell corrections (False: one gain/offset per channel per frame).
    local_gain: let cells correct their luma contrast too, not only their level.
    analysis_scale, analysis_max_side: the size flows and statistics are computed at.
    flow_preset: DIS preset (ultrafast, fast, medium).
    cuts: frame indices that start a new shot (added to the detected ones).
    detect_cuts: look for cuts (the flow fails and the warped frame does not match).
    crf, preset, pix_fmt: the final encode (pix_fmt None follows the input).
    keep_clipped: darken RGB channels at full scale by half the correction only, to the middle
        of the range their true level could be in (``normalize_clip``).
    """

    window: int = WINDOW
    global_window: int = GLOBAL_WINDOW
    grid: int = GRID
    strength: float = STRENGTH
    local: bool = True
    local_gain: bool = LOCAL_GAIN
    analysis_scale: float = ANALYSIS_SCALE
    analysis_max_side: int = ANALYSIS_MAX_SIDE
    flow_preset: str = FLOW_PRESET
    cuts: tuple[int, ...] = ()
    detect_cuts: bool = True
    crf: int = DEFAULT_CRF
    preset: str = DEFAULT_PRESET
    pix_fmt: str | None = None
    keep_clipped: bool = KEEP_CLIPPED

    ROUTE = "normalize"
    FRAME_LISTS = {"cuts": 0}
    RANGES = {"window": (1, 30), "global_window": (1, 30), "grid": (1, 32), "strength": (0.0, 1.0),
              "analysis_scale": (0.05, 1.0), "analysis_max_side": (32, 4096), "crf": (0, 51)}
    CHOICES = {"flow_preset": PRESETS}


@dataclass(slots=True)
class _Analysed:
    ycc: np.ndarray  # analysis-scale float32 YCbCr
    luma: np.ndarray  # standardised uint8 luma (the cut test's)
    motion: np.ndarray  # what the flows are computed on: ``luma``, or the guide's standardised luma
    shot: int
    # Levels relative to the shot's first frame, chained from frame-to-frame steps:
    cell_offset: np.ndarray  # (3, rows, cols)
    cell_log_gain: np.ndarray
    offset: np.ndarray  # (3,)
    log_gain: np.ndarray


class Normalizer:
    """The streaming core: push each frame with its analysis image, pull correction fields.

    Every frame's tone and colour *levels* (per cell and for the frame) are chained from
    motion-compensated frame-to-frame steps; each frame is then moved onto a robust line
    through the levels of up to ``2 × window`` neighbours of its shot. ``feed(index, data,
    ycc)`` takes the frame (``data``, kept as given: RGB or planes) and its analysis-scale
    YCbCr (float32, Y in [0, 1], chroma centred on 0) and yields ``(index, data, fields)``
    for the frames that are ready; ``finish()`` yields the rest. At most ``2 × window + 1``
    frames are held (the lookahead at a shot's start), plus small analysis images.
    """

    def __init__(self, width: int, height: int, p: NormalizeParams) -> None:
        self.p = p
        self.k = max(p.window, p.global_window)  # the lookahead and history the buffer must hold
        self.size = analysis_size(width, height, p.analysis_scale, p.analysis_max_side)
        self.shape = fit.grid_shape(self.size[0], self.size[1], p.grid)
        self.cuts_given = set(p.cuts)
        self.cuts_found: list[int] = []
        self.frames: dict[int, Any] = {}
        self.analysed: dict[int, _Analysed] = {}
        self.shot_start: dict[int, int] = {0: 0}
        self.pending: deque[int] = deque()
        self.shot = 0
        self.luma_corrections: list[float] = []

    def _is_cut(self, i: int, fw: np.ndarray, bw: np.ndarray) -> bool:
        if i in self.cuts_given:
            return True
        if not self.p.detect_cuts:
            return False
        a, b = self.analysed[i - 1].luma, self.analysed[i].luma
        residual = float(np.median(np.abs(warp(b.astype(np.float32), fw) - a)))
        if residual <= CUT_RESIDUAL and fit.hist_distance(a, b) <= CUT_HIST_DISTANCE:
            return False
        return float(occlusion_mask(fw, bw).mean()) < CUT_MAX_VALID

    def feed(self, i: int, data: Any, analysis: np.ndarray | tuple[np.ndarray, np.ndarray]
             ) -> Iterator[tuple[int, Any, fit.Fields]]:
        """``analysis``: the frame's analysis YCbCr, or (that, the guide frame's luma at the
        analysis size), whose motion the flows then follow."""
        ycc, guide = analysis if isinstance(analysis, tuple) else (analysis, None)
        zeros3, zcells = np.zeros(3, np.float32), np.zeros((3, *self.shape), np.float32)
        luma = fit.flow_luma(ycc)
        motion = luma if guide is None else standardised(guide.astype(np.float32))
        here = _Analysed(ycc, luma, motion, self.shot, zcells, zcells, zeros3, zeros3)
        self.analysed[i] = here
        prev = self.analysed.get(i - 1)
        if prev is not None:
            fw = flow(prev.motion, here.motion, self.p.flow_preset)
            bw = flow(here.motion, prev.motion, self.p.flow_preset)
            if self._is_cut(i, fw, bw):
                self.shot += 1
                self.shot_start[self.shot] = i
                here.shot = self.shot
                if i not in self.cuts_given:
                    self.cuts_found.append(i)
            else:
                step = fit.link(fit.tie_chroma_gain(fit.pair_stats(prev.ycc, ycc, fw, bw, self.shape)))
                here.cell_offset = prev.cell_offset + step[0]
                here.cell_log_gain = prev.cell_log_gain + step[1]
                here.offset = prev.offset + step[2]
                here.log_gain = prev.log_gain + step[3]
        self.frames[i] = data
        self.pending.append(i)
        while self.pending and self._ready(self.pending[0], i):
            yield self._emit(self.pending.popleft())

    def finish(self) -> Iterator[tuple[int, Any, fit.Fields]]:
        while self.pending:
            yield self._emit(self.pending.popleft())

    def _ready(self, t: int, newest: int) -> bool:
        shot = self.analysed[t].shot
        if shot != self.shot:
            return True
        return newest - t >= 2 * self.k - min(self.k, t - self.shot_start[shot])

    def _neighbours(self, t: int, k: int) -> list[int]:
        """Up to 2k frames of t's shot, centred on t where possible, shifted at the shot's ends."""
        shot = self.analysed[t].shot
        lo = max(self.shot_start[shot], t - 2 * k)
        hi = t
        while hi + 1 in self.analysed and self.analysed[hi + 1].shot == shot and hi + 1 - t <= 2 * k:
            hi += 1
        left, right = min(k, t - lo), min(k, hi - t)
        left, right = min(t - lo, 2 * k - right), min(hi - t, 2 * k - left)
        return list(range(t - left, t + right + 1))

    def _emit(self, t: int) -> tuple[int, Any, fit.Fields]:
        here = self.analysed[t]
        wide = self._neighbours(t, self.p.global_window)
        near = self._neighbours(t, min(self.p.global_window, NARROW_GLOBAL_WINDOW))
        g_off = fit.two_scale(np.array(wide, np.float32) - t, np.stack([self.analysed[s].offset - here.offset for s in wide]),
                              len(near))
        g_lg = fit.two_scale(np.array(wide, np.float32) - t,
                             np.stack([self.analysed[s].log_gain - here.log_gain for s in wide]), len(near))
        # The frame's correction is one affine map per channel about the frame's mean M: in a
        # cell of mean m it adds (G − 1)(m − M) to the offset, so multiplicative flicker leaves
        # no per-cell residue for the cells to chase.
        means = fit.cell_means(here.ycc, self.shape)
        centred = means - here.ycc.reshape(-1, 3).mean(0)[:, None, None]
        off = g_off[:, None, None] + np.expm1(g_lg)[:, None, None] * centred
        lg = np.broadcast_to(g_lg[:, None, None], off.shape)
        if self.p.local:
            # cells: their level beyond what the frame's affine change predicts there, over the
            # (narrower) local window, shrunk where it does not stand out of the cells' noise floor
            # and kept only as far as the cell's level oscillates over the wide window (a real,
            # persistent regional change of light is left alone)
            def deviation(a: _Analysed) -> np.ndarray:
                return ((a.cell_offset - here.cell_offset) - (a.offset - here.offset)[:, None, None]
                        - (a.log_gain - here.log_gain)[:, None, None] * centred)

            near = self._neighbours(t, self.p.window)
            times = np.array(near, np.float32) - t
            cells = [self.analysed[s] for s in near]
            local = fit.significant(times, np.stack([deviation(a) for a in cells]))
            osc = fit.oscillation(np.stack([deviation(self.analysed[s]) for s in wide]))
            off = off + fit.oscillating(local, osc)
            if self.p.local_gain:
                lg = lg + fit.significant(times, np.stack(
                    [(a.cell_log_gain - here.cell_log_gain) - (a.log_gain - here.log_gain)[:, None, None] for a in cells]),
                    fit.CELL_GAIN_SIGNIFICANCE)
        fields_t = fit.fields_from_targets(here.ycc, off, lg, self.shape)
        y = here.ycc[..., 0].mean()
        self.luma_corrections.append(float(np.abs(fields_t.gain[0] * y + fields_t.bias[0] - y).mean()))
        oldest = t + 1 - 2 * self.k  # frames before this can no longer be a neighbour
        for i in [i for i in self.analysed if i < oldest]:
            del self.analysed[i]
        return t, self.frames.pop(t), fields_t


class NormalizeRoute(StageRoute):
    """Temporal normalisation of tone and colour (see ``NormalizeParams``)."""

    name = "normalize"
    params_type = NormalizeParams
    version = "5"  # 5: clipped highlights are darkened half way; 4: chroma gain tied to the luma's

    def stage(self, info: MediaInfo, params: Mapping[str, Any], p: NormalizeParams | None = None) -> FrameStage:
        """The per-frame work for frames like ``info``'s (see ``frame_stream.FrameStage``)."""
        p = p or NormalizeParams.from_mapping(params)
        fmt = FrameFormat.of(info)
        planar, bits, peak = fmt.planar, fmt.bits, fmt.peak  # peak: of the RGB frames when not planar

        guide = GuideReader(params[GUIDE_PARAM]) if params.get(GUIDE_PARAM) else None

        def analyse(core: Normalizer, data: Any) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
            if planar:
                ycc = planes.analysis_ycc(planes.read_planes(data), core.size, bits)
            else:
                ycc = fit.rgb_to_ycc(cv2.resize(data, core.size, interpolation=cv2.INTER_AREA).astype(np.float32) / peak)
            return ycc if guide is None else (ycc, guide.next(core.size))

        def render(data: Any, fields_t: fit.Fields) -> Any:
            if planar:
                clip = (fmt_full_range(data), int(data.colorspace)) if p.keep_clipped else None
                return planes.frame_from_planes(
                    planes.apply_planes(planes.read_planes(data), fields_t, bits, p.strength, clip), data)
            rgb = data.astype(np.float32) / peak
            corrected = fit.apply(rgb, fields_t, p.strength)
            if p.keep_clipped:
                corrected = keep_clipped_rgb(rgb, corrected)
            return (np.clip(corrected, 0.0, 1.0) * peak + 0.5).astype(data.dtype)

        def describe(core: Normalizer | None, written: int, seconds: float, out: str,
                     encoding: Encoding | None) -> StepResult:
            corrections = core.luma_corrections if core else []
            return flow_stage_result(
                self, p, p.flow_preset, info, written=written, seconds=seconds, out=out, encoding=encoding,
                size=core.size if core else None, grid=list(core.shape) if core else [],
                cuts_detected=list(core.cuts_found) if core else [],
                mean_luma_correction=round(float(np.mean(corrections)), 5) if corrections else 0.0,
                **({"flow_from_guide": guide.guide} if guide is not None else {}))

        return FrameStage(lambda w, h: Normalizer(w, h, p), analyse, render, describe, p.crf, p.preset, p.pix_fmt,
                          guide.close if guide is not None else lambda: None)

"""The arithmetic of guided consistency: the guide says what stays the same, the render is averaged there.

A restyle, an upscale or a per-frame edit of a stable source flickers because each frame was
processed on its own. The source (the *guide*) is clean, so its optical flow is trustworthy and
its own frame-to-frame change says where the picture really changes. For frame t and each
neighbour s within ``radius``, the flow t → s is computed on the guide, the guide's frame s is
warped onto t, and where it matches the guide's frame t (within ``tolerance``, with the
forward–backward check passing) the *render's* frame s, warped by the same flow scaled to the
render, counts toward frame t. The new frame is the weighted mean of its own pixels (weight 1)
and the warped neighbours'. Only the render's pixels are averaged, so its style, colours and
detail stay; where the guide changes (motion the flow misses, occlusions, a real change of
light, a cut), the weights fall to zero and the render keeps its own frame (after Bonneel et al.
2015 and Lai et al. 2018, who take motion and stability from the unprocessed video).

Before averaging (``detail_gain``), each frame's fine band (σ ``DETAIL_SIGMA``) is scaled so its
least-squares gain against the guide's fine band is the recent frames' root mean square gain: the
guide's detail does not change in strength from frame to frame, so a render's that does (a
per-frame sharpening amount) is flicker. One scalar per frame and plane, so sub-pixel warps do not matter; a plane
whose fine band does not follow the guide's (correlation < ``DETAIL_MIN_CORR``: redrawn texture,
chroma) is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from flickerd.flow import occlusion_mask, warp
from flickerd.flow_source import FlowSource
from flickerd.media.reader import analysis_size
from flickerd.routes import detail_fit as dfit
from flickerd.routes.neighbour_window import Emitted, NeighbourWindow

if TYPE_CHECKING:
    from flickerd.routes.guided import GuidedParams

FIT_RADIUS = 4  # px at the render's luma size: the window of the local linear fit render ≈ a·guide + b
FIT_EPS = 1e-4  # regularisation of that fit (guide in [0, 1]): flat guide areas get no slope
GUIDE_SIGMA = 0.7  # px at analysis scale: the guide is compared lightly smoothed (its own codec noise)
WEIGHT_BLUR_SIGMA = 1.0  # px at analysis scale: soft edges of the agreement map
DETAIL_SIGMA = 1.5  # px at the render's luma size: the fine band whose gain against the guide's is held steady
DETAIL_MIN_CORR = 0.5  # a plane's fine band follows the guide's at least this well, or its gain is left alone
DETAIL_GAIN_RANGE = (0.5, 2.0)  # the furthest a frame's fine band is scaled toward its window's gain
GAIN_HISTORY = 24  # frames back whose fine-band gains (scalars, kept after the frames go) set the target
MISMATCH = 2.0  # a neighbour keeps all of a pixel up to this many times the still pixels' residual energy
MISMATCH_SIGMA = 2.0  # px at each plane's size: the neighbourhood whose residual energy is compared with the floor
MISMATCH_MIN_SAMPLES = 64  # fewer still, vouched pixels than this: no floor, the weights stay
STILL_PX = 0.25  # px at each plane's size: a flow this small warps (almost) exactly
FLICKER_RATIO = 4.0  # the render's still-pixel residual energy up to this many times the guide's is no flicker


@dataclass(slots=True)
class _Frame:
    data: Any  # what the writer needs back
    planes: list[np.ndarray]  # the render's planes, float32
    guide: np.ndarray  # analysis-scale guide luma in [0, 1], lightly smoothed
    gray: np.ndarray  # analysis-scale uint8 for the flow
    fine: list[np.ndarray]  # the guide's luma in [0, 1] at each plane's size
    slope: list[np.ndarray] | None = None  # per plane: d(render)/d(guide), the local linear fit (frame t only)
    fine_band: list[np.ndarray] | None = None  # per plane: the render's fine band (detail_gain only)
    gain: list[float | None] | None = None  # per plane: that band's regression on the guide's (None: unrelated)
    contrast: float | None = None  # the render's luma variance over the guide's (mismatch only)
    redrawn: bool = False  # the luma's fine band does not follow the guide's: ``texture_radius`` neighbours
    detail: list[np.ndarray | None] | None = None  # per plane: local fine-band energy (flicker_cut only)


@dataclass(slots=True)
class _Cut:
    """What the luma's mismatch test left for the other planes of one neighbour."""

    keep: float = 1.0  # 1: the render flickers there (``flicker_keep``): only ``flicker_cut`` cuts its weights
    lead_still: np.ndarray | None = None  # the luma's still pixels: a plane with too few of its own follows them


def guide_weight(guide_t: np.ndarray, guide_s: np.ndarray, fw: np.ndarray, bw: np.ndarray,
                 tolerance: float) -> np.ndarray:
    """Weight in [0, 1] (analysis scale) of neighbour s at frame t: the guide's s warped by ``fw``
    (t → s) agrees with its t within ``tolerance`` (fraction of full scale) and the flow is trusted."""
    u = np.abs(warp(guide_s, fw) - guide_t) / tolerance
    agree = np.clip(1.0 - u * u, 0.0, 1.0)
    trusted = (occlusion_mask(fw, bw) & dfit.inside(fw)).astype(np.float32)
    return cv2.GaussianBlur(agree * trusted, (0, 0), WEIGHT_BLUR_SIGMA) * trusted


def band(x: np.ndarray, sigma: float) -> np.ndarray:
    return x - cv2.GaussianBlur(x, (0, 0), sigma)


def detail_gain(render_band: np.ndarray, guide_band: np.ndarray) -> float | None:
    """The frame's fine-band gain against the guide's (least squares over the whole plane), or None
    where the render's fine band does not follow the guide's (a style that redraws the detail)."""
    gg = float(np.dot(guide_band.ravel(), guide_band.ravel()))
    rr = float(np.dot(render_band.ravel(), render_band.ravel()))
    if gg <= 0.0 or rr <= 0.0:
        return None
    rg = float(np.dot(render_band.ravel(), guide_band.ravel()))
    return rg / gg if rg >= DETAIL_MIN_CORR * (rr * gg) ** 0.5 else None


def redrawn(render_band: np.ndarray, guide_band: np.ndarray) -> bool:
    """Whether the render's fine band does not follow the guide's (texture re-drawn each frame):
    both carry detail and they correlate under ``DETAIL_MIN_CORR``. A flat, black or faded frame
    (no fine-band energy on a side) is not: there is nothing to average out."""
    gg = float(np.dot(guide_band.ravel(), guide_band.ravel()))
    rr = float(np.dot(render_band.ravel(), render_band.ravel()))
    if gg <= 0.0 or rr <= 0.0:
        return False
    return float(np.dot(render_band.ravel(), guide_band.ravel())) < DETAIL_MIN_CORR * (rr * gg) ** 0.5


def local_slope(guide: np.ndarray, plane: np.ndarray, radius: int) -> np.ndarray:
    """a of the local linear fit plane ≈ a·guide + b in each (2r+1)² window (the guided filter's slope)."""
    k = (2 * max(1, radius) + 1,) * 2
    mg = cv2.blur(guide, k)
    mp = cv2.blur(plane, k)
    cov = cv2.blur(guide * plane, k) - mg * mp
    var = cv2.blur(guide * guide, k) - mg * mg
    return cov / (var + FIT_EPS)


def still_pixels(flow: np.ndarray, weight: np.ndarray) -> np.ndarray | None:
    """Where the guide does not move (``flow`` under ``STILL_PX``) and vouches for the neighbour: a
    warp there is exact, so the render's residual is its own flicker plus what the guide changed.
    None when there are too few such pixels to judge by."""
    still = (np.abs(flow[..., 0]) < STILL_PX) & (np.abs(flow[..., 1]) < STILL_PX) & (weight > 0.5)
    return still if int(still.sum()) >= MISMATCH_MIN_SAMPLES else None


def flicker_keep(residual: np.ndarray, guide_residual: np.ndarray, still: np.ndarray, contrast: float) -> float:
    """How sure (0–1) the render has flicker of its own to average out: its residual energy on the
    still pixels against the guide's there (scaled by ``contrast``, the render's variance over the
    guide's). Up to ``FLICKER_RATIO`` times the guide's, the render repeats the guide's own changes
    (codec noise, amplified by the style): 0; at twice that or more: 1."""
    ref = contrast * float(np.mean(np.square(guide_residual[still])))
    ratio = float(np.mean(np.square(residual[still]))) / max(ref, 1e-12)
    return float(np.clip(ratio / FLICKER_RATIO - 1.0, 0.0, 1.0))


def follow(still: np.ndarray, w: int, h: int) -> np.ndarray | None:
    """The luma's still pixels at another plane's size (w × h): those mostly still there (by area), or
    None when fewer than ``MISMATCH_MIN_SAMPLES`` scaled to the plane's size remain (a floor from a
    handful of residuals is noise)."""
    if still.shape == (h, w):
        return still
    out = cv2.resize(still.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.5
    need = max(16.0, MISMATCH_MIN_SAMPLES * w * h / still.size)
    return out if np.count_nonzero(out) >= need else None


def mismatch_factor(residual: np.ndarray, still: np.ndarray, keep: float, mismatch: float,
                    detail: np.ndarray | None = None) -> np.ndarray:
    """Per pixel, in (0, 1]: the share of a vouched neighbour kept. With no flicker to remove
    (``keep`` 0), averaging where the guide moves only costs (a flow error, a style that does not
    move rigidly with the content): the neighbour keeps the share of its local residual energy
    that the still pixels' floor explains (``mismatch`` × floor / energy); ``keep`` 1: all of it,
    or, given ``detail`` (the frame's local fine-band energy), the share that the flicker expected
    there explains (``flicker_floor``): a residual well above the flicker is a misfit, not flicker."""
    floor = max(float(np.mean(np.square(residual[still]))), 1e-12)
    energy = np.maximum(cv2.GaussianBlur(residual * residual, (0, 0), MISMATCH_SIGMA), 1e-12)
    cut = np.minimum(1.0, mismatch * floor / energy)
    if detail is None:
        return keep + (1.0 - keep) * cut
    flicker = np.minimum(1.0, mismatch * flicker_floor(energy, detail, still) / energy)
    return keep * flicker + (1.0 - keep) * cut


def flicker_floor(energy: np.ndarray, detail: np.ndarray, still: np.ndarray) -> np.ndarray:
    """The render's flicker energy expected at each pixel: on the still pixels (exact warps: the
    residual is flicker) the local residual energy is fitted as a + b × the local fine-band energy
    (a, b ≥ 0). Flicker that is noise (re-quantisation) is flat, a; flicker of the detail's
    strength (a per-frame sharpening) grows with it, b: it is not cut on edges where it lives."""
    e, d = energy[still].astype(np.float64), detail[still].astype(np.float64)
    dv = float(np.var(d))
    b = max(float(np.mean((d - d.mean()) * (e - e.mean()))) / dv, 0.0) if dv > 0 else 0.0
    a = float(e.mean()) - b * float(d.mean())
    if a < 0.0:  # through the origin: the flicker is all the detail's
        a, b = 0.0, float(np.dot(d, e) / max(np.dot(d, d), 1e-24))
    return np.maximum(a + b * detail, 1e-12)


class GuidedStabilizer(NeighbourWindow[_Frame]):
    """The streaming core: ``feed(index, data, (planes, guide_luma))`` yields ``(index, data, new planes)``.

    ``planes`` are the render's float32 planes in [0, peak] (any sizes); ``guide_luma`` is the
    guide's frame at analysis size (uint8, any resolution: the flows are scaled to each plane).
    ``p`` (``guided.GuidedParams``, frozen) holds the route's settings; ``lead`` is the plane that
    stands for luma: Y (0) of planar YUV, G (1) of RGB.
    At most ``2 × radius + 1`` frames are held. The flows come from ``flows`` (computed on the
    spot by default); the output does not depend on where they come from.
    ``mean_weight`` is the mean share of a neighbour's luma (lead plane) averaged in: what the guide
    vouched for, less what ``mismatch`` cut.
    """

    def __init__(self, peak: float, p: GuidedParams, flows: FlowSource | None = None, lead: int = 0) -> None:
        # the window holds ``texture_radius`` frames each side; pairs beyond ``radius`` get their
        # flows only when a frame that re-draws its detail asks for them (``_neighbours``)
        super().__init__(max(p.radius, p.texture_radius), p.flow_preset, flows, reach=p.radius)
        self.peak = peak
        self.p = p
        self.lead = lead
        self._gains: dict[int, list[float | None]] = {}  # frame → its planes' fine-band gains
        self.guide_size: tuple[int, int] | None = None

    def _analyse(self, data: Any, analysis: tuple[list[np.ndarray], np.ndarray]) -> _Frame:
        planes, guide = analysis
        g = guide.astype(np.float32) / (65535.0 if guide.dtype == np.uint16 else 255.0)
        gh, gw = g.shape
        size = analysis_size(gw, gh, 1.0, self.p.analysis_max_side)
        self.guide_size = size
        small = cv2.resize(g, size, interpolation=cv2.INTER_AREA) if size != (gw, gh) else g
        smooth = cv2.GaussianBlur(small, (0, 0), GUIDE_SIGMA)
        fine = [g if p.shape == g.shape else cv2.resize(g, (p.shape[1], p.shape[0]), interpolation=cv2.INTER_AREA
                                                       if p.shape[1] < gw else cv2.INTER_CUBIC) for p in planes]
        frame = _Frame(data, planes, smooth, dfit.flow_image(smooth), fine)
        if self.p.detail_gain:
            sigmas = [DETAIL_SIGMA * p.shape[1] / planes[0].shape[1] for p in planes]
            frame.fine_band = [band(p / self.peak, sg) for p, sg in zip(planes, sigmas)]
            frame.gain = [detail_gain(b, band(f, sg)) for b, f, sg in zip(frame.fine_band, fine, sigmas)]
        if self.radius > self.p.radius:
            mine = frame.fine_band[self.lead] if frame.fine_band is not None else band(planes[self.lead] / self.peak,
                                                                                         DETAIL_SIGMA)
            frame.redrawn = redrawn(mine, band(fine[self.lead], DETAIL_SIGMA))
        return frame

    def _neighbours(self, t: int) -> list[int]:
        """The neighbours frame t is rebuilt from: within ``radius``, or ``texture_radius`` when its
        luma's fine band does not follow the guide's (texture re-drawn each frame: per-pixel boil
        that more neighbours average out; a per-frame sharpening follows the guide and gets none,
        as more neighbours there only blur). Flows beyond ``radius`` are asked for here."""
        if not self.frames[t].redrawn:
            return [s for s in self.neighbours(t) if abs(s - t) <= self.p.radius]
        out = self.neighbours(t)
        for s in out:
            if abs(s - t) > self.reach:
                self.flows.request((t, s), self.frames[t].gray, self.frames[s].gray, self.flow_preset)
                self.flows.request((s, t), self.frames[s].gray, self.frames[t].gray, self.flow_preset)
        return out

    def _steadied(self, t: int) -> dict[int, list[np.ndarray]]:
        """The planes of frame t and its neighbours, each fine band scaled so its gain against the
        guide's is the RMS gain of the frames from ``gain_history`` back to the window's end: a
        per-frame sharpening or softening the guide does not have is undone before the frames are
        averaged (averaging alone leaves it where the guide vouches for no neighbour: moving
        edges, occlusions). Gains are scalars, so the history costs no frames held."""
        window = [t, *self._neighbours(t)]
        out = {s: self.frames[s].planes for s in window}
        if not self.p.detail_gain:
            return out
        for s in window:
            self._gains[s] = self.frames[s].gain
        for s in [s for s in self._gains if s < t - self.p.gain_history]:
            del self._gains[s]
        lo, hi = DETAIL_GAIN_RANGE
        for k in range(len(self.frames[t].planes)):
            gains = {s: self.frames[s].gain[k] for s in window if self.frames[s].gain[k] is not None}
            history = [g[k] for g in self._gains.values() if g[k] is not None]
            if len(gains) < 2 or len(history) < 2:
                continue
            # the root mean square: the fine band keeps the energy it had on average (a mean gain
            # lost detail: clipped overshoots make sharpened frames' gains read low)
            target = float(np.sqrt(np.mean(np.square(history))))
            for s, g in gains.items():
                scale = float(np.clip(target / g, lo, hi))  # g > 0: detail_gain vouched for the fit
                # the frame's own correction moves with ``strength`` like the rest of the fix (0: the render)
                move = (scale - 1.0) * (self.p.strength if s == t else 1.0)
                planes = out[s] = list(out[s]) if out[s] is self.frames[s].planes else out[s]
                planes[k] = planes[k] + move * self.peak * self.frames[s].fine_band[k]
        return out

    def _contrast(self, t: int) -> float:
        """The render's luma against the guide's at frame t: the ratio of their variances."""
        here = self.frames[t]
        if here.contrast is None:
            gv = float(np.var(here.fine[self.lead]))
            here.contrast = float(np.var(here.planes[self.lead] / self.peak)) / gv if gv > 0 else 1.0
        return here.contrast

    def _emit(self, t: int) -> Emitted:
        here = self.frames[t]
        planes = self._steadied(t)
        if self.p.compensate:
            here.slope = [local_slope(g, p / self.peak, FIT_RADIUS * p.shape[1] // here.planes[0].shape[1])
                          for g, p in zip(here.fine, planes[t])]
        blends = [dfit.Blend(p) for p in planes[t]]
        order = [self.lead] + [k for k in range(len(planes[t])) if k != self.lead]  # the luma first
        for s in self._neighbours(t):
            fw = self._flow(t, s)
            w_small = guide_weight(here.guide, self.frames[s].guide, fw, self._flow(s, t), self.p.tolerance)
            cut = _Cut()
            for k in order:
                plane = planes[s][k]
                h, w = plane.shape
                f = dfit.scale_flow(fw, w, h)
                moved = dfit.warp_detail(plane, f)
                changed = None  # what the guide changed between s and t, at this plane's size
                if here.slope is not None or self.p.mismatch > 0:
                    changed = here.fine[k] - dfit.warp_detail(self.frames[s].fine[k], f)
                if here.slope is not None:
                    # that change carried through the render's local response to it
                    moved += self.peak * here.slope[k] * changed
                weight = cv2.resize(w_small, (w, h), interpolation=cv2.INTER_LINEAR)
                if self.p.mismatch > 0 and (k == self.lead or cut.keep < 1.0 or self.p.flicker_cut):
                    weight = self._mismatch_weight(t, k, weight, moved - planes[t][k], f, changed, cut)
                if k == self.lead:
                    self._count_weight(weight)  # what was averaged: the guide's vouching less the mismatch cut
                blends[k].add(moved, weight)
        out = [np.clip(b.toward(self.p.strength), 0.0, self.peak) for b in blends]
        here.detail = None  # read for frame t only: not held through the window (a plane a frame at 4K)
        self._forget(t + 1 - self.radius)
        return t, here.data, out

    def _mismatch_weight(self, t: int, k: int, weight: np.ndarray, residual: np.ndarray, flow: np.ndarray,
                         changed: np.ndarray, cut: _Cut) -> np.ndarray:
        """Plane k's weight for one neighbour of frame t after the ``mismatch`` cut. The luma (lead
        plane, first) sets ``cut``: how sure the render flickers (``keep`` 1: cut only by ``flicker_cut``) and
        its still pixels. Subsampled chroma has a quarter of luma's still pixels: without enough of
        its own it follows the luma's (``follow``), or it would be averaged where the luma is not
        (colour smeared onto edges)."""
        still = still_pixels(flow, weight)
        if k == self.lead:
            cut.keep = 1.0 if still is None else flicker_keep(residual, self.peak * changed, still, self._contrast(t))
            cut.lead_still = still
        elif still is None and cut.lead_still is not None:
            h, w = weight.shape
            still = follow(cut.lead_still, w, h)
        if still is None or (cut.keep >= 1.0 and not self.p.flicker_cut):
            return weight
        detail = self._detail(t, k) if self.p.flicker_cut and cut.keep > 0.0 else None
        return weight * mismatch_factor(residual, still, cut.keep, self.p.mismatch, detail)

    def _detail(self, t: int, k: int) -> np.ndarray:
        """Plane k of frame t: its local fine-band energy (σ ``MISMATCH_SIGMA``), in the plane's units."""
        here = self.frames[t]
        if here.detail is None:
            here.detail = [None] * len(here.planes)
        if here.detail[k] is None:
            plane = here.planes[k]
            fine = band(plane, DETAIL_SIGMA * plane.shape[1] / here.planes[0].shape[1])
            here.detail[k] = cv2.GaussianBlur(fine * fine, (0, 0), MISMATCH_SIGMA)
        return here.detail[k]

"""Temporal smoothing at the same frame rate: each frame blended with the motion-compensated
midpoint of its neighbours, only where that midpoint can be trusted.

A plain 50/50 blend with the RIFE midpoint loses 3–4 dB on real footage (design notes §3):
where motion is not linear, or the network misjudges it, the midpoint is simply a different
picture, and even where it is right in the large it is often soft in the small. So the
difference (midpoint − frame) is split into a coarse band (Gaussian, ``coarse_sigma``) and
fine detail, and each band gets a per-pixel weight in [0, ``strength``], the product of:

* structure agreement: local correlation between frame and midpoint luma in that band,
  after removing local mean and gain, so tone flicker (what we remove) does not count
  against it — the fine band also needs the coarse band to agree;
* residual: what is left after that local gain/offset fit, in absolute terms;
* tone: very large local tone jumps are content (a cut, a flash), not flicker;
* linear motion: the two flows out of the midpoint must be opposite (forward–backward);
* the shot: when only a small share of the frame agrees (a cut, a flash), none of it is used.

So tone, colour and shading flicker are taken out wherever the shapes line up, and detail
is averaged only where it agrees — regenerated or misaligned detail stays as it was. Weight
maps are eroded and blurred, so low confidence spreads a little and no seam shows. Frames
stream through a window of three; ``iterations`` chains passes for heavy flicker.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from flickerd.routes.rife.midpoint import Midpointer
from flickerd.routes.rife.params import DEFAULT_STRENGTH  # the largest weight toward the midpoint
WINDOW = 7  # side of the box window for local statistics (pixels)
STRUCTURE_LOW = 0.6  # local correlation at or below which the midpoint is not used
STRUCTURE_HIGH = 0.95  # ... and at or above which it is fully trusted
STABILITY = 4.5e-4  # SSIM's C3 for [0, 1] signals: flat areas count as agreeing
RESIDUAL_SCALE = 0.03  # RMS residual (0–1 units) after the local gain/offset fit
TONE_SCALE = 0.3  # local mean difference beyond which a change is content, not flicker
INCONSISTENCY_PX = 1.0  # forward–backward mismatch tolerated, in pixels ...
INCONSISTENCY_PER_PX = 0.1  # ... plus this fraction of the motion length
ERODE = 5  # min-filter size: distrust spreads to the neighbourhood
FEATHER = 9  # box blur of the final map
COARSE_SIGMA = 2.0  # Gaussian sigma (px) splitting coarse structure from fine detail
# Share of the frame where the coarse midpoint is trusted, below which the frame is treated
# as straddling a cut (or a flash) and left alone; full trust again from the upper value.
SHOT_TRUST_LOW = 0.3
SHOT_TRUST_HIGH = 0.5

LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True, slots=True)
class SmoothSettings:
    strength: float = DEFAULT_STRENGTH
    window: int = WINDOW
    structure_low: float = STRUCTURE_LOW
    structure_high: float = STRUCTURE_HIGH
    residual_scale: float = RESIDUAL_SCALE
    tone_scale: float = TONE_SCALE
    inconsistency_px: float = INCONSISTENCY_PX
    inconsistency_per_px: float = INCONSISTENCY_PER_PX
    erode: int = ERODE
    feather: int = FEATHER
    coarse_sigma: float = COARSE_SIGMA


def _box(x: torch.Tensor, size: int) -> torch.Tensor:
    return F.avg_pool2d(x, size, stride=1, padding=size // 2, count_include_pad=False)


def _luma(rgb: torch.Tensor) -> torch.Tensor:
    r, g, b = LUMA
    return r * rgb[:, 0:1] + g * rgb[:, 1:2] + b * rgb[:, 2:3]


def _gauss(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(3 * sigma + 0.5))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).repeat(x.shape[1], 1, 1, 1)
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, kernel.view(x.shape[1], 1, 1, -1), groups=x.shape[1])
    return F.conv2d(x, kernel.view(x.shape[1], 1, -1, 1), groups=x.shape[1])


def _agreement(f: torch.Tensor, m: torch.Tensor, s: "SmoothSettings") -> tuple[torch.Tensor, torch.Tensor]:
    """Local structure agreement in [0, 1] and local mean difference of two luma planes."""
    mu_f, mu_m = _box(f, s.window), _box(m, s.window)
    var_f = (_box(f * f, s.window) - mu_f * mu_f).clamp_(min=0)
    var_m = (_box(m * m, s.window) - mu_m * mu_m).clamp_(min=0)
    cov = _box(f * m, s.window) - mu_f * mu_m
    corr = (cov + STABILITY) / (torch.sqrt(var_f * var_m) + STABILITY)
    structure = ((corr - s.structure_low) / (s.structure_high - s.structure_low)).clamp_(0, 1)
    # Residual of m ≈ gain·f + offset (gain bounded so noise cannot be scaled into a match).
    gain = (cov / (var_f + 1e-6)).clamp_(0.5, 2.0)
    residual = (var_m - 2 * gain * cov + gain * gain * var_f).clamp_(min=0)
    return structure * torch.exp(-residual / s.residual_scale**2), mu_m - mu_f


def _spread(weight: torch.Tensor, s: "SmoothSettings") -> torch.Tensor:
    weight = -F.max_pool2d(-weight, s.erode, stride=1, padding=s.erode // 2)
    return _box(weight, s.feather).clamp_(0, 1)


def blend_weights(
    frame: torch.Tensor,
    middle: torch.Tensor,
    inconsistency: torch.Tensor,
    motion: torch.Tensor,
    settings: SmoothSettings = SmoothSettings(),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel weights (N×1×H×W, in [0, strength]) of ``middle`` for the coarse and fine bands.

    The coarse band (tone, shading, blobs) is trusted wherever the coarse structure agrees
    and motion is linear; fine detail only where the fine structure agrees as well, so a
    midpoint that is right in the large but soft or shifted in the small never blurs detail.
    """
    s = settings
    f, m = _luma(frame), _luma(middle)
    f_lo, m_lo = _gauss(f, s.coarse_sigma), _gauss(m, s.coarse_sigma)
    coarse, tone_jump = _agreement(f_lo, m_lo, s)
    fine, _ = _agreement(f - f_lo, m - m_lo, s)
    tone = torch.exp(-((tone_jump / s.tone_scale) ** 2))
    linear = torch.exp(-((inconsistency / (s.inconsistency_px + s.inconsistency_per_px * motion)) ** 2))
    w_coarse = _spread(coarse * tone * linear, s)
    w_fine = _spread(coarse * fine * tone * linear, s)
    # Across a cut only flat patches still "agree", and blending those would leak the other
    # shot's colours: when little of the frame agrees, trust none of it.
    share = w_coarse.mean(dim=(1, 2, 3), keepdim=True)
    shot = ((share - SHOT_TRUST_LOW) / (SHOT_TRUST_HIGH - SHOT_TRUST_LOW)).clamp(0, 1)
    return s.strength * shot * w_coarse, s.strength * shot * w_fine


def blend_weight(
    frame: torch.Tensor,
    middle: torch.Tensor,
    inconsistency: torch.Tensor,
    motion: torch.Tensor,
    settings: SmoothSettings = SmoothSettings(),
) -> torch.Tensor:
    """The fine-band weight: where the whole midpoint, detail included, is used."""
    return blend_weights(frame, middle, inconsistency, motion, settings)[1]


def blend(frame: torch.Tensor, middle: torch.Tensor, w_coarse: torch.Tensor, w_fine: torch.Tensor, sigma: float = COARSE_SIGMA) -> torch.Tensor:
    """``frame`` moved toward ``middle``: the coarse band by ``w_coarse``, the fine band by ``w_fine``."""
    diff = middle - frame
    low = _gauss(diff, sigma)
    return frame + w_coarse * low + w_fine * (diff - low)


@dataclass(frozen=True, slots=True)
class Smoothed:
    image: torch.Tensor  # 3×H×W in [0, 1]
    mean_weight: float  # mean blend weight of the coarse band over the frame (0 = untouched)
    mean_fine_weight: float  # ... and of the fine detail


def smooth_pass(
    frames: Iterable[torch.Tensor],
    midpointer: Midpointer,
    settings: SmoothSettings = SmoothSettings(),
    *,
    batch: int = 1,
) -> Iterator[Smoothed]:
    """One pass over a stream of 3×H×W frames; holds at most ``batch`` + 2 frames.

    The first and last frames have one neighbour: it stands in for both, so only static,
    agreeing areas are touched there (no network call).
    """
    pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    prev: torch.Tensor | None = None
    cur: torch.Tensor | None = None
    for nxt in frames:
        if cur is not None:
            pending.append((prev if prev is not None else nxt, cur, nxt))
            if len(pending) >= batch:
                yield from _smooth_batch(pending, midpointer, settings)
                pending = []
        prev, cur = cur, nxt
    if cur is not None:
        edge = prev if prev is not None else cur
        pending.append((edge, cur, edge))
        yield from _smooth_batch(pending, midpointer, settings)


def _smooth_batch(
    triples: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    midpointer: Midpointer,
    settings: SmoothSettings,
) -> Iterator[Smoothed]:
    inner = [i for i, (a, _, b) in enumerate(triples) if a is not b]
    middles: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
    if inner:
        got = midpointer.middle(
            torch.stack([triples[i][0] for i in inner]), torch.stack([triples[i][2] for i in inner])
        )
        for k, i in enumerate(inner):
            middles[i] = (got.image[k], got.inconsistency[k], got.motion[k])
    for i, (a, cur, _) in enumerate(triples):
        if i in middles:
            mid, inc, mot = middles[i]
        else:
            mid, inc, mot = a, a.new_zeros((1, *a.shape[1:])), a.new_zeros((1, *a.shape[1:]))
        w_coarse, w_fine = blend_weights(cur[None], mid[None], inc[None], mot[None], settings)
        out = blend(cur[None], mid[None], w_coarse, w_fine, settings.coarse_sigma)[0].clamp_(0, 1)
        yield Smoothed(out, float(w_coarse.mean()), float(w_fine.mean()))


def smooth(
    frames: Iterable[torch.Tensor],
    midpointer: Midpointer,
    settings: SmoothSettings = SmoothSettings(),
    *,
    iterations: int = 1,
    batch: int = 1,
    on_pass_weight: list[list[tuple[float, float]]] | None = None,
) -> Iterator[torch.Tensor]:
    """``iterations`` chained passes, still streaming.

    Each pass appends a list to ``on_pass_weight`` that fills, frame by frame, with the mean
    (coarse, fine) blend weights.
    """
    stream: Iterable[torch.Tensor] = frames
    for _ in range(iterations):
        log: list[tuple[float, float]] | None = None
        if on_pass_weight is not None:
            log = []
            on_pass_weight.append(log)
        stream = _images(smooth_pass(stream, midpointer, settings, batch=batch), log)
    return iter(stream)


def _images(results: Iterable[Smoothed], log: list[tuple[float, float]] | None) -> Iterator[torch.Tensor]:
    for r in results:
        if log is not None:
            log.append((r.mean_weight, r.mean_fine_weight))
        yield r.image

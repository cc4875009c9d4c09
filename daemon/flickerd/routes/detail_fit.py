"""The arithmetic of detail stabilisation (pure functions on numpy arrays).

A frame is split into a *base* (Gaussian low-pass) and its *detail* (the rest). Each
neighbour's detail is warped onto the frame by optical flow and counted only where the flow
is trustworthy — the forward–backward check passes, the warp lands inside the frame, and the
neighbour's base agrees with the frame's once low-frequency level differences (flicker that
``normalize`` may have left) are removed — and where the aligned detail does not simply
repeat the frame's own (``novelty``: real detail is kept, re-drawn detail is averaged). The
frame's new detail is the weighted mean of its own detail and the aligned ones. Where nothing
qualifies (true motion the flow misses, occlusions, cuts, stable texture) the weights are
zero and the frame keeps its own detail.
"""

from __future__ import annotations

import cv2
import numpy as np

from flickerd.flow import _pixel_grid_xy, occlusion_mask, standardised, warp
from flickerd.flow import inside as _inside

FLOW_CONTRAST = 48.0  # standard deviation of the standardised flow image (grey levels)
LEVEL_LOWPASS_SIGMA = 4.0  # px at analysis scale: base differences wider than this are level, not structure
WEIGHT_BLUR_SIGMA = 1.0  # px at analysis scale: soft edges for the reliability map
MIN_SIGMA = 0.5


def _unit(a: np.ndarray) -> np.ndarray:
    """``a`` (a fresh array) clipped to [0, 1] in place, as float32: the values of ``np.clip(...).astype(np.float32)``
    without its two extra copies of the plane."""
    return np.clip(a, 0.0, 1.0, out=a).astype(np.float32, copy=False)


def split(plane: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(base, detail) of a float32 plane: base = Gaussian(σ), detail = plane − base."""
    base = cv2.GaussianBlur(plane, (0, 0), max(MIN_SIGMA, sigma))
    return base, plane - base


def flow_image(luma: np.ndarray) -> np.ndarray:
    """uint8 luma standardised to zero mean and fixed contrast, so level flicker does not steer the flow."""
    return standardised(luma, FLOW_CONTRAST)


def inside(fw: np.ndarray) -> np.ndarray:
    """True where ``x + fw`` lands inside the frame."""
    return _inside(fw)


def reliability(base_t: np.ndarray, base_s: np.ndarray, fw: np.ndarray, bw: np.ndarray, tolerance: float,
                leak: np.ndarray | None = None) -> np.ndarray:
    """Weight in [0, 1] (analysis scale) for neighbour s's detail warped onto frame t.

    ``base_*`` are low-passed luma in [0, 1]; ``fw`` is the flow t → s, ``bw`` s → t.
    The base residual is high-passed first: a level change is flicker, not a mismatch.
    ``leak`` (same units, per pixel): the residual a correct flow still leaves where the detail is
    re-drawn (``detail_leak``); the tolerance grows by it in quadrature.
    """
    resid = warp(base_s, fw) - base_t
    resid -= cv2.GaussianBlur(resid, (0, 0), LEVEL_LOWPASS_SIGMA)
    u = np.abs(resid) / (tolerance if leak is None else np.sqrt(tolerance * tolerance + leak * leak))
    agree = np.clip(1.0 - u * u, 0.0, 1.0)
    trusted = (occlusion_mask(fw, bw) & inside(fw)).astype(np.float32)
    # erode-like: a soft blur of the product, then only the confidently trusted core keeps weight
    w = cv2.GaussianBlur(agree * trusted, (0, 0), WEIGHT_BLUR_SIGMA)
    return _unit(2.0 * w - 1.0)


def detail_leak(detail_t: np.ndarray, aligned: np.ndarray, sigma: float, size: tuple[int, int],
                factor: float) -> np.ndarray:
    """The base residual that re-drawn detail leaves between two correctly aligned frames (analysis scale).

    The split's Gaussian is no brick wall: a detail layer re-drawn as white noise at the split's
    scale leaves 8% of its RMS in the analysis-scale base (measured: 0.078 at 832 → 480 px,
    0.083 unscaled), so strong re-drawn texture makes the bases disagree although the flow is
    right. This is ``factor`` × the local RMS (window ``sigma``) of the frame's detail less the
    aligned neighbour's, resized to ``size``; in the caller's units (divide by the peak).
    """
    diff = detail_t - aligned
    rms = np.sqrt(cv2.GaussianBlur(diff * diff, (0, 0), sigma))
    return cv2.resize(rms, size, interpolation=cv2.INTER_AREA) * factor


def mean_correlation(rho: np.ndarray, energy_t: np.ndarray) -> float:
    """The frame's mean detail correlation with one aligned neighbour (``correlation``'s map), weighted by
    the frame's local detail energy: what share of the textured detail persists from one frame to the next."""
    return float((np.clip(rho, -1.0, 1.0) * energy_t).sum() / (float(energy_t.sum()) + 1e-6))


def ramp_down(x: float, top: float, width: float) -> float:
    """1 up to ``top`` − ``width``, 0 from ``top`` on, linear between."""
    return float(np.clip((top - x) / width, 0.0, 1.0))


def correlation(detail_t: np.ndarray, aligned: np.ndarray, sigma: float,
                energy_t: np.ndarray | None = None) -> np.ndarray:
    """Local correlation ρ of frame t's detail with an aligned neighbour's (Gaussian window ``sigma``).

    Real detail the flow aligned even roughly correlates (ρ ≳ 0.5 on sub-pixel misalignment of
    fine texture); a re-drawn texture does not (ρ ≈ 0). ``energy_t``: ``local_energy(detail_t,
    sigma)`` when the caller has it (it is the same for every neighbour).
    """
    if energy_t is None:
        energy_t = local_energy(detail_t, sigma)
    return cv2.GaussianBlur(detail_t * aligned, (0, 0), sigma) / np.sqrt(energy_t * local_energy(aligned, sigma) + 1e-6)


def slowness(fw: np.ndarray, frames_full: float, slow: float) -> np.ndarray:
    """Weight in [0, 1] (the flow's scale) that is 1 where the motion ``fw`` (analysis px over the frame
    gap) is slower than ``slow`` / 2 full-resolution px per frame, 0 from ``slow`` on, linear between.
    ``frames_full``: the frame gap × the analysis scale (analysis px per full-resolution px)."""
    speed = cv2.magnitude(fw[..., 0], fw[..., 1]) / frames_full
    return _unit((slow - speed) / (0.5 * slow))


def novelty_of(rho: np.ndarray, keep: float) -> np.ndarray:
    """Weight in [0, 1] that is 0 where the aligned neighbour repeats frame t's detail (``rho``
    from ``correlation``). Averaging repeated detail gains nothing and blurs it wherever the
    alignment is a fraction of a pixel off, so only the novel part is averaged: full weight below
    ρ = keep / 2, none above ρ = ``keep``."""
    return _unit((keep - rho) / (0.5 * keep))


def novelty(detail_t: np.ndarray, aligned: np.ndarray, sigma: float, keep: float,
            energy_t: np.ndarray | None = None) -> np.ndarray:
    """``novelty_of(correlation(...), keep)``: 0 where the aligned neighbour repeats frame t's detail."""
    return novelty_of(correlation(detail_t, aligned, sigma, energy_t), keep)


def flicker_share(rhos: list[np.ndarray], weights: list[np.ndarray]) -> np.ndarray:
    """The estimated share f (in [0, 1]) of frame t's local detail energy that is flicker.

    With detail = a persistent part p + a part n re-drawn every frame, an aligned neighbour's
    correlation is ρ = |p|² / (|p|² + |n|²), so f = 1 − ρ is n's share. ``rhos`` are the
    neighbours' ``correlation`` maps, averaged by their reliability ``weights`` (where no
    neighbour is trusted f does not matter: the mean is the frame's own detail).
    """
    acc = np.zeros_like(rhos[0])
    total = np.full_like(rhos[0], 1e-6)
    for r, w in zip(rhos, weights):
        acc += w * r
        total += w
    return (1.0 - np.clip(acc / total, 0.0, 1.0)).astype(np.float32)


def wiener_gain(share: np.ndarray, misalignment: float) -> np.ndarray:
    """How far (0–1) to move frame t's detail toward the aligned temporal mean, given its flicker ``share``.

    The mean removes the flicker (energy ∝ f) but blurs the persistent detail by the alignment's
    sub-pixel errors (energy ∝ ``misalignment`` × (1 − f)); the move that minimises the sum of
    both errors is f / (f + misalignment · (1 − f)). ``misalignment`` 0 moves all the way
    everywhere (version 2's behaviour); 1 moves by the flicker share itself.
    """
    return share / (share + misalignment * (1.0 - share) + 1e-6)


def local_energy(detail: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-weighted local mean of ``detail²`` (window ``sigma``)."""
    return cv2.GaussianBlur(detail * detail, (0, 0), sigma)


def scale_flow(fw: np.ndarray, width: int, height: int) -> np.ndarray:
    """A flow field resampled to ``width × height`` with its vectors scaled to match."""
    h, w = fw.shape[:2]
    if (w, h) == (width, height):
        return fw
    out = cv2.resize(fw, (width, height), interpolation=cv2.INTER_LINEAR)
    # cv2's per-channel scale, in place: the same float32 products as numpy's broadcast multiply by
    # the float32 factors (bit for bit), which ran 50x slower on a 2-channel array (its inner loop is 2 long)
    sx, sy = (float(f) for f in np.array([width / w, height / h], np.float32))
    return cv2.multiply(out, (sx, sy, 0.0, 0.0), dst=out)


def warp_detail(detail: np.ndarray, fw: np.ndarray) -> np.ndarray:
    """Detail sampled at x + fw with a cubic kernel (bilinear would soften the detail it moves)."""
    return warp_along(detail, sample_map(fw))


def sample_map(fw: np.ndarray) -> np.ndarray:
    """The coordinates x + fw (HxWx2 float32) that ``warp_along`` samples at: made once, it serves
    every plane of that size (both chroma planes)."""
    h, w = fw.shape[:2]
    # one two-channel map from the cached pixel grid: the same coordinates as separate x and y maps
    return _pixel_grid_xy(h, w) + fw


def warp_along(detail: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """``warp_detail`` with the map already made (``sample_map``)."""
    return cv2.remap(detail, coords, None, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


class Blend:
    """A plane of frame t and the running weighted sum of its aligned neighbours (t weighs 1):
    ``add`` them one by one, so none has to be held, then take ``toward(strength)``."""

    __slots__ = ("own", "acc", "total")

    def __init__(self, own: np.ndarray) -> None:
        self.own = own
        self.acc = own.copy()
        self.total = np.ones_like(own)

    def add(self, aligned: np.ndarray, weight: np.ndarray) -> None:
        self.acc += weight * aligned
        self.total += weight

    def toward(self, strength: float | np.ndarray) -> np.ndarray:
        """The plane moved toward the weighted mean by ``strength`` (0–1, a number or a per-pixel map)."""
        mean = self.acc / self.total
        return self.own + strength * (mean - self.own)


def stabilise(detail_t: np.ndarray, aligned: list[np.ndarray], weights: list[np.ndarray],
              strength: float | np.ndarray) -> np.ndarray:
    """Detail of frame t moved toward the weighted mean of itself (weight 1) and its aligned
    neighbours; ``strength`` (0–1) is a number or a per-pixel map of ``detail_t``'s shape."""
    blend = Blend(detail_t)
    for d, w in zip(aligned, weights):
        blend.add(d, w)
    return blend.toward(strength)


MAX_AMPLITUDE_GAIN = 2.0


def keep_amplitude(new: np.ndarray, detail_t: np.ndarray, amplitude: float, sigma: float,
                   energy_t: np.ndarray | None = None) -> np.ndarray:
    """``new`` rescaled where its local RMS fell below ``amplitude`` × that of ``detail_t``.

    A mean of re-drawn (random) detail is weaker than any one frame's; without this the
    texture would look smoothed (verification's sharpness retention fell to 0.6–0.7 on
    re-drawn texture). Raising it back costs some of the PSNR gain: the averaged random
    part is amplified with the real part. Never amplified more than ``MAX_AMPLITUDE_GAIN``.
    """
    if amplitude <= 0:
        return new
    g = lambda x: cv2.GaussianBlur(x, (0, 0), sigma)  # noqa: E731
    want = amplitude * np.sqrt(local_energy(detail_t, sigma) if energy_t is None else energy_t)
    have = np.sqrt(g(new * new)) + 1e-6
    return new * np.clip(want / have, 1.0, MAX_AMPLITUDE_GAIN)

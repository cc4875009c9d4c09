"""PSNR and SSIM between two frames (Wang et al. 2004, Gaussian window σ = 1.5)."""

from __future__ import annotations

import math

import cv2
import numpy as np

PEAK = 255.0
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
# PSNR reported for identical frames (MSE 0), so means and JSON stay finite.
PSNR_IDENTICAL_DB = 100.0


def mse(a: np.ndarray, b: np.ndarray) -> float:
    d = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(d * d))


def psnr(a: np.ndarray, b: np.ndarray, peak: float = PEAK) -> float:
    """PSNR in dB over all samples; ``PSNR_IDENTICAL_DB`` when the frames are equal."""
    if a.shape != b.shape:
        raise ValueError(f"frame shapes differ: {a.shape} vs {b.shape}")
    m = mse(a, b)
    if m <= 0.0:
        return PSNR_IDENTICAL_DB
    return min(PSNR_IDENTICAL_DB, 10.0 * math.log10(peak * peak / m))


def psnr_tone_matched(reference: np.ndarray, test: np.ndarray, peak: float = PEAK) -> float:
    """PSNR of ``test`` against ``reference`` after the best per-channel gain and offset.

    A flicker fix *should* move each frame's global tone; this scores everything else it
    changed (blur, ghosts, artifacts), so heavy flicker fixed well does not look like damage.
    """
    if reference.shape != test.shape:
        raise ValueError(f"frame shapes differ: {reference.shape} vs {test.shape}")
    ref = reference.astype(np.float64).reshape(-1, reference.shape[-1] if reference.ndim == 3 else 1)
    out = test.astype(np.float64).reshape(ref.shape)
    mu_r, mu_o = ref.mean(0), out.mean(0)
    dr, do = ref - mu_r, out - mu_o
    var = (dr * dr).mean(0)
    gain = np.where(var > 1e-9, (dr * do).mean(0) / np.maximum(var, 1e-9), 1.0)
    matched = dr * gain + mu_o
    return psnr(matched, out, peak)


def _luma(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image.astype(np.float64)
    rgb = image.astype(np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def ssim_map(a: np.ndarray, b: np.ndarray, peak: float = PEAK) -> np.ndarray:
    """Per-pixel SSIM of the luma of ``a`` and ``b`` (RGB or gray, any dtype in [0, peak])."""
    if a.shape != b.shape:
        raise ValueError(f"frame shapes differ: {a.shape} vs {b.shape}")
    x, y = _luma(a), _luma(b)
    c1 = (SSIM_K1 * peak) ** 2
    c2 = (SSIM_K2 * peak) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def ssim(a: np.ndarray, b: np.ndarray, peak: float = PEAK) -> float:
    """Mean SSIM of the luma, in [-1, 1] (1 = identical)."""
    return float(ssim_map(a, b, peak).mean())

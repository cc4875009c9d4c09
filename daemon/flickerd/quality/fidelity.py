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
    if a.dtype == b.dtype == np.uint8:  # cv2 sums the squares exactly, without float64 copies
        return cv2.norm(a, b, cv2.NORM_L2SQR) / a.size
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
    channels = reference.shape[-1] if reference.ndim == 3 else 1
    if channels > 4:
        raise ValueError(f"at most 4 channels, got {channels}")
    # The matched frame's error from the per-channel moments (double sums in cv2) instead of
    # float64 copies of both frames: var_o − 2·g·cov + g²·var_r with g = cov / var_r (1 if flat);
    # cov from the variance of the sum. Equal to the explicit residual to ~1e-9 of a grey level².
    total = cv2.add(reference, test, dtype=cv2.CV_16U if reference.dtype == test.dtype == np.uint8 else cv2.CV_64F)
    var_r, var_o, var_s = (cv2.meanStdDev(x)[1].ravel()[:channels] ** 2 for x in (reference, test, total))
    cov = (var_s - var_r - var_o) / 2
    gain = np.where(var_r > 1e-9, cov / np.maximum(var_r, 1e-9), 1.0)
    m = float(np.mean(var_o - 2 * gain * cov + gain * gain * var_r))
    if m <= 0.0:
        return PSNR_IDENTICAL_DB
    return min(PSNR_IDENTICAL_DB, 10.0 * math.log10(peak * peak / m))


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

"""Sharpness retention: detail energy of the output vs the input on the input's stable textured pixels."""

from __future__ import annotations

import cv2
import numpy as np

# A pixel is textured when its Sobel gradient is in the top quarter and above this floor (luma levels).
TEXTURE_PERCENTILE = 75.0
TEXTURE_MIN_GRADIENT = 8.0
# Detail is "stable" where the input's own flow-compensated next frame agrees with it to within
# this many luma levels after the residual's low frequencies (flicker) are removed.
STABLE_LEVELS = 6.0
RESIDUAL_LOWPASS_SIGMA = 4.0
MIN_STABLE_SHARE = 0.01  # of the frame; below it, all textured pixels count


def texture_mask(luma: np.ndarray) -> np.ndarray:
    y = luma.astype(np.float32)
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3)
    g = np.sqrt(gx * gx + gy * gy)
    # the percentile of every other pixel is as good and four times cheaper
    return g > max(TEXTURE_MIN_GRADIENT, float(np.percentile(g[::2, ::2], TEXTURE_PERCENTILE)))


def detail_energy(luma: np.ndarray, mask: np.ndarray) -> float:
    """Σ |Laplacian| over ``mask``, divided by the frame's luma spread so a gain change is neutral."""
    y = luma.astype(np.float32)
    lap = np.abs(cv2.Laplacian(y, cv2.CV_32F, ksize=3))
    spread = float(y.std()) or 1.0
    return float(lap[mask].sum()) / spread


def stable_texture(texture: np.ndarray, residual: np.ndarray, reliable: np.ndarray) -> np.ndarray:
    """Textured pixels whose detail the next frame repeats: real detail a fix must keep.

    ``residual`` is W(Y_{t+1}) − Y_t (float) under the input's flow. Regenerated texture that
    changes every frame fails this test, so removing it does not count as blurring; when
    too few pixels pass (a very unstable clip), all of ``texture`` is used.
    """
    r = residual.astype(np.float32)
    high = r - cv2.GaussianBlur(r, (0, 0), RESIDUAL_LOWPASS_SIGMA)
    stable = texture & reliable & (np.abs(high) < STABLE_LEVELS)
    return stable if stable.mean() >= MIN_STABLE_SHARE else texture

"""Regenerated fine texture: detail that changes every frame while coarse structure stays.

After flow compensation, tracked detail cancels, so the high-frequency residual is small
compared with the detail itself; regenerated detail is uncorrelated frame to frame and the
residual carries about the energy of both frames' detail. Score per pair: energy of the
high-pass residual / mean energy of the two frames' high-pass detail (≈0.1–0.5 when tracked,
→2 when fully regenerated).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from flickerd.flow import pixel_grid

HIGH_PASS_SIGMA = 1.0
MIN_DETAIL = 6.0  # mean squared detail (grey levels²) below which there is no texture to judge (a high-CRF encode has ~1)


def high_pass(img: np.ndarray) -> np.ndarray:
    return img - cv2.GaussianBlur(img, (0, 0), HIGH_PASS_SIGMA)


def texture_ratio(prev_y: np.ndarray, warped_y: np.ndarray, mask: np.ndarray) -> float:
    """Float luma of frame t−1 and warped frame t; NaN when the pair has no texture to judge."""
    m = np.ascontiguousarray(mask).view(np.uint8)
    count = cv2.countNonZero(m)
    if not count:
        return float("nan")
    # the high-pass images zeroed off the mask: their sums of squares are the masked ones, and
    # OpenCV's vectorised norm takes them ~6x faster than a masked mean
    keep = m.astype(np.float32)
    hp_a = cv2.multiply(high_pass(prev_y), keep)
    hp_b = cv2.multiply(high_pass(warped_y), keep)
    detail = (cv2.norm(hp_a, cv2.NORM_L2SQR) + cv2.norm(hp_b, cv2.NORM_L2SQR)) / (2 * count)
    if detail < MIN_DETAIL:
        return float("nan")
    return float(cv2.norm(hp_a, hp_b, cv2.NORM_L2SQR) / count / detail)


DETAIL_CROP = 320  # side of the centred crop (detail-scale pixels) the measure looks at


def detail_ratio(prev_detail: np.ndarray, cur_detail: np.ndarray, flow: np.ndarray, mask: np.ndarray,
                 factor: int) -> float:
    """``texture_ratio`` at the detail scale: frames ``factor`` times larger than the flow.

    The analysis flow (and mask) is upscaled onto a centred crop of the uint8 luma frames,
    so detail too fine to survive the analysis downscale is still judged.
    """
    if factor == 1:
        crop_flow, crop_mask = flow, mask
        y0 = x0 = 0
        h, w = prev_detail.shape
    else:
        H, W = prev_detail.shape
        h, w = min(H, DETAIL_CROP), min(W, DETAIL_CROP)
        y0, x0 = (H - h) // 2, (W - w) // 2
        fy0, fx0 = y0 // factor, x0 // factor
        fh, fw_ = -(-h // factor) + 1, -(-w // factor) + 1
        sub = flow[fy0:fy0 + fh, fx0:fx0 + fw_] * factor
        crop_flow = cv2.resize(sub, (sub.shape[1] * factor, sub.shape[0] * factor), interpolation=cv2.INTER_LINEAR)
        crop_flow = crop_flow[y0 - fy0 * factor:][:h, x0 - fx0 * factor:][:, :w]
        sub_m = mask[fy0:fy0 + fh, fx0:fx0 + fw_].astype(np.uint8)
        crop_mask = cv2.resize(sub_m, (sub_m.shape[1] * factor, sub_m.shape[0] * factor),
                               interpolation=cv2.INTER_NEAREST).astype(bool)
        crop_mask = crop_mask[y0 - fy0 * factor:][:h, x0 - fx0 * factor:][:, :w]
        if crop_flow.shape[:2] != (h, w) or crop_mask.shape != (h, w):
            return float("nan")
    # one two-channel map (x, y): the crop's pixel coordinates in the whole frame plus the flow
    coords = crop_flow + _frame_coords(h, w, x0, y0)
    warped = cv2.remap(cur_detail.astype(np.float32), coords, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    prev = prev_detail[y0:y0 + h, x0:x0 + w].astype(np.float32)
    return texture_ratio(prev, warped, crop_mask)


@functools.lru_cache(maxsize=8)
def _frame_coords(h: int, w: int, x0: int, y0: int) -> np.ndarray:
    """Read-only HxWx2 float32 (x0 + x, y0 + y) of every pixel of a crop, cached per crop."""
    gx, gy = pixel_grid(h, w)
    coords = np.dstack([gx + x0, gy + y0])
    coords.flags.writeable = False
    return coords

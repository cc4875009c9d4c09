"""Optical flow on the CPU (OpenCV DIS), warping, and the occlusion mask of Lai et al. (ECCV 2018).

Shared by diagnosis (warping error), normalisation (motion-compensated neighbours) and
verification (the input's flow scores the output). Pure functions on numpy arrays.
"""

from __future__ import annotations

import cv2
import numpy as np

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

def _dis(preset: str) -> cv2.DISOpticalFlow:
    # A fresh instance per call: a reused DIS object carries state from earlier frames of other
    # sizes into the next result, which made diagnoses depend on what ran before. Creating one
    # costs about 8 µs.
    return cv2.DISOpticalFlow_create(PRESETS[preset])


def flow(src_gray: np.ndarray, dst_gray: np.ndarray, preset: str = "ultrafast") -> np.ndarray:
    """Flow from ``src`` to ``dst`` (HxWx2 float32): ``src[y, x]`` moves to ``dst[y+v, x+u]``.

    Inputs are uint8 luma of the same size.
    """
    return _dis(preset).calc(src_gray, dst_gray, None)


def warp(image: np.ndarray, flow_to: np.ndarray, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """Sample ``image`` at x + flow: warps frame t+1 back onto frame t given the flow t → t+1."""
    h, w = flow_to.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, gx + flow_to[..., 0], gy + flow_to[..., 1], cv2.INTER_LINEAR, borderMode=border)


def occlusion_mask(fw: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """True where the flow ``fw`` (t → t+1) is trustworthy, given ``bw`` (t+1 → t).

    Forward–backward check |fw + bw(x+fw)|² > 0.01(|fw|² + |bw(x+fw)|²) + 0.5 and motion
    boundaries |∇u|² + |∇v|² > 0.01|fw|² + 0.002 mark pixels as unreliable (Lai et al.).
    """
    bw_at = warp(bw, fw)
    fb = fw + bw_at
    # component sums, not .sum(-1): numpy reduces a 2-long last axis about 10× slower
    mag_fw = fw[..., 0] ** 2 + fw[..., 1] ** 2
    mag_bw = bw_at[..., 0] ** 2 + bw_at[..., 1] ** 2
    occluded = fb[..., 0] ** 2 + fb[..., 1] ** 2 > 0.01 * (mag_fw + mag_bw) + 0.5
    du_y, du_x = np.gradient(fw[..., 0])
    dv_y, dv_x = np.gradient(fw[..., 1])
    boundary = du_x**2 + du_y**2 + dv_x**2 + dv_y**2 > 0.01 * mag_fw + 0.002
    return ~(occluded | boundary)

"""Flow-compensated warping error with occlusion masking (Lai et al., ECCV 2018).

``compensate`` does the per-pair work the other measures build on: DIS flow both ways on
luma, the occlusion/motion-boundary mask, and the residual prev − W(cur). ``warp_errors``
streams E_t = Σ M·‖W(F_{t+1}) − F_t‖² / ΣM (RGB in [0,1], summed over channels) for a clip,
optionally using another clip's flow — verification scores a fix with the input's flow so
blurring cannot game the measure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from flickerd import flow as of


@dataclass(frozen=True, slots=True)
class Compensated:
    flow: np.ndarray  # HxWx2, prev → cur
    mask: np.ndarray  # HxW bool, True where the flow is trustworthy
    residual: np.ndarray  # HxWx3 float32, prev − W(cur), grey levels
    back: np.ndarray  # HxWx2, cur → prev

    def backward_residual(self, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        """cur − W(prev) along the backward flow (HxWx3 float32, grey levels, on cur's pixels)."""
        return cv2.subtract(cur, of.warp(prev, self.back), dtype=cv2.CV_32F)


def gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def pair_flows(prev_gray: np.ndarray, cur_gray: np.ndarray, preset: str = "ultrafast") -> tuple[np.ndarray, np.ndarray]:
    """Forward (prev → cur) and backward flow, both started from the pair's global motion."""
    shift = of.global_shift(prev_gray, cur_gray)
    back = None if shift is None else (-shift[0], -shift[1])
    return of.flow(prev_gray, cur_gray, preset, shift), of.flow(cur_gray, prev_gray, preset, back)


def pair_flow(prev_gray: np.ndarray, cur_gray: np.ndarray, preset: str = "ultrafast") -> tuple[np.ndarray, np.ndarray]:
    """Forward flow prev → cur and its reliability mask."""
    fw, bw = pair_flows(prev_gray, cur_gray, preset)
    return fw, of.occlusion_mask(fw, bw)


def compensate(prev: np.ndarray, cur: np.ndarray, preset: str = "ultrafast",
               prev_gray: np.ndarray | None = None, cur_gray: np.ndarray | None = None) -> Compensated:
    fw, bw = pair_flows(gray(prev) if prev_gray is None else prev_gray,
                        gray(cur) if cur_gray is None else cur_gray, preset)
    # one pass from uint8 to the float difference (exact: whole numbers)
    return Compensated(fw, of.occlusion_mask(fw, bw), cv2.subtract(prev, of.warp(cur, fw), dtype=cv2.CV_32F), bw)


def warp_error(residual: np.ndarray, mask: np.ndarray) -> float:
    """Lai's E for one pair from a residual in grey levels."""
    m = np.ascontiguousarray(mask).view(np.uint8)
    count = cv2.countNonZero(m)
    if not count:
        return float("nan")
    # the masked sum of squares over the channels, without a boolean-index copy or a squared image
    return float(cv2.norm(residual, cv2.NORM_L2SQR, mask=m) / count / 255.0**2)


def warp_errors(
    frames: Iterable[np.ndarray],
    flow_source: Iterable[np.ndarray] | None = None,
    preset: str = "ultrafast",
) -> Iterator[float]:
    """E for each consecutive pair of ``frames`` (RGB uint8), one value per pair, streaming.

    With ``flow_source`` (same length and size, e.g. the input of a fix) the flow and mask
    come from it and are applied to ``frames`` (e.g. the output).
    """
    source = iter(flow_source) if flow_source is not None else None
    prev = prev_src = None
    for frame in frames:
        src = next(source) if source is not None else frame
        if src.shape[:2] != frame.shape[:2]:
            raise ValueError("warp_errors: frames and flow_source must have the same size.")
        if prev is not None:
            fw, mask = pair_flow(gray(prev_src), gray(src), preset)
            residual = prev.astype(np.float32) - of.warp(frame, fw).astype(np.float32)
            yield warp_error(residual, mask)
        prev, prev_src = frame, src

"""Optical flow on the CPU (OpenCV DIS), warping, and the occlusion mask of Lai et al. (ECCV 2018).

Shared by diagnosis (warping error), normalisation (motion-compensated neighbours) and
verification (the input's flow scores the output). Pure functions on numpy arrays.
"""

from __future__ import annotations

import functools

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


# DIS crashes the process (SIGSEGV, OpenCV 4.x/5.x) on frames under about 32 px on a side, e.g. a
# 480x48 banner at analysis size (240x24): a hostile or odd file must not kill a worker. Smaller
# frames are padded by mirroring their edge rows/columns (their texture continues: repeated edges changed
# a 64x48 GIF fix's verdict), and the flow is cropped back.
MIN_SIDE = 32


def _calc(preset: str, src: np.ndarray, dst: np.ndarray, init: np.ndarray | None) -> np.ndarray:
    h, w = src.shape[:2]
    dh, dw = max(0, MIN_SIDE - h), max(0, MIN_SIDE - w)
    if not (dh or dw):
        return _dis(preset).calc(src, dst, init)
    pad = (lambda a: cv2.copyMakeBorder(a, 0, dh, 0, dw, cv2.BORDER_REFLECT_101))
    out = _dis(preset).calc(pad(src), pad(dst), None if init is None else pad(init))
    return np.ascontiguousarray(out[:h, :w])


def flow(src_gray: np.ndarray, dst_gray: np.ndarray, preset: str = "ultrafast",
         shift: tuple[float, float] | None = None) -> np.ndarray:
    """Flow from ``src`` to ``dst`` (HxWx2 float32): ``src[y, x]`` moves to ``dst[y+v, x+u]``.

    Inputs are uint8 luma of the same size. ``shift``: the global motion (dx, dy) in px, from
    ``global_shift``; DIS starts from it instead of from rest.
    """
    if shift is None:
        return _calc(preset, src_gray, dst_gray, None)
    init = np.empty((*src_gray.shape[:2], 2), np.float32)
    init[..., 0], init[..., 1] = shift
    return _calc(preset, src_gray, dst_gray, init)


def flow_from(src_gray: np.ndarray, dst_gray: np.ndarray, start: np.ndarray, preset: str = "ultrafast") -> np.ndarray:
    """Flow from ``src`` to ``dst`` with DIS started from the flow ``start`` (HxWx2; copied: DIS writes its
    result into the flow it starts from)."""
    if start.shape != (*src_gray.shape[:2], 2):  # DIS would silently start from rest
        raise ValueError(f"start flow of shape {start.shape} for frames of {src_gray.shape[:2]}")
    return _calc(preset, src_gray, dst_gray, np.array(start, np.float32))


# DIS starts at a pyramid level a few pixels across: a pan faster than about a tenth of the
# frame per pair is beyond its reach, and the pair then looks like replaced content. Phase
# correlation finds such a translation in one FFT; DIS refines from it.
SHIFT_MIN = 4.0  # px: slower global motion is left to DIS alone (results unchanged there)
SHIFT_RESPONSE = 0.1  # phase correlation peak below this: no single global motion


def global_shift(src_gray: np.ndarray, dst_gray: np.ndarray) -> tuple[float, float] | None:
    """The dominant translation (dx, dy) from ``src`` to ``dst`` in px, or None when it is small or unclear."""
    # at half size: a quarter of the FFT's cost, and a start within a pixel or two is all DIS needs
    h, w = src_gray.shape[0] // 2, src_gray.shape[1] // 2
    a = cv2.resize(src_gray, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    b = cv2.resize(dst_gray, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    (dx, dy), response = cv2.phaseCorrelate(a, b, _hanning(w, h))
    dx, dy = 2 * dx, 2 * dy
    if response < SHIFT_RESPONSE or np.hypot(dx, dy) < SHIFT_MIN:
        return None
    return float(dx), float(dy)


@functools.lru_cache(maxsize=4)
def _hanning(w: int, h: int) -> np.ndarray:
    return cv2.createHanningWindow((w, h), cv2.CV_32F)


def inside(flow_to: np.ndarray) -> np.ndarray:
    """True where x + flow lands inside the frame: the content is still in view in the other frame."""
    h, w = flow_to.shape[:2]
    kept = cv2.inRange(_pixel_grid_xy(h, w) + flow_to, (0, 0), (w - 1, h - 1))  # both bounds inclusive: 255 / 0
    kept &= 1
    return kept.view(bool)


@functools.lru_cache(maxsize=8)
def pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Read-only x and y coordinates of every pixel (HxW float32 each), cached per size."""
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = gy.flags.writeable = False
    return gx, gy


@functools.lru_cache(maxsize=8)
def _pixel_grid_xy(h: int, w: int) -> np.ndarray:
    """Read-only (x, y) of every pixel as one HxWx2 float32 array, cached per size."""
    grid = np.dstack(pixel_grid(h, w))
    grid.flags.writeable = False
    return grid


def warp(image: np.ndarray, flow_to: np.ndarray, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """Sample ``image`` at x + flow: warps frame t+1 back onto frame t given the flow t → t+1."""
    h, w = flow_to.shape[:2]
    # one two-channel map: the same coordinates as separate x and y maps, built in one pass
    return cv2.remap(image, _pixel_grid_xy(h, w) + flow_to, None, cv2.INTER_LINEAR, borderMode=border)


def standardised(luma: np.ndarray, contrast: float = 48.0) -> np.ndarray:
    """``luma`` (any scale) as uint8 with its mean at 128 and a standard deviation of ``contrast``
    grey levels: level flicker must not steer the flow."""
    std = float(luma.std()) or 1.0
    return np.clip((luma - float(luma.mean())) * (contrast / std) + 128.0, 0, 255).astype(np.uint8)


def warp_at(image: np.ndarray, flow_to: np.ndarray, where: np.ndarray, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """``warp(image, flow_to)`` at the flat pixel indices ``where`` only (the same values, one per index)."""
    h, w = flow_to.shape[:2]
    n = len(where)
    if n == 0:
        return np.empty((0,) + image.shape[2:], image.dtype)
    points = np.zeros((-(-n // w) * w, 2), np.float32)  # remap's output is 2D, each side under 32767: rows of w
    points[:n] = _pixel_grid_xy(h, w).reshape(-1, 2)[where] + flow_to.reshape(-1, 2)[where]
    out = cv2.remap(image, points.reshape(-1, w, 2), None, cv2.INTER_LINEAR, borderMode=border)
    return out.reshape((-1,) + image.shape[2:])[:n]


def _gradient_sq(c: np.ndarray) -> np.ndarray:
    """|∇c|² with ``np.gradient``'s differences (central inside, one-sided on the edges), without its overhead."""
    gx, gy = np.empty_like(c), np.empty_like(c)
    np.subtract(c[:, 2:], c[:, :-2], out=gx[:, 1:-1])
    gx[:, 1:-1] *= 0.5
    gx[:, 0], gx[:, -1] = c[:, 1] - c[:, 0], c[:, -1] - c[:, -2]
    np.subtract(c[2:], c[:-2], out=gy[1:-1])
    gy[1:-1] *= 0.5
    gy[0], gy[-1] = c[1] - c[0], c[-1] - c[-2]
    gx *= gx
    gy *= gy
    gx += gy
    return gx


def occlusion_mask(fw: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """True where the flow ``fw`` (t → t+1) is trustworthy, given ``bw`` (t+1 → t).

    Forward–backward check |fw + bw(x+fw)|² > 0.01(|fw|² + |bw(x+fw)|²) + 0.5 and motion
    boundaries |∇u|² + |∇v|² > 0.01|fw|² + 0.002 mark pixels as unreliable (Lai et al.).
    """
    bw_at = warp(bw, fw)
    u, v = cv2.split(fw)  # contiguous components: elementwise maths on them is several times faster
    bu, bv = cv2.split(bw_at)
    # The formulas above, evaluated in place in the same order (so bit for bit the same result)
    mag_fw = u * u
    mag_fw += v * v
    boundary = _gradient_sq(u)
    boundary += _gradient_sq(v)
    limit = mag_fw * 0.01
    limit += 0.002
    boundary = boundary > limit
    fu, fv = u + bu, v + bv
    fu *= fu
    fv *= fv
    fu += fv  # |fw + bw(x+fw)|²
    bu *= bu
    bv *= bv
    mag_fw += bu
    mag_fw += bv
    mag_fw *= 0.01
    mag_fw += 0.5
    occluded = fu > mag_fw
    occluded |= boundary
    return ~occluded

"""Normalisation straight on the decoded Y/Cb/Cr planes, for planar YUV sources.

Going through RGB and back costs ~0.3–1.5 dB against the source on real footage (out-of-gamut
YUV clips in RGB, chroma is resampled twice) before any fix is applied. A gain/offset in
YCbCr needs no RGB at all: the planes are read as decoded, corrected (luma gain and offset at
luma resolution, chroma offsets at chroma resolution) and handed to the encoder unchanged in
format. Levels are normalised as Y / peak and C / peak − ½ so the same statistics apply.
"""

from __future__ import annotations

from collections.abc import Iterator

import av
import cv2
import numpy as np

from flickerd.errors import CorruptInput
from flickerd.routes.normalize_clip import keep_clipped_planes
from flickerd.routes.normalize_fit import FIELD_STEP, Fields

# Changes well under one 8-bit level are estimation noise, not flicker: they are faded out
# (Δ·Δ²/(Δ² + d²)) so a clean frame passes exactly unchanged. Scattered ±1 changes would
# otherwise cost far more than they are worth once x264 re-encodes the frame (its decisions on
# an already-encoded source shift): a clean real clip lost 1–2.4 dB that way.
DEADBAND_LEVELS = 0.75
# A frame whose planes change by less than this on average (8-bit levels) is passed through
# exactly: a few scattered 1–3 level changes are noise, yet once x264 re-encodes an already
# encoded source they shift its decisions enough to cost a clean real clip 2–3 dB of PSNR.
# Clean clips change by 0.01–0.07 on average per frame (normalize and detail); 0.2 → 0.1 took
# breathing from +1.48 to +1.55 dB (its quiet frames are corrected again).
PASS_MEAN_LEVELS = 0.1

# pix_fmt -> bits per sample (all three planes share it)
PLANAR: dict[str, int] = {
    "yuv420p": 8, "yuvj420p": 8, "yuv422p": 8, "yuvj422p": 8, "yuv444p": 8, "yuvj444p": 8,
    "yuv420p10le": 10, "yuv422p10le": 10, "yuv444p10le": 10, "yuv420p12le": 12, "yuv444p12le": 12,
}


def supported(pix_fmt: str) -> bool:
    return pix_fmt in PLANAR


def read_planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """Copies of the Y, Cb, Cr planes (uint8, or uint16 holding 10/12-bit samples)."""
    dtype = np.uint8 if PLANAR[frame.format.name] == 8 else np.uint16
    out = []
    for plane in frame.planes[:3]:
        row = plane.line_size // np.dtype(dtype).itemsize
        data = np.frombuffer(memoryview(plane), dtype=dtype)[: plane.height * row]
        out.append(data.reshape(plane.height, row)[:, : plane.width].copy())
    return out


def analysis_ycc(planes: list[np.ndarray], size: tuple[int, int], bits: int) -> np.ndarray:
    """Analysis-scale float32 HxWx3: Y / peak and C / peak − ½ (chroma resampled to the luma grid)."""
    peak = float((1 << bits) - 1)
    y = cv2.resize(planes[0], size, interpolation=cv2.INTER_AREA).astype(np.float32) / peak
    cb = cv2.resize(planes[1], size, interpolation=cv2.INTER_AREA).astype(np.float32) / peak - 0.5
    cr = cv2.resize(planes[2], size, interpolation=cv2.INTER_AREA).astype(np.float32) / peak - 0.5
    return np.dstack([y, cb, cr])


def _field(grid: np.ndarray, width: int, height: int) -> np.ndarray:
    """A (rows, cols, n) grid smoothly upsampled to height × width × n (cubic, then linear)."""
    mid = cv2.resize(grid, (max(2, -(-width // FIELD_STEP)), max(2, -(-height // FIELD_STEP))),
                     interpolation=cv2.INTER_CUBIC)
    full = cv2.resize(mid, (width, height), interpolation=cv2.INTER_LINEAR)
    return full.reshape(height, width, -1)


def apply_planes(planes: list[np.ndarray], fields: Fields, bits: int, strength: float = 1.0,
                 clip: tuple[bool, int] | None = None) -> list[np.ndarray]:
    """Corrected planes, same shapes and dtype: Y ← gain·Y + bias, C ← gain·C + bias (C centred on 0).

    ``clip``: (full range, AVColorSpace) of the frame, to darken RGB channels at full scale by
    half the correction only (``normalize_clip``); None corrects them like the rest.
    """
    peak = float((1 << bits) - 1)
    dtype = planes[0].dtype
    y = planes[0].astype(np.float32)
    h, w = y.shape
    lum = _field(np.dstack([fields.gain[0], fields.bias[0]]), w, h)
    gain = 1.0 + strength * (lum[..., 0] - 1.0)
    d = DEADBAND_LEVELS * peak / 255.0
    deltas = [(gain - 1.0) * y + strength * peak * lum[..., 1]]
    ch, cw = planes[1].shape
    # chroma gains are one per frame (see normalize_fit.link); samples are centred on peak / 2
    for c in (1, 2):
        field = _field(np.dstack([fields.gain[c], fields.bias[c]]), cw, ch)
        cgain = 1.0 + strength * (field[..., 0] - 1.0)
        deltas.append((cgain - 1.0) * (planes[c].astype(np.float32) - 0.5 * peak) + strength * peak * field[..., 1])
    if clip is not None:
        deltas = list(keep_clipped_planes(planes[0], planes[1], planes[2], *deltas, peak, *clip))
    out = [np.clip(x.astype(np.float32) + _deadband(delta, d) + 0.5, 0, peak).astype(dtype)
           for x, delta in zip(planes, deltas)]
    return [a.copy() for a in planes] if negligible(out, planes, peak) else out


def negligible(new: list[np.ndarray], old: list[np.ndarray], peak: float) -> bool:
    """True when ``new`` differs from ``old`` by less than ``PASS_MEAN_LEVELS`` on average over all planes."""
    changed = sum(float(np.abs(a.astype(np.float32) - b).sum()) for a, b in zip(new, old))
    return changed < PASS_MEAN_LEVELS * peak / 255.0 * sum(a.size for a in old)


def _deadband(delta: np.ndarray, d: float) -> np.ndarray:
    """``delta`` with changes below ≈ ``d`` faded out smoothly (larger ones almost intact)."""
    sq = delta * delta
    return delta * sq / (sq + d * d)


def frame_from_planes(planes: list[np.ndarray], like: av.VideoFrame) -> av.VideoFrame:
    """A new frame with ``like``'s format, size and colour tags holding ``planes``."""
    frame = av.VideoFrame(like.width, like.height, like.format.name)
    for plane, data in zip(frame.planes[:3], planes):
        row = plane.line_size // data.dtype.itemsize
        buf = np.zeros((plane.height, row), data.dtype)
        buf[:, : plane.width] = data
        plane.update(buf)
    frame.colorspace = like.colorspace
    frame.color_range = like.color_range
    return frame


def decode(path: str) -> Iterator[av.VideoFrame]:
    """Decoded frames of the first video stream as they come (raises ``CorruptInput``)."""
    try:
        container = av.open(path, metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise CorruptInput(f"{path}: the container cannot be opened ({exc}).") from exc
    index = 0
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            index += 1
            yield frame
    except av.error.FFmpegError as exc:
        raise CorruptInput(f"{path}: decoding failed after {index} frames ({exc}).") from exc
    finally:
        container.close()
    if index == 0:
        raise CorruptInput(f"{path}: the video stream holds no decodable frame.")

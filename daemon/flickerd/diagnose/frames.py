"""One decoded frame seen at the sizes the measures need, each image made only when first asked for.

Every frame gets its cheap numbers (Y/Cb/Cr means, the cut histogram) from thumbnails made
straight from the decoder's planes; only the frames a pair measure or a codec sample uses are ever resized
or converted to RGB. Studio-range planes are stretched to full range first, so the RGB and
luma match what ``iter_frames`` gives (BT.601, as swscale converts untagged video).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flickerd.diagnose import cuts
from flickerd.media.planes import Planes

# studio range (Y 16–235, C 16–240) → full range, as lookup tables
_LUMA = np.clip(np.round((np.arange(256) - 16) * 255.0 / 219.0), 0, 255).astype(np.uint8)
_CHROMA = np.clip(np.round((np.arange(256) - 128) * 255.0 / 224.0 + 128), 0, 255).astype(np.uint8)
_YCRCB = np.dstack([_LUMA, _CHROMA, _CHROMA])  # the same per channel of a merged Y, Cr, Cb image


@dataclass(frozen=True, slots=True)
class Geometry:
    """Pixel sizes (w, h) of the two analysis levels."""

    detail: tuple[int, int]  # blocking and fine texture
    analysis: tuple[int, int]  # flow, flicker, banding

    @classmethod
    def of(cls, width: int, height: int, detail_scale: float, factor: int) -> Geometry:
        dw, dh = max(16, round(width * detail_scale)), max(16, round(height * detail_scale))
        dw, dh = dw - dw % 2, dh - dh % 2
        return cls((dw, dh), (max(8, dw // factor), max(8, dh // factor)))


def _resize(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (plane.shape[1], plane.shape[0]) == size:
        return plane
    shrink = size[0] < plane.shape[1] or size[1] < plane.shape[0]
    return cv2.resize(plane, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def _shrink(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area average to ``size``, whose sides divide the plane's.

    OpenCV's integer-factor path is ~8x faster than a fractional one, and its vectorised 2x path
    faster again, so even factors are halved first: a 720x480 frame's three planes shrink to
    60x40 in 85 µs instead of 127 µs. Each halving rounds to whole grey levels (+1/8 on
    average): nothing next to the cut histogram's 32-level bins, and it cancels in the second
    differences of the per-frame means.
    """
    ky, kx = plane.shape[0] // size[1], plane.shape[1] // size[0]
    while ky % 2 == 0 and kx % 2 == 0 and min(ky, kx) > 1:
        plane = cv2.resize(plane, (plane.shape[1] // 2, plane.shape[0] // 2), interpolation=cv2.INTER_AREA)
        ky, kx = ky // 2, kx // 2
    return _resize(plane, size)


class FrameView:
    """Lazily derived images of one frame; ``gray``/``detail`` are full-range uint8 luma."""

    def __init__(self, planes: Planes, geometry: Geometry) -> None:
        self.planes = planes
        self.geometry = geometry
        self._rgb: np.ndarray | None = None
        self._means: np.ndarray | None = None
        self._gray: np.ndarray | None = None
        self._detail: np.ndarray | None = None
        self._half_y: np.ndarray | None = None  # the Y plane halved (INTER_AREA), when ``histogram`` made it
        self.thumb: np.ndarray | None = None  # the luma thumbnail (uint8, ≤ cuts.THUMB px), once made
        self._thumb_cb: np.ndarray | None = None
        self._thumb_cr: np.ndarray | None = None

    # Full-range planes are used as decoded: the decoder's views carry line padding, and DIS
    # (like most OpenCV calls) wants contiguous rows, so those are copied.
    def _luma(self, y: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(y) if self.planes.full_range else cv2.LUT(y, _LUMA)

    def _chroma(self, c: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(c) if self.planes.full_range else cv2.LUT(c, _CHROMA)

    def means(self) -> np.ndarray:
        """Full-range (Y, Cb, Cr) means of the frame, grey levels, from the thumbnails: area
        averages of every pixel, and nearly free once ``histogram`` has made them. Made once
        (the drift levels ask again for the frame before)."""
        if self._means is None:
            y, cb, cr = self._thumbnails()
            m = np.array([cv2.mean(y)[0], cv2.mean(cb)[0], cv2.mean(cr)[0]])
            if not self.planes.full_range:
                m = np.array([(m[0] - 16) * 255 / 219, (m[1] - 128) * 255 / 224 + 128, (m[2] - 128) * 255 / 224 + 128])
            self._means = m
        return self._means

    def spreads(self) -> tuple[float, float]:
        """Full-range (spread of Y, saturation) of the frame, grey levels, from the thumbnails:
        the standard deviation of Y and √(var Cb + var Cr) (``diagnose.drift``)."""
        y, cb, cr = self._thumbnails()
        sy, sc = float(cv2.meanStdDev(y)[1][0, 0]), float(np.hypot(cv2.meanStdDev(cb)[1][0, 0], cv2.meanStdDev(cr)[1][0, 0]))
        if not self.planes.full_range:
            sy, sc = sy * 255 / 219, sc * 255 / 224
        return sy, sc

    def histogram(self) -> np.ndarray:
        """The cut detector's colour histogram, from an RGB thumbnail made straight from the planes."""
        return cuts.histogram(self._to_rgb(*self._thumbnails()))

    def thumbnails(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Y, Cb, Cr) planes at most ``cuts.THUMB`` px a side, as decoded (``planes.full_range`` says the range)."""
        return self._thumbnails()

    def _thumbnails(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Y, Cb, Cr) at most ``cuts.THUMB`` px a side, made once; Y is also kept as ``thumb``."""
        if self.thumb is not None:
            return self.thumb, self._thumb_cb, self._thumb_cr
        p = self.planes
        h, w = p.y.shape
        k = -(-max(h, w) // cuts.THUMB)
        k += k % 2 if k > 1 else 0  # even, so subsampled chroma shrinks by whole pixels too
        th, tw = max(1, h // k), max(1, w // k)
        if k >= 2 and th * k == h and tw * k == w:
            self._half_y = _resize(p.y, (w // 2, h // 2))
            y = _shrink(self._half_y, (tw, th))
        else:
            y = _resize(p.y[: th * k, : tw * k], (tw, th))
        ky, kx = k * p.cb.shape[0] // h, k * p.cb.shape[1] // w
        if ky and kx:
            cb = _shrink(p.cb[: th * ky, : tw * kx], (tw, th))
            cr = _shrink(p.cr[: th * ky, : tw * kx], (tw, th))
        else:
            cb, cr = _resize(p.cb, (tw, th)), _resize(p.cr, (tw, th))
        self.thumb, self._thumb_cb, self._thumb_cr = y, cb, cr
        return y, cb, cr

    def _to_rgb(self, y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
        ycrcb = cv2.merge([y, cr, cb])
        if not self.planes.full_range:
            ycrcb = cv2.LUT(ycrcb, _YCRCB)  # one call for the three planes' range stretch
        return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB)

    @property
    def rgb(self) -> np.ndarray:
        """HxWx3 uint8 RGB at the analysis size."""
        if self._rgb is None:
            size = self.geometry.analysis
            p = self.planes
            self._rgb = self._to_rgb(self._analysis_y(), _resize(p.cb, size), _resize(p.cr, size))
        return self._rgb

    def _analysis_y(self) -> np.ndarray:
        half = self._half_y
        if half is not None and (half.shape[1], half.shape[0]) == self.geometry.analysis:
            return half  # the same pixels: INTER_AREA halving of the same plane
        return _resize(self.planes.y, self.geometry.analysis)

    @property
    def gray(self) -> np.ndarray:
        """HxW uint8 luma at the analysis size."""
        if self._gray is None:
            self._gray = self._luma(self._analysis_y())
        return self._gray

    @property
    def detail(self) -> np.ndarray:
        """HxW uint8 luma at the detail size."""
        if self._detail is None:
            self._detail = self._luma(_resize(self.planes.y, self.geometry.detail))
        return self._detail

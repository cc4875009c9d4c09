"""Tiny clips with known content for the RIFE tests: a textured world seen through a window
that slides a known number of pixels per frame, plus a bright square moving the other way."""

from __future__ import annotations

import os
from collections.abc import Callable
from fractions import Fraction

import av
import cv2
import numpy as np

from flickerd.media.writer import reproducible
from flickerd.synth.corpus import write_tone


def world(seed: int, h: int, w: int) -> np.ndarray:
    """Float32 RGB texture in [0, 255]: smooth colour blobs plus mid-scale detail."""
    rng = np.random.default_rng(seed)
    coarse = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), 6)
    fine = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.5)[..., None]
    img = 128 + 60 * coarse / (coarse.std() + 1e-6) + 25 * fine / (fine.std() + 1e-6)
    return np.clip(img, 10, 245).astype(np.float32)


def frame_at(tex: np.ndarray, t: float, *, width: int, height: int, dx: float, square: bool = True) -> np.ndarray:
    """The view at time ``t`` (may be fractional): the window moves ``dx`` px right per frame."""
    m = np.float32([[1, 0, dx * t + 8], [0, 1, 8]])
    img = cv2.warpAffine(tex, m, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    if square:
        x = int(round(width * 0.7 - 1.5 * dx * t))
        y = height // 3
        img[y:y + 16, max(0, x):max(0, x + 16)] = (235.0, 200.0, 60.0)
    return img


def frames(n: int, *, width: int = 128, height: int = 96, dx: float = 3.0, seed: int = 0, square: bool = True) -> list[np.ndarray]:
    tex = world(seed, height + 16, width + int(abs(dx) * n) + 32)
    return [frame_at(tex, t, width=width, height=height, dx=dx, square=square) for t in range(n)]


def to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def write(
    path: str | os.PathLike,
    images: list[np.ndarray],
    *,
    fps: int = 12,
    audio: bool = False,
    ten_bit: bool = False,
    lossless: bool = True,
) -> str:
    """Encode float/uint8 RGB frames with libx264 (lossless by default), optionally with AAC audio."""
    path = os.fspath(path)
    with av.open(path, mode="w") as out:
        v = out.add_stream("libx264", rate=Fraction(fps))
        v.height, v.width = images[0].shape[:2]
        v.pix_fmt = "yuv420p10le" if ten_bit else "yuv420p"
        v.options = reproducible("libx264", {"crf": "0" if lossless else "18", "preset": "ultrafast"})
        a = None
        if audio:
            a = out.add_stream("aac", rate=48000)
            a.layout = "mono"
        for img in images:
            if ten_bit:
                frame = av.VideoFrame.from_ndarray(np.clip(img * 257.0, 0, 65535).astype(np.uint16), format="rgb48le")
            else:
                frame = av.VideoFrame.from_ndarray(to_u8(img), format="rgb24")
            for packet in v.encode(frame):
                out.mux(packet)
        for packet in v.encode():
            out.mux(packet)
        if a is not None:
            write_tone(out, a, len(images) / fps)
    return path


def flicker(images: list[np.ndarray], apply: Callable[[np.ndarray, int], np.ndarray]) -> list[np.ndarray]:
    return [apply(img, t) for t, img in enumerate(images)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over RGB (Gaussian window 11, sigma 1.5; Wang et al. 2004 constants)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def g(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    ma, mb = g(a), g(b)
    va, vb, cab = g(a * a) - ma * ma, g(b * b) - mb * mb, g(a * b) - ma * mb
    return float(np.mean(((2 * ma * mb + c1) * (2 * cab + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))))


def decode(path: str | os.PathLike) -> list[np.ndarray]:
    """Every frame as RGB through the project's reader (the same colour path the routes use)."""
    from flickerd.media import iter_frames

    return [f.image for f in iter_frames(path)]


def clip_psnr(frames: list[np.ndarray], truth: list[np.ndarray]) -> float:
    """PSNR over a whole clip (from the mean squared error of all frames together)."""
    mse = float(np.mean([np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) for a, b in zip(frames, truth, strict=True)]))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))

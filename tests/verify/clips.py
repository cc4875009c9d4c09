"""Tiny test clips with known content, written through PyAV (real H.264 files)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

import av
import cv2
import numpy as np

W, H = 128, 96


def texture(seed: int = 0, size: tuple[int, int] = (H, W * 3)) -> np.ndarray:
    """A wide RGB canvas with structure at several scales (moving it gives real, trackable motion)."""
    rng = np.random.default_rng(seed)
    h, w = size
    base = np.zeros((h, w, 3), np.float32)
    for sigma, amp in ((8.0, 90.0), (2.5, 50.0), (1.0, 25.0)):
        noise = rng.normal(0, 1, (h, w, 3)).astype(np.float32)
        noise = cv2.GaussianBlur(noise, (0, 0), sigma)
        base += amp * noise / (noise.std() + 1e-6)
    return np.clip(128 + base, 16, 235).astype(np.float32)


def moving_frames(n: int = 20, speed: float = 3.0, seed: int = 0) -> list[np.ndarray]:
    """Frames panning over the texture by ``speed`` px per frame (float32 RGB)."""
    canvas = texture(seed)
    out = []
    for t in range(n):
        m = np.float32([[1, 0, -speed * t], [0, 1, 0]])
        out.append(cv2.warpAffine(canvas, m, (canvas.shape[1], canvas.shape[0]), borderMode=cv2.BORDER_REFLECT)[:, :W])
    return out


def flicker_offsets(n: int, amplitude: float = 12.0, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-amplitude, amplitude, n)


def luma_flicker(frames: Sequence[np.ndarray], amplitude: float = 12.0, seed: int = 1) -> list[np.ndarray]:
    """Add a random per-frame brightness offset (generative-style global flicker)."""
    offsets = flicker_offsets(len(frames), amplitude, seed)
    return [f + o for f, o in zip(frames, offsets)]


def temporal_blur(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each frame averaged with its two neighbours: less flicker, but ghosts on motion."""
    n = len(frames)
    return [(frames[max(0, i - 1)] + frames[i] + frames[min(n - 1, i + 1)]) / 3 for i in range(n)]


def write(path: str, frames: Sequence[np.ndarray], fps: int = 10, crf: int = 8) -> str:
    with av.open(path, "w") as out:
        s = out.add_stream("libx264", rate=Fraction(fps))
        s.width, s.height = frames[0].shape[1], frames[0].shape[0]
        s.pix_fmt = "yuv420p"
        s.options = {"crf": str(crf), "preset": "veryfast"}
        for f in frames:
            frame = av.VideoFrame.from_ndarray(np.clip(f, 0, 255).astype(np.uint8), format="rgb24")
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def read(path: str) -> list[np.ndarray]:
    with av.open(path) as c:
        return [f.to_ndarray(format="rgb24").astype(np.float32) for f in c.decode(video=0)]


def transform(src: str, out: str, fn: Callable[[list[np.ndarray]], list[np.ndarray]], fps: int = 10) -> str:
    """Apply ``fn`` to all frames of ``src`` (tiny clips only) and write ``out``."""
    return write(out, fn(read(src)), fps=fps)

"""Tiny test clips with known content: a textured scene that moves, and flicker injected on top.

Until the shared corpus (``flickerd.synth.corpus``) lands these are this area's own. Frames
are float RGB in [0, 1]; ``write`` encodes them with PyAV (x264, near-lossless) so the routes
read real files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction

import av
import cv2
import numpy as np

W, H, N = 128, 80, 20


def texture(seed: int, w: int, h: int) -> np.ndarray:
    """A wide RGB texture: smooth blobs plus fine detail and a few hard edges."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.random((h // 8 + 2, w // 8 + 2, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    fine = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.0)[..., None]  # detail lives in luma
    img = 0.2 + 0.45 * base + 0.3 * (fine - 0.5)
    for _ in range(6):
        x, y = int(rng.integers(0, w - 12)), int(rng.integers(0, h - 12))
        img[y : y + 10, x : x + 10] = rng.random(3) * 0.8 + 0.1
    return np.clip(img, 0.02, 0.98)


def moving_scene(seed: int = 1, w: int = W, h: int = H, n: int = N, speed: float = 1.5) -> Iterator[np.ndarray]:
    """A camera pan over a texture at ``speed`` px/frame, with an object moving the other way."""
    big = texture(seed, w + int(abs(speed) * n) + 24, h)
    obj = texture(seed + 7, 24, 24)
    for t in range(n):
        x0 = int(round(t * abs(speed)))
        frame = big[:, x0 : x0 + w].copy()
        ox = int(round(w - 30 - t * 2.5 * abs(speed))) % (w - 24)
        frame[h // 3 : h // 3 + 24, ox : ox + 24] = obj
        yield frame


def rgb_to_ycc(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return np.stack([y, 0.564 * (b - y), 0.713 * (r - y)], -1)


def ycc_to_rgb(ycc: np.ndarray) -> np.ndarray:
    y, cb, cr = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    r = y + cr / 0.713
    b = y + cb / 0.564
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return np.stack([r, g, b], -1)


Flicker = Callable[[int, np.ndarray], np.ndarray]


def global_luma(amount: float = 0.08, seed: int = 3) -> Flicker:
    rng = np.random.default_rng(seed)
    gains = 1 + rng.uniform(-amount, amount, 1000)
    offs = rng.uniform(-amount / 2, amount / 2, 1000)

    def apply(t: int, rgb: np.ndarray) -> np.ndarray:
        ycc = rgb_to_ycc(rgb)
        ycc[..., 0] = ycc[..., 0] * gains[t] + offs[t]
        return ycc_to_rgb(ycc)

    return apply


def chroma_cast(amount: float = 0.05, seed: int = 4) -> Flicker:
    rng = np.random.default_rng(seed)
    casts = rng.uniform(-amount, amount, (1000, 2))

    def apply(t: int, rgb: np.ndarray) -> np.ndarray:
        ycc = rgb_to_ycc(rgb)
        ycc[..., 1:] += casts[t]
        return ycc_to_rgb(ycc)

    return apply


def breathing(amount: float = 0.12, period: float = 4.0) -> Flicker:
    """A soft region in the left half whose brightness swells and falls."""

    def apply(t: int, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        blob = np.exp(-(((xx - w * 0.3) / (w * 0.18)) ** 2 + ((yy - h * 0.5) / (h * 0.3)) ** 2))
        gain = 1 + amount * np.sin(2 * np.pi * t / period) * blob
        return rgb * gain[..., None]

    return apply


def ramp(total: float = 0.5, n: int = N) -> Flicker:
    """A slow exposure ramp (real lighting change): brightness rises steadily by ``total``."""

    def apply(t: int, rgb: np.ndarray) -> np.ndarray:
        return rgb * (0.7 + total * t / max(1, n - 1))

    return apply


def write(path: str, frames, *, fps: int = 12, audio: bool = False, crf: int = 4, deep: bool = False) -> None:
    """Encode float RGB frames to ``path`` (x264 at high quality, bt709 tags, optional AAC tone)."""
    out = av.open(path, "w")
    v = out.add_stream("libx264", rate=fps)
    frames = iter(frames)
    first = next(frames)
    v.height, v.width = first.shape[:2]
    v.pix_fmt = "yuv420p10le" if deep else "yuv420p"
    v.options = {"crf": str(crf), "preset": "veryfast"}
    cc = v.codec_context
    cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range = 1, 1, 1, 1
    a = None
    if audio:
        a = out.add_stream("aac", rate=44100)
        a.layout = "mono"
    n = 0
    for rgb in [first, *frames]:
        rgb = np.clip(rgb, 0, 1)
        if deep:
            frame = av.VideoFrame.from_ndarray((rgb * 65535 + 0.5).astype(np.uint16), format="rgb48le")
        else:
            frame = av.VideoFrame.from_ndarray((rgb * 255 + 0.5).astype(np.uint8), format="rgb24")
        frame.pts = n
        frame.time_base = Fraction(1, fps)
        for pkt in v.encode(frame):
            out.mux(pkt)
        n += 1
    for pkt in v.encode():
        out.mux(pkt)
    if a is not None:
        samples = int(44100 * n / fps)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 44100)).astype(np.float32)[None, :]
        for i in range(0, samples, 1024):
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, i : i + 1024]), format="fltp", layout="mono")
            af.sample_rate = 44100
            af.pts = i
            af.time_base = Fraction(1, 44100)
            for pkt in a.encode(af):
                out.mux(pkt)
        for pkt in a.encode():
            out.mux(pkt)
    out.close()


def flickered(flicker: Flicker | None, **scene) -> Iterator[np.ndarray]:
    for t, rgb in enumerate(moving_scene(**scene)):
        yield rgb if flicker is None else flicker(t, rgb)


def load(path: str) -> list[np.ndarray]:
    """Decode a (tiny) clip to float RGB frames in [0, 1]."""
    from flickerd.media import iter_frames

    frames = []
    for f in iter_frames(path, deep=True):
        frames.append(f.image.astype(np.float32) / 65535.0)
    return frames


def channel_means(frames: list[np.ndarray]) -> np.ndarray:
    """(N, 3) per-frame means of Y, Cb, Cr."""
    return np.array([rgb_to_ycc(f).reshape(-1, 3).mean(0) for f in frames])


def second_difference(series: np.ndarray) -> float:
    """Mean |x_t − (x_{t−1}+x_{t+1})/2|: flicker scores high, ramps and fades score 0."""
    return float(np.mean(np.abs(series[1:-1] - 0.5 * (series[:-2] + series[2:]))))


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    mse = np.mean([np.mean((x - y) ** 2) for x, y in zip(a, b, strict=True)])
    return float(10 * np.log10(1.0 / max(mse, 1e-12)))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of the luma of two float RGB frames (Gaussian window, σ = 1.5)."""
    x, y = rgb_to_ycc(a)[..., 0].astype(np.float64), rgb_to_ycc(b)[..., 0].astype(np.float64)
    c1, c2 = 0.01**2, 0.03**2
    blur = lambda z: cv2.GaussianBlur(z, (0, 0), 1.5)  # noqa: E731
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def faststart(src: str, dst: str) -> bytes:
    """Remux ``src`` with its index in front (``-movflags +faststart``) and return the bytes."""
    import subprocess

    from flickerd.media.ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", src, "-c", "copy", "-movflags", "+faststart", dst], check=True)
    with open(dst, "rb") as fh:
        return fh.read()

"""Small real clips for media tests, encoded with PyAV: a moving gradient with known values."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np


def gradient_frame(i: int, w: int, h: int) -> np.ndarray:
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    r = (x + 4 * i) % 256
    g = np.broadcast_to(y, (h, w))
    b = np.full((h, w), (i * 16) % 256, np.float32)
    return np.dstack([r.repeat(h, 0), g, b]).astype(np.uint8)


def make_clip(
    path,
    *,
    frames: int = 12,
    w: int = 64,
    h: int = 48,
    fps: int = 12,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: bool = False,
    bt709: bool = False,
    fmt: str | None = None,
) -> str:
    path = str(path)
    out = av.open(path, "w", format=fmt)
    v = out.add_stream(codec, rate=fps)
    v.width, v.height, v.pix_fmt = w, h, pix_fmt
    if bt709:
        cc = v.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range = 1, 1, 1, 1
    a = None
    if audio:
        a = out.add_stream("aac", rate=44100)
        a.layout = "mono"
    for i in range(frames):
        for p in v.encode(av.VideoFrame.from_ndarray(gradient_frame(i, w, h), format="rgb24")):
            out.mux(p)
    if a is not None:
        n = int(44100 * frames / fps) // 1024 + 1
        for k in range(n):
            t = (np.arange(1024) + k * 1024) / 44100
            af = av.AudioFrame.from_ndarray((0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = 44100, k * 1024, Fraction(1, 44100)
            for p in a.encode(af):
                out.mux(p)
        for p in a.encode():
            out.mux(p)
    for p in v.encode():
        out.mux(p)
    out.close()
    return path


def make_webp(path, *, frames: int = 8, w: int = 64, h: int = 48, fps: int = 12) -> str:
    from PIL import Image

    ims = [Image.fromarray(gradient_frame(i, w, h)) for i in range(frames)]
    ims[0].save(str(path), save_all=True, append_images=ims[1:], duration=round(1000 / fps), loop=0, lossless=True)
    return str(path)

"""Other forms of codec damage than one heavy x264 encode: a stress set for the real-render bench.

The bench's committed ``codec`` kind is one x264 encode at CRF 45 (strength 1) or 39 (0.5), one
keyframe in a 48-frame clip: blocking on the 8×8/16×16 grid, nothing else. Published video is also
damaged in other ways, each of which the diagnosis must still call codec damage, not generative
flicker (``python -m bench real_renders --codec-forms``, fit side; not in the committed set):

- ``codec_gop``: the same CRF with a keyframe every 6 frames (streaming segments, low-latency
  exports): the quality pumps at each keyframe.
- ``codec_rescale``: a re-upload: the render halved, encoded at the CRF, decoded, doubled and encoded
  again at the bench's normal CRF: soft 16×16 blocks off the final encode's grid, generation loss.
- ``codec_mpeg4``: MPEG-4 part 2 (no deblocking filter) at a high quantiser: hard 8×8 blocks.
- ``codec_palette``: a GIF-like conversion: a fixed palette of ``2 ** (8 - 4 * strength)`` levels per
  channel (16 at strength 1, 64 at 0.5), no dither: banding, then the normal encode.
- ``codec_chroma``: the CRF with the chroma quantiser raised 12 steps: 4:2:0 chroma blocks and smear.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction

import av
import cv2
import numpy as np

from flickerd.media.writer import reproducible
from flickerd.synth.corpus import HIGH_CRF, NORMAL_CRF

FORMS = ("codec_gop", "codec_rescale", "codec_mpeg4", "codec_palette", "codec_chroma")
GOP = 6  # frames between keyframes (codec_gop)
CHROMA_OFFSET = 12  # x264 chroma QP offset (codec_chroma)
MPEG4_Q = 31  # MPEG-4 part 2 quantiser at strength 1 (its worst); 0.5 halves the distance from 2


def crf(strength: float) -> int:
    """As ``real.Variant.crf``'s codec kind: CRF 45 at strength 1, about -6 per halving."""
    return int(round(HIGH_CRF + 6 * math.log2(max(strength, 1 / 64))))


def write_video(images, path: str | os.PathLike, codec: str, options: dict[str, str], fps: float) -> str:
    """RGB uint8 frames encoded with ``codec`` (yuv420p, even size, x264 made reproducible; ``threads``
    1 unless ``options`` say otherwise) at ``path``; returns the path."""
    path = os.fspath(path)
    with av.open(path, "w") as out:
        s = None
        for img in images:
            if s is None:
                s = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
                s.height, s.width = img.shape[0] - img.shape[0] % 2, img.shape[1] - img.shape[1] % 2
                s.pix_fmt = "yuv420p"
                s.options = reproducible(codec, {"threads": "1", **options})
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[: s.height, : s.width]), format="rgb24")
            for p in s.encode(frame):
                out.mux(p)
        if s is None:
            raise ValueError("write_video: no frames")
        for p in s.encode():
            out.mux(p)
    return path


def _decode(path: str) -> list[np.ndarray]:
    with av.open(path) as f:
        return [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]


def encode(form: str, strength: float, images: list[np.ndarray], path: str | os.PathLike, fps: float) -> str:
    """Encode ``images`` (RGB uint8) at ``path`` with codec damage ``form`` at ``strength``."""
    path = os.fspath(path)
    x264 = {"crf": str(crf(strength)), "preset": "medium"}
    if form == "codec_gop":
        return write_video(images, path, "libx264", {**x264, "g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0"}, fps)
    if form == "codec_chroma":
        return write_video(images, path, "libx264", {**x264, "chromaoffset": str(CHROMA_OFFSET)}, fps)
    if form == "codec_mpeg4":
        q = int(round(2 + (MPEG4_Q - 2) * strength))
        return write_video(images, path, "mpeg4", {"qmin": str(q), "qmax": str(q), "g": "250"}, fps)
    if form == "codec_rescale":
        h, w = images[0].shape[:2]
        small = [cv2.resize(im, (w // 4 * 2, h // 4 * 2), interpolation=cv2.INTER_AREA) for im in images]
        tmp = path + ".half.mp4"
        try:
            write_video(small, tmp, "libx264", x264, fps)
            big = [cv2.resize(im, (w, h), interpolation=cv2.INTER_LINEAR) for im in _decode(tmp)]
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return write_video(big, path, "libx264", {"crf": str(NORMAL_CRF), "preset": "medium"}, fps)
    if form == "codec_palette":
        levels = int(round(2 ** (8 - 4 * strength)))
        step = 256 / levels
        quant = [np.clip((np.floor(im / step) + 0.5) * step, 0, 255).astype(np.uint8) for im in images]
        return write_video(quant, path, "libx264", {"crf": str(NORMAL_CRF), "preset": "medium"}, fps)
    raise ValueError(f"unknown codec form {form!r}")

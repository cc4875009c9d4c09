"""Animated WebP through Pillow: the libavcodec that PyAV bundles cannot decode animated WebP.

Pillow decodes one frame at a time (``seek``), so reading stays streaming.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from typing import TYPE_CHECKING

from flickerd.errors import CorruptInput, NotAVideo

if TYPE_CHECKING:
    import numpy as np


def is_webp(path: str) -> bool:
    from flickerd.errors import UnsafeInput
    from flickerd.media.guarded import InputKind, open_input

    try:
        with open_input(path, InputKind.VIDEO) as fh:  # a pipe named .webp must not block this
            head = fh.read(12)
    except (OSError, UnsafeInput):
        return False
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


# WebP and GIF store whole milliseconds per frame: 24 fps arrives as 41 or 42 ms.
COMMON_RATES = (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001),
                *(Fraction(r) for r in (8, 10, 12, 15, 16, 20, 24, 25, 30, 48, 50, 60)))


def snap_rate(fps: float) -> Fraction:
    """The common frame rate within 2.5% of ``fps``, else ``fps`` itself."""
    best = min(COMMON_RATES, key=lambda r: abs(float(r) - fps))
    return best if abs(float(best) - fps) <= 0.025 * fps else Fraction(fps).limit_denominator(1001)


def _open(path: str):
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(path)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise CorruptInput(f"{path}: the WebP file cannot be opened ({exc}).") from exc


def probe_webp(path: str) -> dict:
    """Width, height, frame count and frame rate of an (animated) WebP."""
    im = _open(path)
    try:
        n = int(getattr(im, "n_frames", 1))
        if n < 1:
            raise NotAVideo(f"{path}: the WebP file holds no frame.")
        im.seek(0)
        im.load()
        ms = int(im.info.get("duration") or 0) or 40  # stills and missing durations: 25 fps
        rate = snap_rate(1000.0 / ms)
        return {
            "width": im.size[0],
            "height": im.size[1],
            "frames": n,
            "rate": rate,
            "duration": n * ms / 1000.0,
            "pix_fmt": "rgba" if im.mode == "RGBA" else "rgb24",
        }
    except (OSError, ValueError, EOFError) as exc:
        raise CorruptInput(f"{path}: the WebP file is damaged ({exc}).") from exc
    finally:
        im.close()


def iter_webp(path: str, size: tuple[int, int], *, gray: bool, deep: bool) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield (index, time_s, image) at ``size`` = (w, h); images as ``reader.iter_frames`` gives them."""
    import cv2  # here, so that probing (``is_webp``) never loads OpenCV
    import numpy as np

    im = _open(path)
    try:
        t_ms = 0
        for i in range(int(getattr(im, "n_frames", 1))):
            im.seek(i)
            im.load()
            rgb = np.asarray(im.convert("RGB"))
            if rgb.shape[1] != size[0] or rgb.shape[0] != size[1]:
                rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            image = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if gray else rgb
            if deep:
                image = image.astype(np.uint16) * 257
            yield i, t_ms / 1000.0, image
            t_ms += int(im.info.get("duration") or 40)
    except (OSError, ValueError, EOFError) as exc:
        raise CorruptInput(f"{os.fspath(path)}: decoding the WebP failed ({exc}).") from exc
    finally:
        im.close()

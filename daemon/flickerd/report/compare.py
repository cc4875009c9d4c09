"""``NAME.compare.mp4``: original | fixed side by side, labelled, slowed down — how a person judges a fix.

Streams both files (one frame of each in memory). When the fixed clip has more frames
(interpolation), each of its frames is shown next to the source frame at the same time.
"""

from __future__ import annotations

import dataclasses
import os
from fractions import Fraction

import cv2
import numpy as np

from flickerd.media.probe import probe
from flickerd.media.reader import iter_frames
from flickerd.media.writer import EncodeSettings, VideoWriter

DEFAULT_SPEED = 0.5
MAX_WIDTH = 960  # px, both panels together
GAP = 4  # px between panels
ENCODE = EncodeSettings(crf=20, preset="veryfast", pix_fmt="yuv420p", codec="libx264")


def _panel_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    s = min(1.0, (max_width - GAP) / 2 / width)
    w = max(16, int(round(width * s)))
    h = max(16, int(round(height * s)))
    return w - w % 2, h - h % 2


def _label(image: np.ndarray, text: str) -> None:
    scale = max(0.35, image.shape[1] / 640)
    thick = max(1, int(round(scale * 1.5)))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    cv2.rectangle(image, (0, 0), (tw + 8, th + base + 8), (0, 0, 0), -1)
    cv2.putText(image, text, (4, th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)


def write_compare(path: str, source: str, fixed: str, *, speed: float = DEFAULT_SPEED, max_width: int = MAX_WIDTH,
                  labels: tuple[str, str] = ("original", "fixed")) -> str:
    """Write the side-by-side clip at ``speed`` × real time via a temp name; returns ``path``."""
    info_src, info_fix = probe(source), probe(fixed)
    pw, ph = _panel_size(info_src.width, info_src.height, max_width)
    ratio = (info_fix.fps / info_src.fps) if info_src.fps else 1.0
    rate = Fraction(info_fix.fps_num, info_fix.fps_den) * Fraction(speed).limit_denominator(100)
    size = (2 * pw + GAP, ph)
    # Colour metadata and audio of the source do not apply to this drawn clip.
    meta = dataclasses.replace(info_src, has_audio=False, color_range=1, color_primaries=1, color_trc=1,
                               colorspace=1, metadata={})
    root, ext = os.path.splitext(path)
    tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(root)}.tmp{ext or '.mp4'}")
    src_iter = iter_frames(source)
    src_frame = None
    src_index = -1
    try:
        with VideoWriter(tmp, meta, settings=ENCODE, fps=rate, size=size, copy_audio=False) as writer:
            for i, f in enumerate(iter_frames(fixed)):
                want = min(int(i / ratio + 1e-6), max(0, info_src.frame_count - 1)) if ratio > 0 else i
                while src_index < want:
                    nxt = next(src_iter, None)
                    if nxt is None:
                        break
                    src_frame, src_index = nxt.image, src_index + 1
                canvas = np.zeros((ph, size[0], 3), np.uint8)
                left = cv2.resize(src_frame, (pw, ph), interpolation=cv2.INTER_AREA) if src_frame is not None else None
                right = cv2.resize(f.image, (pw, ph), interpolation=cv2.INTER_AREA)
                if left is not None:
                    _label(left, labels[0])
                    canvas[:, :pw] = left
                _label(right, labels[1])
                canvas[:, pw + GAP:] = right
                writer.write(canvas)
        os.replace(tmp, path)
    finally:
        src_iter.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path

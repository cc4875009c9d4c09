"""``NAME.compare.mp4``: original | fixed side by side, labelled — how a person judges a fix.

Each half keeps the source's resolution up to half of ``max_width``; the clip plays at the
source's rate × ``speed``. With ``zoom`` a second row shows both halves' region of most flicker
magnified: a first pass at thumbnail size finds where the fix changed the frame-to-frame change
the most (motion is in both files and cancels; flicker is only in the source), and a box marks
that region on the top row. Streams both files (one frame of each in memory). When the fixed
clip has more frames (interpolation), each of its frames is shown next to the source frame at
the same time, and the zoom follows the source's own frame-to-frame change.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from fractions import Fraction

import cv2
import numpy as np

from flickerd.media.probe import probe
from flickerd.media.reader import iter_frames
from flickerd.media.writer import EncodeSettings, VideoWriter
from flickerd.quality.change import MAP_SIDE, ChangeMap
from flickerd.report.settings import DEFAULT_COMPARE_MAX_WIDTH, DEFAULT_COMPARE_SPEED, DEFAULT_COMPARE_ZOOM

GAP = 4  # px between panels
MAP_SHARE = 0.25  # of the clip's making: the first pass (progress and ETA)
# A preview, not the deliverable: on the Wan render's 1668x964 canvas superfast took 2.1 CPU-s where
# veryfast took 3.2, at the same PSNR to the canvas (36.7 dB) and no more frame-to-frame coding
# noise; the file is about 30% larger. (ultrafast: 1.1 CPU-s but 2.7x the file, noisier in time.)
ENCODE = EncodeSettings(crf=20, preset="superfast", pix_fmt="yuv420p", codec="libx264")
BOX_COLOUR = (255, 214, 0)


@dataclasses.dataclass(frozen=True, slots=True)
class Layout:
    """Panel size and the zoom box, in source pixels (``box`` None: no zoom row)."""

    panel: tuple[int, int]  # w, h of one half
    box: tuple[int, int, int, int] | None  # x, y, w, h of the region shown magnified

    @property
    def size(self) -> tuple[int, int]:
        pw, ph = self.panel
        return 2 * pw + GAP, ph * (2 if self.box else 1) + (GAP if self.box else 0)


def panel_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """One half at the source's size, shrunk only to fit two of them (and the gap) in ``max_width``."""
    s = min(1.0, (max_width - GAP) / 2 / width)
    w = max(16, int(round(width * s)))
    h = max(16, int(round(height * s)))
    return w - w % 2, h - h % 2


def flicker_box(change: np.ndarray, width: int, height: int, zoom: float) -> tuple[int, int, int, int]:
    """The ``1/zoom``-sized box (source pixels) holding the most of ``change`` (a low-resolution map)."""
    bw, bh = max(2, int(round(width / zoom))), max(2, int(round(height / zoom)))
    mh, mw = change.shape
    kw, kh = max(1, round(mw * bw / width)), max(1, round(mh * bh / height))
    sums = cv2.boxFilter(change.astype(np.float64), -1, (kw, kh), normalize=False, anchor=(0, 0),
                         borderType=cv2.BORDER_CONSTANT)
    sums[:, mw - kw + 1:] = -1  # boxes that would stick out of the frame
    sums[mh - kh + 1:, :] = -1
    my, mx = np.unravel_index(int(np.argmax(sums)), sums.shape)
    x = min(width - bw, int(round(mx * width / mw)))
    y = min(height - bh, int(round(my * height / mh)))
    return x - x % 2, y - y % 2, bw - bw % 2, bh - bh % 2


def change_map(source: str, fixed: str, same_timing: bool,
               progress: Callable[[int], None] | None = None) -> np.ndarray | None:
    """Summed |Δsource − Δfixed| between consecutive frames at ``MAP_SIDE`` (|Δsource| when the timing differs);
    ``progress`` gets the number of source frames read."""
    change = ChangeMap()
    src = iter_frames(source, max_side=MAP_SIDE, gray=True)
    fix = iter_frames(fixed, max_side=MAP_SIDE, gray=True) if same_timing else None
    try:
        for i, a in enumerate(src):
            if progress is not None:
                progress(i)
            b = None
            if fix is not None:
                b = next(fix, None)
                if b is None:
                    break
            change.add(a.image, b.image if b is not None else None)
    finally:
        src.close()
        if fix is not None:
            fix.close()
    return change.total


def layout(source: str, fixed: str, *, max_width: int, zoom: float,
           progress: Callable[[int], None] | None = None, change: np.ndarray | None = None) -> Layout:
    """``change``: the map verification made (``quality.change``); None decodes both files for it."""
    info_src, info_fix = probe(source), probe(fixed)
    panel = panel_size(info_src.width, info_src.height, max_width)
    if not zoom:
        return Layout(panel, None)
    if change is None:
        change = change_map(source, fixed, info_src.frame_count == info_fix.frame_count, progress)
    if change is None or not np.any(change):
        change = np.ones((9, 16))  # nothing moved differently: the centre
    return Layout(panel, flicker_box(change, info_src.width, info_src.height, zoom))


def _label(image: np.ndarray, text: str) -> None:
    scale = max(0.4, min(1.2, image.shape[1] / 640))
    thick = max(1, int(round(scale * 1.5)))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    cv2.rectangle(image, (0, 0), (tw + 8, th + base + 8), (0, 0, 0), -1)
    cv2.putText(image, text, (4, th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)


def write_compare(path: str, source: str, fixed: str, *, speed: float = DEFAULT_COMPARE_SPEED,
                  max_width: int = DEFAULT_COMPARE_MAX_WIDTH, zoom: float = DEFAULT_COMPARE_ZOOM,
                  labels: tuple[str, str] = ("original", "fixed"),
                  progress: Callable[[float], None] | None = None, change: np.ndarray | None = None,
                  frames: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]] | None = None) -> str:
    """Write the side-by-side clip at ``speed`` × the source's rate via a temp name; returns ``path``.

    ``progress`` gets the fraction done (it may raise to stop the job: the temp file is removed).
    ``change``: the zoom's change map when verification made it (see ``layout``). ``frames``: every
    (source, fixed) frame pair as decoded, when verification kept them (``media.spill``: the same
    arrays, so the same clip); used only when both files have the same rate, else both are decoded.
    """
    info_src, info_fix = probe(source), probe(fixed)
    report = progress or (lambda f: None)
    count = max(info_fix.frame_count, 1)
    share = MAP_SHARE if zoom and change is None else 0.0
    lay = layout(source, fixed, max_width=max_width, zoom=zoom, change=change,
                 progress=lambda i: report(share * min(1.0, i / max(info_src.frame_count, 1))))
    pw, ph = lay.panel
    ratio = (info_fix.fps / info_src.fps) if info_src.fps else 1.0
    rate = Fraction(info_fix.fps_num, info_fix.fps_den) * Fraction(speed).limit_denominator(100)
    width, height = lay.size
    # Colour metadata and audio of the source do not apply to this drawn clip.
    meta = dataclasses.replace(info_src, has_audio=False, color_range=1, color_primaries=1, color_trc=1,
                               colorspace=1, metadata={})
    root, ext = os.path.splitext(path)
    tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(root)}.tmp{ext or '.mp4'}")
    kept = frames is not None and ratio == 1
    pairs = frames() if kept else _decoded_pairs(source, fixed, ratio, info_src.frame_count)
    try:
        with VideoWriter(tmp, meta, settings=ENCODE, fps=rate, size=(width, height), copy_audio=False) as writer:
            for i, (src_frame, fixed_frame) in enumerate(pairs):
                writer.write(_canvas(src_frame, fixed_frame, lay, labels, zoom, (info_src.width, info_src.height)))
                report(share + (1.0 - share) * min(1.0, (i + 1) / count))
        os.replace(tmp, path)
    finally:
        pairs.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _decoded_pairs(source: str, fixed: str, ratio: float,
                   src_count: int) -> Iterator[tuple[np.ndarray | None, np.ndarray]]:
    """Each fixed frame with the source frame shown beside it (the one at its time), both decoded."""
    src_iter = iter_frames(source)
    src_frame = None
    src_index = -1
    try:
        for i, f in enumerate(iter_frames(fixed)):
            want = min(int(i / ratio + 1e-6), max(0, src_count - 1)) if ratio > 0 else i
            while src_index < want:
                nxt = next(src_iter, None)
                if nxt is None:
                    break
                src_frame, src_index = nxt.image, src_index + 1
            yield src_frame, f.image
    finally:
        src_iter.close()


def _canvas(src: np.ndarray | None, fixed: np.ndarray, lay: Layout, labels: tuple[str, str], zoom: float,
            src_size: tuple[int, int]) -> np.ndarray:
    pw, ph = lay.panel
    width, height = lay.size
    canvas = np.zeros((height, width, 3), np.uint8)
    for k, frame in enumerate((src, fixed)):
        if frame is None:
            continue
        frame = _to_source_size(frame, src_size)
        top = cv2.resize(frame, (pw, ph), interpolation=cv2.INTER_AREA) if frame.shape[:2] != (ph, pw) else frame.copy()
        x0 = k * (pw + GAP)
        if lay.box is not None:
            x, y, w, h = lay.box
            crop = cv2.resize(frame[y:y + h, x:x + w], (pw, ph), interpolation=cv2.INTER_CUBIC)
            _label(crop, f"{labels[k]}: zoom x{zoom:g}, region of most flicker")
            canvas[ph + GAP:, x0:x0 + pw] = crop
            s = pw / src_size[0]
            cv2.rectangle(top, (int(x * s), int(y * s)), (int((x + w) * s) - 1, int((y + h) * s) - 1), BOX_COLOUR, 2)
        _label(top, labels[k])
        canvas[:ph, x0:x0 + pw] = top
    return canvas


def _to_source_size(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A fixed frame at the source's size (encoders may crop odd sizes by a pixel)."""
    w, h = size
    if frame.shape[1] == w and frame.shape[0] == h:
        return frame
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)

"""Seams of long clips placed again on every frame around them (issue 23: the sampled regime).

Clips longer than ``every_pair_up_to`` frames are diagnosed on sampled pairs, and the decoder
skips the frames nothing predicts from (about every other one): their tone levels are bridged
copies, a flash at a join may never be decoded, and a slow trend across bridged frames costs so
little that the split puts a join a frame or two early. So each seam found there is placed again
on ``window`` frames either side of it (``DiagnoseSettings.seam_window``, opt-in), decoded densely (``planes.read_range``: a seek to the
keyframe before, then every frame), with the statistics a short clip gets (frame means and
spreads, each pair's motion-compensated offset on the thumbnails) and ``drift.placed``. Only the
position moves, and only where the dense frames pass the seam checks: whether there is a seam
was decided on the whole clip. A window must give the main pass's means on the frames both
decoded (the decode is exact), or it is not used. At most ``MAX_WINDOWS`` windows a clip.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import av
import numpy as np

from flickerd.diagnose import drift
from flickerd.diagnose.frames import FrameView, Geometry
from flickerd.errors import InputError
from flickerd.media.planes import read_range

WINDOW = 16  # frames each side of a seam decoded densely, where the settings turn it on
MAX_WINDOWS = 8  # seams a clip places again at most (its first ones): a few windows of decode
SAME_MEANS = 0.01  # grey levels: a window's means on the main pass's frames, or it is not that window


def place(path: str, found: Sequence[int], given: Iterable[int], cuts: Iterable[int], means: np.ndarray | None,
          geometry: Geometry, grid: tuple[int, int], window: int = WINDOW) -> tuple[int, ...]:
    """``found`` seams (not the ``given`` ones) placed on densely decoded frames where frames about
    them were skipped; ``means``: the main pass's (Y, Cb, Cr) frame means (NaN: not decoded), T × 3."""
    given, cut_list = sorted(given), sorted(cuts)
    n = len(means) if means is not None else 0
    out = sorted(found)
    for i, s in enumerate(out[:MAX_WINDOWS]):
        before = [b for b in (*given, *out[:i], *cut_list) if b < s]
        after = [b for b in (*given, *out[i + 1:], *cut_list) if b > s]
        lo = max([0, s - window] + [b + drift.FLASH + 1 for b in before])
        hi = min([n, s + window + drift.FLASH + 1] + after)
        if means is None or np.all(np.isfinite(means[lo:hi])):
            continue  # every frame about it was measured: nothing to add
        stats, misfits = _dense(path, lo, hi, means, geometry, grid)
        if stats is None:
            continue
        local = drift.placed(stats, s - lo, misfits)
        if local is None:
            continue
        t = lo + local
        near = [b for b in (*given, *out[:i], *out[i + 1:]) if abs(b - t) < drift.SEAM_GAP]
        if not near and all(abs(t - c) > drift.FLASH for c in cut_list):
            out[i] = t
    return tuple(sorted(out))


def _dense(path: str, lo: int, hi: int, means: np.ndarray, geometry: Geometry, grid: tuple[int, int]):
    """(``drift.STATS`` per frame lo..hi−1, each pair's misfit) from a dense decode, or (None, None).
    Streams: only the frame before's thumbnails are kept."""
    rows, misfits, offsets = [], [], []
    prev = None
    try:
        for want, planes in enumerate(read_range(path, lo, hi), lo):
            if planes.index != want:
                return None, None
            view = FrameView(planes, geometry)
            m = view.means()
            known = np.all(np.isfinite(means[want]))
            if known and np.max(np.abs(m - means[want])) > SAME_MEANS:
                return None, None  # not the frame the main pass decoded there
            thumbs = view.thumbnails()
            o, mis = None, np.nan
            if prev is not None and float(np.max(np.abs(m - prev[0]))) >= drift.THUMB_STEP:
                o, mis = drift.thumb_pair(prev[1], thumbs, planes.full_range, grid)
            rows.append([*m, *view.spreads()])
            offsets.append(o)
            misfits.append(mis)
            prev = (m, thumbs)
    except (InputError, av.error.FFmpegError, OSError):  # a file that will not seek: the seam stays where it was
        return None, None
    if len(rows) != hi - lo or not np.any(np.all(np.isfinite(means[lo:hi]), axis=1)):
        return None, None
    stats = np.array(rows)
    levels = drift.compensated_levels(stats[:, :3], offsets)
    return np.concatenate([levels, stats[:, 3:]], axis=1), np.array(misfits)

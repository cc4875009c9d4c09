"""Texture flicker off the codec's block grid: the residual a heavy encode leaves is not the render's.

A block codec quantises each 8×8 block of each frame on its own, so a heavily compressed clip
carries block edges and ringing at the block boundaries that change from frame to frame: the grid
stays put while the content moves, and the texture measure's motion-compensated residual counts
them as re-drawn detail. Measured on the 22 truth-set renders of ``python -m bench real_renders``
(48 frames, ≤ 832 px): the pixels within 1 px of either frame's 8-px block boundaries (0.44–0.67
of the tiles' pixels) hold more than their share of the residual energy at x264 CRF 45 (+0.04 to
+0.25, median +0.14; CRF 39: median +0.12), and their share, −0.07 to +0.04, with texture flicker
injected at a normal CRF.
So each pair's texture ratio is also taken on the pixels away from both frames' grids: the
boundary pixels of frame t−1 where they are, those of frame t where the flow brings them. On a
clip the blocking measure calls blocky, that off-grid ratio is the texture score.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from flickerd.quality import texture

PERIOD = 8  # px: the block size of H.264/HEVC/VP9/MPEG-2 luma transforms (at native size)
REACH = 1  # px: a pixel within this distance of a boundary, on either side, is on the grid


def _near_boundary(pos: np.ndarray) -> np.ndarray:
    """Whether integer coordinates ``pos`` lie within ``REACH`` px of a block boundary (at k·PERIOD − ½)."""
    r = np.mod(pos, PERIOD)
    return (r < REACH) | (r >= PERIOD - REACH)


def on_grid(prev_origin: tuple[int, int], cur_origin: tuple[int, int], flow: np.ndarray) -> np.ndarray:
    """Pixels of a window of frame t−1 that lie on the block grid of frame t−1 or, through ``flow``,
    of frame t.

    ``prev_origin``/``cur_origin``: the window's top-left corner (native px) in frame t−1 and in the
    frame-t window it is warped from; ``flow``: the window's flow t−1 → t (h×w×2, x then y), so pixel
    (y, x) of the window comes from frame t's (cur_y + y + flow_y, cur_x + x + flow_x).
    """
    h, w = flow.shape[:2]
    ys = np.arange(h)
    xs = np.arange(w)
    prev = _near_boundary(prev_origin[0] + ys)[:, None] | _near_boundary(prev_origin[1] + xs)[None, :]
    cy = np.rint(cur_origin[0] + ys[:, None] + flow[..., 1]).astype(np.int64)
    cx = np.rint(cur_origin[1] + xs[None, :] + flow[..., 0]).astype(np.int64)
    return prev | _near_boundary(cy) | _near_boundary(cx)


class Ratios:
    """Residual and detail energies summed over a pair's windows: on all reliable pixels and on
    those off the block grid, in the fine band and (when given) in the reference band
    (``texture.bands``)."""

    def __init__(self) -> None:
        # [fine residual, fine detail, reference residual, reference detail, pixels], all pixels / off the grid
        self.all = np.zeros(5)
        self.off = np.zeros(5)

    def add(self, hp_a: np.ndarray, hp_b: np.ndarray, ok: np.ndarray, grid: np.ndarray,
            ref_a: np.ndarray | None = None, ref_b: np.ndarray | None = None) -> None:
        """``hp_a``/``hp_b``: high-pass of frame t−1 and of warped frame t, zero off ``ok``;
        ``ref_a``/``ref_b``: their reference bands, likewise."""
        off = ok & ~grid
        r = cv2.subtract(hp_a, hp_b)
        # residual and mean detail energy maps, fine band then (if given) reference band
        maps = [cv2.multiply(r, r), (cv2.multiply(hp_a, hp_a) + cv2.multiply(hp_b, hp_b)) * 0.5]
        if ref_a is not None:
            r = cv2.subtract(ref_a, ref_b)
            maps += [cv2.multiply(r, r), (cv2.multiply(ref_a, ref_a) + cv2.multiply(ref_b, ref_b)) * 0.5]
        for i, m in enumerate(maps):
            self.all[i] += float(m.sum(dtype=np.float64))
            self.off[i] += float(m[off].sum(dtype=np.float64))
        self.all[4] += int(np.count_nonzero(ok))
        self.off[4] += int(np.count_nonzero(off))

    @staticmethod
    def _one(acc: np.ndarray) -> tuple[float, float]:
        residual, detail, ref_residual, ref_detail, count = acc
        if not count or detail / count < texture.MIN_DETAIL:
            return float("nan"), float("nan")
        fine = residual / detail
        return fine, texture.excess(fine, ref_residual / ref_detail) if ref_detail > 0 else float("nan")

    def ratios(self) -> tuple[float, float]:
        """(all pixels, off the grid); NaN where the pixels hold too little detail to judge."""
        return self._one(self.all)[0], self._one(self.off)[0]

    def excesses(self) -> tuple[float, float]:
        """``texture.excess`` of (all pixels, off the grid); NaN as ``ratios``, or without a reference band."""
        return self._one(self.all)[1], self._one(self.off)[1]


def native_measures(prev_y: np.ndarray, cur_y: np.ndarray, flow: np.ndarray, mask: np.ndarray, scale: float,
                    origins: list[tuple[int, int]]) -> Ratios:
    """The pair's tile energies, both bands, on and off the block grid (native luma planes, the
    analysis flow and mask, native px per analysis px, the tiles' corners)."""
    return tile_measures(prev_y, cur_y, texture.tile_motions(prev_y, cur_y, flow, mask, scale, origins))


def tile_measures(prev_y: np.ndarray, cur_y: np.ndarray, motions: Sequence[texture.TileMotion]) -> Ratios:
    """``native_measures`` on tiles whose motions are found already."""
    acc = Ratios()
    m, t = texture.TILE_MARGIN, texture.TILE
    for motion in motions:
        p, warped = texture.tile_windows(prev_y, cur_y, motion)
        (py, px), (cy, cx) = motion.prev, motion.cur
        grid = on_grid((py + m, px + m), (cy + m, cx + m), motion.flow[m:m + t, m:m + t])
        (fine_a, ref_a), (fine_b, ref_b) = texture.bands(p), texture.bands(warped)
        acc.add(texture.inner(fine_a, motion), texture.inner(fine_b, motion), motion.ok, grid,
                texture.inner(ref_a, motion), texture.inner(ref_b, motion))
    return acc


def frame_measures(prev_y: np.ndarray, warped_y: np.ndarray, mask: np.ndarray, flow: np.ndarray) -> Ratios:
    """``native_measures`` over a whole native-size frame (small clips; ``frame_ratios``' arguments)."""
    keep = mask.astype(np.float32)
    acc = Ratios()
    (fine_a, ref_a), (fine_b, ref_b) = texture.bands(prev_y), texture.bands(warped_y)
    acc.add(cv2.multiply(fine_a, keep), cv2.multiply(fine_b, keep), mask.astype(bool), on_grid((0, 0), (0, 0), flow),
            cv2.multiply(ref_a, keep), cv2.multiply(ref_b, keep))
    return acc


def frame_ratios(prev_y: np.ndarray, warped_y: np.ndarray, mask: np.ndarray, flow: np.ndarray) -> tuple[float, float]:
    """``texture.texture_ratio`` over a whole native-size frame (small clips) and the same off the grid.

    ``prev_y``/``warped_y``: float luma of frame t−1 and of frame t warped onto it; ``flow``: t−1 → t.
    """
    return frame_measures(prev_y, warped_y, mask, flow).ratios()

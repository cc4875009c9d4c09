"""Regenerated fine texture: detail that changes every frame while coarse structure stays.

After flow compensation, tracked detail cancels, so the high-frequency residual is small
compared with the detail itself; regenerated detail is uncorrelated frame to frame and the
residual carries about the energy of both frames' detail. Score per pair: energy of the
high-pass residual / mean energy of the two frames' high-pass detail (≈0–0.5 when tracked,
→2 when fully regenerated).

The detail is 1-3 px: it is judged at the decoder's native resolution, on a few tiles per pair
(the most textured place of each quarter of the frame that the flow covers), each tile's
motion refined there from the analysis flow. Upscaled analysis flow is off by about a native
pixel, which leaves as much high-pass residual as regeneration does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

HIGH_PASS_SIGMA = 1.0
MIN_DETAIL = 6.0  # mean squared detail (grey levels²) below which there is no texture to judge (a high-CRF encode has ~1)


def high_pass(img: np.ndarray) -> np.ndarray:
    return img - cv2.GaussianBlur(img, (0, 0), HIGH_PASS_SIGMA)


# The excess measure (``excess``): the render's own tracking error (sub-pixel misalignment,
# deformation, its own boiling) leaves residual in every band, in proportion; regenerated
# 1-3 px detail leaves it in the finest band only. So the next band up (σ 1 to 2 px) is the
# clip's own reference: what it leaves, REFERENCE_WEIGHT times over, is taken off the fine
# band's ratio. Both are ratios to the band's own detail, so neither contrast nor scale moves them.
REFERENCE_SIGMA = 2.0  # px: the reference band is blur(σ 1) − blur(σ REFERENCE_SIGMA)
REFERENCE_WEIGHT = 6.0  # fine-band residual ratio per reference-band ratio on tracked content


def bands(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``high_pass``'s band and the one just coarser (σ HIGH_PASS_SIGMA to REFERENCE_SIGMA px), one blur shared."""
    low = cv2.GaussianBlur(img, (0, 0), HIGH_PASS_SIGMA)
    return img - low, low - cv2.GaussianBlur(img, (0, 0), REFERENCE_SIGMA)


def excess(fine_ratio: float, reference_ratio: float) -> float:
    """The fine band's residual ratio beyond what the clip's own tracking error explains (NaN stays NaN)."""
    return fine_ratio - REFERENCE_WEIGHT * reference_ratio


def texture_ratio(prev_y: np.ndarray, warped_y: np.ndarray, mask: np.ndarray) -> float:
    """Float luma of frame t−1 and warped frame t; NaN when the pair has no texture to judge."""
    m = np.ascontiguousarray(mask).view(np.uint8)
    count = cv2.countNonZero(m)
    if not count:
        return float("nan")
    # the high-pass images zeroed off the mask: their sums of squares are the masked ones, and
    # OpenCV's vectorised norm takes them ~6x faster than a masked mean
    keep = m.astype(np.float32)
    hp_a = cv2.multiply(high_pass(prev_y), keep)
    hp_b = cv2.multiply(high_pass(warped_y), keep)
    detail = (cv2.norm(hp_a, cv2.NORM_L2SQR) + cv2.norm(hp_b, cv2.NORM_L2SQR)) / (2 * count)
    if detail < MIN_DETAIL:
        return float("nan")
    return float(cv2.norm(hp_a, hp_b, cv2.NORM_L2SQR) / count / detail)


TILE = 96  # side of a tile, native px
TILES = (2, 2)  # one tile per region of this grid: the most textured place the flow covers
TILE_MARGIN = 8  # px around a tile, so the refined flow has room at the tile's border
TILE_PRESET = "medium"  # the finest DIS: ~1 ms a tile and direction; "fast" cost 3 of 60 held-out codec clips and 2 clean synthetic ones


def tile_origins(gray: np.ndarray, mask: np.ndarray, scale: float, native: tuple[int, int]) -> list[tuple[int, int]]:
    """Top-left corners (native px) of the tiles: per region, the most textured place the flow covers.

    ``gray``/``mask``: the analysis-size luma and flow mask; ``scale``: native px per analysis px;
    ``native``: (h, w) of the native frame.
    """
    H, W = native
    t = TILE + 2 * TILE_MARGIN
    if H < t or W < t:
        return []
    ta = max(3, int(round(t / scale)))
    hp = high_pass(gray.astype(np.float32))
    energy = cv2.boxFilter(hp * hp, -1, (ta, ta)) * cv2.boxFilter(mask.astype(np.float32), -1, (ta, ta))
    h, w = gray.shape
    rows, cols = TILES
    out = []
    for r in range(rows):
        for c in range(cols):
            y0, y1 = r * h // rows, (r + 1) * h // rows
            x0, x1 = c * w // cols, (c + 1) * w // cols
            region = energy[y0:y1, x0:x1]
            yy, xx = np.unravel_index(int(np.argmax(region)), region.shape)
            cy, cx = (y0 + yy + 0.5) * scale, (x0 + xx + 0.5) * scale  # the box's centre, native px
            ny = int(min(max(cy - t / 2, 0), H - t)) + TILE_MARGIN
            nx = int(min(max(cx - t / 2, 0), W - t)) + TILE_MARGIN
            out.append((ny, nx))
    return out


@dataclass(frozen=True, slots=True)
class TileMotion:
    """One tile's motion between two frames, refined at native size.

    ``prev``/``cur``: top-left corners (native px, margin included) in frame t−1 and t; ``flow``:
    the refined flow prev → cur over the tile with its margin; ``ok``: the tile's reliable pixels.
    """

    prev: tuple[int, int]
    cur: tuple[int, int]
    flow: np.ndarray
    ok: np.ndarray


@dataclass(slots=True)
class PairMotions:
    """Tile motions one pass found, by each pair's second frame t (t−1 → t), on native frames of
    ``shape`` (h, w): verification's of the input, which the output's re-diagnosis reads instead
    of refining tiles again. At most ``limit`` pairs, the first ones (≈0.3 MB a pair; the diagnosis
    measures every pair of a clip up to ``EVERY_PAIR_UP_TO`` frames, a few spread pairs of longer ones)."""

    limit: int = 129
    shape: tuple[int, int] | None = None
    pairs: dict[int, tuple[TileMotion, ...]] = field(default_factory=dict)

    def add(self, t: int, shape: tuple[int, ...], motions: tuple[TileMotion, ...]) -> None:
        if len(self.pairs) < self.limit:
            self.shape = (int(shape[0]), int(shape[1]))
            self.pairs[t] = motions

    def get(self, t: int, shape: tuple[int, ...]) -> tuple[TileMotion, ...] | None:
        """The pair ending on frame t, if found on frames of this (h, w); None: measure it."""
        return self.pairs.get(t) if self.shape == (shape[0], shape[1]) else None


def tile_motions(prev_y: np.ndarray, cur_y: np.ndarray, flow: np.ndarray, mask: np.ndarray, scale: float,
                 origins: list[tuple[int, int]]) -> list[TileMotion]:
    """Each tile's motion from ``prev_y`` to ``cur_y`` (native luma): the analysis flow's median
    over the tile, refined by DIS at native size. Tiles that leave the frame or have too few
    reliable pixels are left out.

    ``flow``/``mask``: the analysis flow prev → cur and its mask; ``scale``: native px per analysis px.
    """
    from flickerd import flow as of

    H, W = prev_y.shape
    m = TILE_MARGIN
    t = TILE + 2 * m
    out = []
    for ny, nx in origins:
        ay = min(flow.shape[0] - 1, int((ny + TILE / 2) / scale))
        ax = min(flow.shape[1] - 1, int((nx + TILE / 2) / scale))
        r = max(1, int(TILE / scale / 2))
        f = flow[max(0, ay - r):ay + r + 1, max(0, ax - r):ax + r + 1].reshape(-1, 2)
        k = mask[max(0, ay - r):ay + r + 1, max(0, ax - r):ax + r + 1].ravel()
        if not k.any():
            continue
        dx, dy = (np.median(f[k], axis=0) * scale).round().astype(int)
        py, px = ny - m, nx - m
        cy, cx = py + dy, px + dx
        if cy < 0 or cx < 0 or cy + t > H or cx + t > W:
            continue  # the tile moved out of the frame
        p = np.ascontiguousarray(prev_y[py:py + t, px:px + t])
        c = np.ascontiguousarray(cur_y[cy:cy + t, cx:cx + t])
        fw = of.flow(p, c, TILE_PRESET)
        bw = of.flow(c, p, TILE_PRESET)
        ok = of.occlusion_mask(fw, bw)[m:m + TILE, m:m + TILE]
        if int(ok.sum()) < TILE * TILE // 4:
            continue
        out.append(TileMotion((py, px), (cy, cx), fw, ok))
    return out


def tile_windows(prev_y: np.ndarray, cur_y: np.ndarray, motion: TileMotion) -> tuple[np.ndarray, np.ndarray]:
    """Frame t−1's window and frame t's warped onto it (float, margin included) for ``motion``'s tile."""
    from flickerd import flow as of

    t = TILE + 2 * TILE_MARGIN
    (py, px), (cy, cx) = motion.prev, motion.cur
    p = prev_y[py:py + t, px:px + t].astype(np.float32)
    return p, of.warp(cur_y[cy:cy + t, cx:cx + t].astype(np.float32), motion.flow)


def inner(band: np.ndarray, motion: TileMotion) -> np.ndarray:
    """A window's band without its margin, zero off ``motion``'s reliable pixels."""
    m = TILE_MARGIN
    return cv2.multiply(band[m:m + TILE, m:m + TILE], motion.ok.astype(np.float32))


def tile_bands(prev_y: np.ndarray, cur_y: np.ndarray, motion: TileMotion) -> tuple[np.ndarray, np.ndarray]:
    """The high-pass detail of frame t−1 and of frame t warped onto it, over ``motion``'s tile
    (zero off its reliable pixels). Applied to another video's frames (a fix), it judges them
    with the motion of the frames it was found on."""
    p, warped = tile_windows(prev_y, cur_y, motion)
    return inner(high_pass(p), motion), inner(high_pass(warped), motion)


def native_ratio(prev_y: np.ndarray, cur_y: np.ndarray, flow: np.ndarray, mask: np.ndarray, scale: float,
                 origins: list[tuple[int, int]]) -> float:
    """``texture_ratio`` over native-resolution tiles, each with its motion refined at native size.

    ``prev_y``/``cur_y``: native luma planes; ``flow``/``mask``: the analysis flow prev → cur and
    its mask; ``scale``: native px per analysis px. Residual and detail energies are summed over
    the tiles (NaN when none has texture to judge).
    """
    residual = detail = 0.0
    count = 0
    for motion in tile_motions(prev_y, cur_y, flow, mask, scale, origins):
        hp_a, hp_b = tile_bands(prev_y, cur_y, motion)
        residual += cv2.norm(hp_a, hp_b, cv2.NORM_L2SQR)
        detail += (cv2.norm(hp_a, cv2.NORM_L2SQR) + cv2.norm(hp_b, cv2.NORM_L2SQR)) / 2
        count += int(motion.ok.sum())
    if not count or detail / count < MIN_DETAIL:
        return float("nan")
    return float(residual / detail)

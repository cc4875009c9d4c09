"""Local flicker: appearance change the flow does not explain, on a coarse grid.

After warping and removing the global offset, each cell's *level change* is the median of its
pixels' residuals: flicker lifts or lowers a whole region, so it moves most of a cell's pixels
and with them the median; the flow failing on the render's own coherent motion (an object's
edges, a strumming hand, an anime character's outlines, a fish's fins) leaves large residuals
on a minority of the cell's pixels, which moved its mean but do not move its median. Leaving
out the pixels the flow check distrusts did not help: the check misses many of the failures,
and any one it keeps weighs by its size (ToonCrafter as it is: 1.07 on the trusted pixels'
mean, 1.07 on all pixels' mean). On the real-render bench the median took the as-is local
score of ToonCrafter's anime girl from 1.07 to 0.09 and of EasyAnimate's guitarist from 0.73
to 0.23, while the same renders breathing at half strength kept 0.97-1.14 and 0.46-0.94
(README, "Real renders").

The score of a cell is the mean over time of its level's motion-compensated second
difference, like the global measure but per region, with each cell's rare spikes capped at
the level it reaches on a quarter of its frames (``SPIKE_QUANTILE``): a heavy encode
refreshing a block, an occlusion or a tracking slip hits a cell on a frame or two; flicker
recurs, even where a heavy encode freezes a breathing region between bursts. A cell's step
counts only as far as a neighbouring cell steps the same way at the same time (``supported``):
a breathing region spans cells, a flow error on real motion does not. The clip's score is how
far its worst regions stand above its typical one.
"""

from __future__ import annotations

import numpy as np

from flickerd.diagnose.robust import median

SPIKE_QUANTILE = 0.75  # a cell's values over time are capped at this quantile of them
SAMPLE = 2  # the median reads every second pixel each way: a region's level, at the cost of the old cell mean


def cell_levels(residual_y: np.ndarray, grid: tuple[int, int], inside: np.ndarray | None = None) -> np.ndarray:
    """Level change per cell (rows x cols): the median residual of the cell's pixels, grey levels.

    Every pixel counts, those the flow check distrusts too: the median is what the cell's
    pixels mostly agree on, so a flow failure on under half of a cell cannot move it, and a
    region whose brightness changes (just where the flow check tends to fail, more so on
    heavily compressed frames) is still measured.

    Except, with ``inside`` (``flow.inside``), pixels whose content left the view: they have no
    counterpart, and what the warp put there is the frame's border. A cell left with under half
    its pixels is NaN (not measured in this pair). On the fit half's renders panned 60 px/frame,
    those pixels made 4 of 7 clean renders read local flicker 1.35-2.50 (``generative_flicker``).
    """
    rows, cols = grid
    if residual_y.shape[0] >= 4 * SAMPLE * rows and residual_y.shape[1] >= 4 * SAMPLE * cols:
        residual_y = residual_y[::SAMPLE, ::SAMPLE]
        inside = None if inside is None else inside[::SAMPLE, ::SAMPLE]
    h, w = residual_y.shape
    ys = np.linspace(0, h, rows + 1).astype(int)
    xs = np.linspace(0, w, cols + 1).astype(int)
    out = np.empty(grid)
    for i in range(rows):
        band = residual_y[ys[i]:ys[i + 1]]
        for j in range(cols):
            cell = band[:, xs[j]:xs[j + 1]]
            if inside is not None:
                kept = inside[ys[i]:ys[i + 1], xs[j]:xs[j + 1]]
                n = np.count_nonzero(kept)
                if n < kept.size:
                    out[i, j] = median(cell[kept]) if 2 * n >= kept.size else np.nan
                    continue
            out[i, j] = median(cell)  # NaN for an empty cell (a frame under 6 px tall)
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

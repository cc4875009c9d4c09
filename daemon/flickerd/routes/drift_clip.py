"""Clipped black and white at a window join, filled from the reference window (pure).

A window whose exposure fell by o grey levels clipped at black every pixel the first window
had below o, and the affine map that brings it back lifts all of them alike to black + o,
though most were darker (a window that rose clips its highlights at white the same way). The
clipped pixels are the frame's darkest (brightest) share p, so they are given the mean of the
reference window's darkest (brightest) share p of luma instead: the values they most likely
had. A pixel at black that was black in the reference stays there (its share is the
reference's own), and no pixel moves past where the affine map would put it.

Luma in 8-bit grey levels (or code values) throughout; the histograms are of the analysis copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CLIP_NEAR = 1.0  # grey levels: a pixel this close to black (white) is read as clipped (coding noise)
FILL_MIN = 0.5  # grey levels: a frame whose black (white) the map moves less than this is left alone
MAX_SHARE = 0.8  # a frame clipped over more than this share keeps the map's values (too little left to read)


def format_levels(bits: int, limited: bool) -> tuple[float, float]:
    """The format's black and white in grey levels (code values / ((2^bits − 1) / 255), as the route
    reads planes): limited range puts them at 16 and 235 shifted to the bit depth (64 and 940 at
    10 bit, 256 and 3760 at 12), not at 16 and 235 scaled by the unit (white 2.8 codes off at 10 bit,
    13.8 at 12: 0.86 of a grey level)."""
    if not limited:
        return 0.0, 255.0
    unit = ((1 << bits) - 1) / 255.0
    return (16 << (bits - 8)) / unit, (235 << (bits - 8)) / unit


@dataclass(slots=True)
class Tails:
    """Pass one's record: the reference window's luma histogram (frames before ``first``, the
    first seam) and, per frame, the share of its pixels at black and at white."""

    black: float  # the format's black and white in grey levels (``format_levels``; 0 and 255 in full range)
    white: float
    first: int
    reference: np.ndarray = field(default_factory=lambda: np.zeros(256))
    low: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)

    def add(self, t: int, y: np.ndarray) -> None:
        """Frame ``t``'s luma (grey levels, any size)."""
        y = np.asarray(y, np.float32)
        if t < self.first:
            self.reference += np.bincount(np.clip(y + 0.5, 0, 255).astype(np.int64).ravel(), minlength=256)[:256]
        self.low.append(float(np.mean(y <= self.black + CLIP_NEAR)))
        self.high.append(float(np.mean(y >= self.white - CLIP_NEAR)))

    def spread_ratio(self, a: float, b: float) -> float:
        """The ratio of luma spread that clipping alone makes between two windows whose luma sits
        ``a`` and ``b`` grey levels off the reference's (the reference shifted, clipped at black
        and white); 1 without a reference."""
        if self.reference.sum() <= 0:
            return 1.0
        levels = np.arange(256, dtype=np.float64)

        def spread(shift: float) -> float:
            v = np.clip(levels + shift, self.black, self.white)
            m = float(self.reference @ v) / float(self.reference.sum())
            return float(np.sqrt(self.reference @ (v - m) ** 2 / self.reference.sum()))

        sa, sb = spread(a), spread(b)
        return sb / sa if sa > 1e-6 and sb > 1e-6 else 1.0

    def fills(self, t: int) -> tuple[float | None, float | None]:
        """Frame ``t``'s values for its clipped black and white pixels (None: nothing recorded)."""
        if t >= len(self.low) or self.reference.sum() <= 0:
            return None, None
        return share_mean(self.reference, self.low[t]), share_mean(self.reference[::-1], self.high[t], top=True)


def share_mean(hist: np.ndarray, share: float, top: bool = False) -> float | None:
    """The mean grey level of the lowest ``share`` of a 256-bin histogram (``top``: of the
    highest, the histogram given reversed); None for no share."""
    total = float(hist.sum())
    want = share * total
    if want <= 0 or total <= 0:
        return None
    cum = np.cumsum(hist)
    take = np.minimum(hist, np.maximum(0.0, want - (cum - hist)))  # each bin's part of the lowest share
    levels = np.arange(256, dtype=np.float64)
    mean = float(take @ levels / take.sum())
    return 255.0 - mean if top else mean


def filled(x: np.ndarray, mapped: np.ndarray, fills: tuple[float | None, float | None], black: float, white: float,
           unit: float = 1.0) -> np.ndarray:
    """``mapped`` (the affine map of luma plane ``x``, same units: grey levels × ``unit``) with the
    pixels at black (white) in ``x`` given the reference's fill, where the map lifts black (lowers
    white) by at least ``FILL_MIN`` (never below black nor past the map's own value); the other
    pixels then move together so the plane's mean stays the map's. The map brings the frame's mean
    back, but with every clipped pixel at one value it has to lift the rest by too little: the
    clipped pixels moved less than the window's step."""
    lo, hi = fills
    out = mapped
    b, w = black * unit, white * unit
    at_all = np.zeros(np.shape(x), bool)
    if lo is not None:
        at = x <= b + CLIP_NEAR * unit
        if at.any() and float(np.max(mapped[at])) - b >= FILL_MIN * unit:
            out = np.where(at, np.clip(np.float32(lo * unit), b, mapped), out)
            at_all |= at
    if hi is not None:
        at = x >= w - CLIP_NEAR * unit
        if at.any() and w - float(np.min(mapped[at])) >= FILL_MIN * unit:
            out = np.where(at, np.clip(np.float32(hi * unit), mapped, w), out)
            at_all |= at
    share = float(np.mean(at_all))
    if share == 0 or share > MAX_SHARE:
        return mapped
    shift = (float(mapped.mean()) - float(out.mean())) / (1 - share)
    return np.where(at_all, out, out + np.float32(shift))

"""Printing a figure beside its limit so it never reads as that limit (pure).

"only 0.15 (the minimum is 0.15)", "fell by only 10.0%, and it must fall by more than 10%" and a
plot title's "0.04 … threshold of 0.04" each read as a verdict for nothing. ``apart`` is the one
rule the verification reasons (``verify``), a reduction beside its bar (``percent_apart``: the
reasons and the headline, ``report.headline``) and a score beside its threshold (``fmt_pair``: the
plot, the folder report) follow: widen both figures alike until they differ.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def fixed(x: float, places: int) -> str:
    """``x`` with ``places`` decimals (SSIM 0.9500, PSNR 30.00 dB, a percentage 9.96)."""
    return f"{x:.{places}f}"


def significant(x: float, digits: int) -> str:
    """``x`` with ``digits`` significant digits, trailing zeros kept (0.0450, 0.000681), and never in
    e-notation below 1 (a static render's warping error read "9.89e-05" beside "0.00070")."""
    text = f"{x:#.{digits}g}".rstrip(".")
    if "e-" in text and x != 0:
        places = digits - 1 - math.floor(math.log10(abs(x)))
        text = f"{x:.{places}f}"
        if significant_digits(text) > digits:  # 9.996e-05 at 2 digits rounds up to 0.00010
            text = f"{x:.{places - 1}f}"
    return text


def significant_digits(text: str) -> int:
    """Significant digits in a positional number's text ("0.000100" → 3)."""
    return len(text.lstrip("-").replace(".", "").lstrip("0"))


def apart(v: float, other: float, start: int, most: int = 6,
          spell: Callable[[float, int], str] = fixed) -> int:
    """The fewest places (or digits, with ``spell=significant``) from ``start`` up to ``most`` at
    which ``v`` and ``other`` print differently; ``most`` when they never do."""
    n = start
    while n < most and spell(v, n) == spell(other, n):
        n += 1
    return n


PERCENT_MOST_PLACES = 3  # a reduction as a percentage keeps at most 3 decimals (reasons and headline alike)


def percent_apart(reduction: float, bar: float) -> int:
    """Places (1-3) that tell a reduction (a fraction) from its bar as percentages: "fell by only
    9.96%, … more than 10%" rather than "10.0% … more than 10%"."""
    return apart(100 * reduction, 100 * bar, 1, most=PERCENT_MOST_PLACES)


def fmt(v: float) -> str:
    """A score as every report writes it: 2 decimals, or 2 significant digits below 0.01, trailing
    zero kept (0.00070 beside 0.00068, not 0.0007: the digits say the precision, not the value)."""
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 0.01:
        return f"{v:.2f}"
    return significant(v, 2)


def fmt_pair(v: float, other: float) -> tuple[str, str]:
    """``fmt`` of both, or both with the same, larger number of significant digits (3 to 6,
    ``apart``) where they would print alike; at 6 still alike, ``v`` is within a millionth
    of ``other`` and says so."""
    text, theirs = fmt(v), fmt(other)
    if text != theirs or v == other:
        return text, theirs
    digits = apart(v, other, 3, spell=significant)
    mine, theirs = significant(v, digits), significant(other, digits)
    return (mine, theirs) if mine != theirs else (("just over " if v > other else "just under ") + theirs, theirs)

"""Printing a figure beside its limit so it never reads as that limit (pure).

"only 0.15 (the minimum is 0.15)", "fell by only 10.0%, and it must fall by more than 10%" and a
plot title's "0.04 … threshold of 0.04" each read as a verdict for nothing. ``apart`` is the one
rule the verification reasons (``verify``) and the report's score/threshold pairs
(``report.measures.fmt_pair``) follow: widen both figures alike until they differ.
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

"""The one flicker-reduction figure people see (plot title, folder report, ``flickerd fix``'s summary).

Every place that shows a reduction reads it here: verification's ``metrics["headline_measure"]``
and ``["headline_reduction"]`` (``verify.headline``): the measure that fell most among those whose
input was over its noise floor (else the warping error's own change), and its 1 − after/before (a
fraction: 0.45 = 45% less). The daemon's ``job_finished`` line (``headline_measure``,
``headline_reduction``) carries both; ``flickerd_headline_reduction_ratio`` (no label) the
reduction. When that measure is not the warping error, the warping error's own reduction
(``flicker_reduction``) follows it, so the text still says what happened to motion-compensated
change as a whole ("luma flicker -85%, warping error -3%").
"""

from __future__ import annotations

import math
from typing import Any

from flickerd.verify import HEADLINE_MEASURES

WARP = "warp_error"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def flicker_reduction(verification: Any | None) -> float | None:
    """The warping error's reduction (1 − after/before, input's flow); None when none was measured."""
    return _number((getattr(verification, "metrics", None) or {}).get("flicker_reduction"))


def headline(verification: Any | None) -> tuple[str, float] | None:
    """(measure key, reduction) of the headline, or None. A verification without a headline (a
    report from before it existed, an interpolation) gives the warping error's."""
    metrics = getattr(verification, "metrics", None) or {}
    key, value = metrics.get("headline_measure"), _number(metrics.get("headline_reduction"))
    if key in HEADLINE_MEASURES and value is not None:
        return key, value
    warp = flicker_reduction(verification)
    return (WARP, warp) if warp is not None else None


def change_text(label: str, reduction: float) -> str:
    """``luma flicker -45%`` (a reduction shows as a fall). Under 1% it keeps a decimal: a 0.2% fall
    printed as "-0%" reads as a signed zero, and a 0.4% rise as "+0%" as no rise."""
    change = -100 * reduction
    if round(change) != 0:
        return f"{label} {change:+.0f}%"
    return f"{label} {change:+.1f}%" if round(change, 1) != 0 else f"{label} unchanged"


def flicker_change_text(verification: Any | None) -> str | None:
    """``luma flicker -85%, warping error -3%`` (the headline, then the warping error when it is
    another measure), ``warping error -45%``, or None."""
    found = headline(verification)
    if found is None:
        return None
    key, value = found
    parts = [change_text(HEADLINE_MEASURES[key], value)]
    warp = flicker_reduction(verification)
    if key != WARP and warp is not None:
        parts.append(change_text(HEADLINE_MEASURES[WARP], warp))
    return ", ".join(parts)

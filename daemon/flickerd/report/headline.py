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

from flickerd.figures import apart
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


UNCHANGED = 0.05  # a change (in %) under this reads "unchanged"
MOST_PLACES = 2


def change_text(label: str, reduction: float, places: int | None = None) -> str:
    """``luma flicker -45%`` (a reduction shows as a fall). ``places`` (decimals) defaults to
    ``percent_places`` of this figure alone: under 1% it keeps a decimal, since a 0.2% fall printed
    as "-0%" reads as a signed zero, and a 0.4% rise as "+0%" as no rise."""
    change = -100 * reduction
    if abs(change) < UNCHANGED:
        return f"{label} unchanged"
    places = percent_places([reduction])[0] if places is None else places
    return f"{label} {change:+.{places}f}%"


def percent_places(reductions: list[float], limits: tuple[float, ...] = (), least: int = 0) -> list[int]:
    """Decimals (0 to 2) for each figure as a percentage: the fewest at which it reads neither as 0%
    nor as a limit (acceptance's bar) it is not, then more for both of two different figures that
    would still read alike: sample_8_seed2's title said "fine-detail flicker -1%, warping error
    -1%" for 1.22% and 0.61% (qa19 #14). ``least``: decimals to start from."""
    pcts = [100 * r for r in reductions]
    bars = [100 * b for b in limits] + [100.0]  # 99.7% is not "-100%": nothing is left

    def own(p: float) -> int:
        def ok(n: int) -> bool:
            t = f"{abs(p):.{n}f}"
            return float(t) != 0 and not any(t == f"{b:.{n}f}" and round(p - b, 9) != 0 for b in bars)
        return next((n for n in range(least, MOST_PLACES) if ok(n)), MOST_PLACES)

    places = [own(p) for p in pcts]
    for i in range(len(pcts)):
        for j in range(i + 1, len(pcts)):
            if round(pcts[i] - pcts[j], 9) == 0:
                continue
            if f"{pcts[i]:+.{places[i]}f}" == f"{pcts[j]:+.{places[j]}f}":  # then the same places
                places[i] = places[j] = apart(pcts[i], pcts[j], max(places[i], places[j]), MOST_PLACES)
    return places


def _bars(verification: Any | None) -> tuple[float, ...]:
    """Acceptance's bars for a reduction (``min_flicker_reduction``, ``min_texture_flicker_reduction``)
    where the verification carries its thresholds (an object, or a report's dict)."""
    t = getattr(verification, "thresholds", None)
    get = t.get if isinstance(t, dict) else (lambda k: getattr(t, k, None))
    found = (_number(get(k)) for k in ("min_flicker_reduction", "min_texture_flicker_reduction")) if t is not None else ()
    return tuple(b for b in found if b is not None and b > 0)


def change_figures(verification: Any | None) -> list[tuple[str, float, int]]:
    """(measure key, reduction, decimals) of each figure the title gives, in its order: the headline,
    then the warping error when it is another measure; [] without one."""
    found = headline(verification)
    if found is None:
        return []
    key, value = found
    warp = flicker_reduction(verification)
    figures = [(key, value)] + ([(WARP, warp)] if key != WARP and warp is not None else [])
    # a refused fix's reason gives its best fall with a decimal ("fell by only 2.8%"): so does its title
    least = 1 if getattr(verification, "accepted", True) is False else 0
    places = percent_places([v for _, v in figures], _bars(verification), least)
    return [(k, v, n) for (k, v), n in zip(figures, places)]


def change_texts(verification: Any | None) -> list[str]:
    """``["luma flicker -85%", "warping error -3%"]`` (``change_figures``). Decimals by
    ``percent_places``: "-1.2%, -0.6%" rather than "-1%, -1%"."""
    return [change_text(HEADLINE_MEASURES[k], v, n) for k, v, n in change_figures(verification)]


def flicker_change_text(verification: Any | None) -> str | None:
    """``luma flicker -85%, warping error -3%``, ``warping error -45%``, or None (``change_texts``)."""
    return ", ".join(change_texts(verification)) or None

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

from flickerd.figures import PERCENT_MOST_PLACES, apart, percent_apart
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


def _reads_as(fall: float, bar: float, places: int) -> bool:
    """A fall (in %, a rise negative) printed at ``places`` reads as the bar (a fall) without being it:
    compared with the sign, so a rise of 100% is no "-100%"."""
    return f"{fall:+.{places}f}" == f"{bar:+.{places}f}" and round(fall - bar, 9) != 0


def change_text(label: str, reduction: float, places: int | None = None, bars: tuple[float, ...] = ()) -> str:
    """``luma flicker -45%`` (a reduction shows as a fall). ``places`` (decimals) defaults to
    ``percent_places`` of this figure alone: under 1% it keeps a decimal, since a 0.2% fall printed
    as "-0%" reads as a signed zero, and a 0.4% rise as "+0%" as no rise. A figure that at the
    most places still reads as one of ``bars`` (or as 100%) says "fell just under 10%"."""
    change = -100 * reduction
    if abs(change) < UNCHANGED:
        return f"{label} unchanged"
    places = percent_places([reduction], bars)[0] if places is None else places
    near = next((b for b in [100 * b for b in bars] + [100.0] if _reads_as(-change, b, places)), None)
    if near is not None:
        return f"{label} fell just {'under' if -change < near else 'over'} {near:g}%"
    return f"{label} {change:+.{places}f}%"


def percent_places(reductions: list[float], limits: tuple[float, ...] = (), least: int = 0,
                   start: list[int] | None = None) -> list[int]:
    """Decimals (0 to 3) for each figure as a percentage: the fewest at which it reads neither as 0%
    nor as a limit (acceptance's bar, or 100%: something is left) it is not, then more for both of
    two different figures that would still read alike: sample_8_seed2's title said "fine-detail
    flicker -1%, warping error -1%" for 1.22% and 0.61% (qa19 #14). ``least``: decimals to start
    from; ``start``: per figure (a refused fix's headline starts at its reason's)."""
    pcts = [100 * r for r in reductions]
    bars = [100 * b for b in limits] + [100.0]  # 99.7% is not "-100%": nothing is left

    def own(p: float, first: int) -> int:
        def ok(n: int) -> bool:
            return float(f"{abs(p):.{n}f}") != 0 and not any(_reads_as(p, b, n) for b in bars)
        return next((n for n in range(first, PERCENT_MOST_PLACES) if ok(n)), PERCENT_MOST_PLACES)

    places = [own(p, max(least, (start or [])[i] if i < len(start or []) else 0)) for i, p in enumerate(pcts)]
    for i in range(len(pcts)):
        for j in range(i + 1, len(pcts)):
            if round(pcts[i] - pcts[j], 9) == 0:
                continue
            if f"{pcts[i]:+.{places[i]}f}" == f"{pcts[j]:+.{places[j]}f}":  # then the same places
                places[i] = places[j] = apart(pcts[i], pcts[j], max(places[i], places[j]), PERCENT_MOST_PLACES)
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
    # a refused fix's reason gives its best fall with a decimal ("fell by only 2.8%") and the
    # places that tell it from the bar (``figures.percent_apart``): so does its title's headline
    bars = _bars(verification)
    refused = getattr(verification, "accepted", True) is False
    start = [percent_apart(value, max(bars))] if refused and bars else None
    places = percent_places([v for _, v in figures], bars, 1 if refused else 0, start)
    return [(k, v, n) for (k, v), n in zip(figures, places)]


def change_texts(verification: Any | None) -> list[str]:
    """``["luma flicker -85%", "warping error -3%"]`` (``change_figures``). Decimals by
    ``percent_places``: "-1.2%, -0.6%" rather than "-1%, -1%"."""
    bars = _bars(verification)
    return [change_text(HEADLINE_MEASURES[k], v, n, bars) for k, v, n in change_figures(verification)]


def flicker_change_text(verification: Any | None) -> str | None:
    """``luma flicker -85%, warping error -3%``, ``warping error -45%``, or None (``change_texts``)."""
    return ", ".join(change_texts(verification)) or None

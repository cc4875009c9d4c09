"""The one flicker-reduction figure people see (plot title, folder report, ``flickerd fix``'s summary).

Every place that shows a reduction reads it here: verification's ``metrics["flicker_reduction"]``,
1 − after/before of the warping error measured with the input's flow (a fraction: 0.45 = 45%
less). The daemon's log line and ``flickerd_flicker_reduction_ratio`` compute the same
1 − after/before from verification's ``flicker_before``/``flicker_after``.
"""

from __future__ import annotations

import math
from typing import Any


def flicker_reduction(verification: Any | None) -> float | None:
    """The headline reduction as a fraction of the input's flicker; None when none was measured."""
    value = (getattr(verification, "metrics", None) or {}).get("flicker_reduction")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def flicker_change_text(verification: Any | None) -> str | None:
    """``flicker -45%`` (a reduction shows as a fall), or None. Under 1% it keeps a decimal: a
    0.2% fall printed as "-0%" reads as a signed zero, and a 0.4% rise as "+0%" as no rise."""
    value = flicker_reduction(verification)
    if value is None:
        return None
    change = -100 * value
    if round(change) != 0:
        return f"flicker {change:+.0f}%"
    return f"flicker {change:+.1f}%" if round(change, 1) != 0 else "flicker unchanged"

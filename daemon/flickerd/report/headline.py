"""The one flicker-reduction figure people see (plot title, folder report, ``flickerd fix``'s summary).

Every place that shows a reduction reads it here, so its definition can change in one spot:
today it is verification's ``metrics["flicker_reduction"]`` (a fraction: 0.45 = 45% less).
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
    """``flicker −45%`` (a reduction shows as a fall), or None."""
    value = flicker_reduction(verification)
    return None if value is None else f"flicker {-100 * value:+.0f}%"

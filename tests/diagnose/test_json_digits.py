"""Reports keep the digits of small figures: a warping error of 7e-4 is not cut to 3 digits."""

from __future__ import annotations

import math

from flickerd.diagnose.model import FramePoint, json_float
from flickerd.verify import _round


def test_small_figures_keep_six_significant_digits():
    assert FramePoint(index=1, time_s=0.125, warp_error=7.0381234e-4).to_json()["warp_error"] == 0.000703812
    assert _round(1.2345678e-5) == 1.23457e-05  # verification's metrics and series
    assert _round(41.76678349) == 41.766783 and _round(-7.1777261) == -7.177726  # larger ones as before
    assert _round(float("nan")) is None and math.isnan(json_float(float("nan")))

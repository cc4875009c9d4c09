"""The frame-level target of ``normalize``: a wide window for random flicker, a near one for real curves."""

from __future__ import annotations

import numpy as np

from flickerd.routes import normalize_fit as fit
from flickerd.routes.normalize import NormalizeParams

TIMES = np.arange(-15, 16, dtype=np.float32)


def test_random_flicker_is_averaged_over_the_wide_window():
    rng = np.random.default_rng(3)
    errs_two, errs_near = [], []
    for _ in range(200):
        levels = rng.choice([-1.0, 1.0], (31, 1)) * rng.uniform(0.4, 1.0, (31, 1))  # the flicker; truth is 0
        values = (levels - levels[15]).astype(np.float32)  # relative to frame t, as the normalizer gives them
        errs_two.append(float(fit.two_scale(TIMES, values, 9)[0] + levels[15, 0]))
        errs_near.append(float(fit.smooth_at_zero(TIMES[11:20], values[11:20])[0] + levels[15, 0]))
    # the corrected level's error: clearly below what the near window alone leaves
    assert np.sqrt(np.mean(np.square(errs_two))) < 0.8 * np.sqrt(np.mean(np.square(errs_near)))


def test_a_real_curved_change_of_level_is_followed():
    curve = (0.004 * TIMES**2)[:, None].astype(np.float32)  # a light slowly coming on and off: not flicker
    wide = fit.smooth_at_zero(TIMES, curve)[0]
    both = fit.two_scale(TIMES, curve, 9)[0]
    assert abs(wide) > 0.2  # a straight line over ±15 frames misses the curve at its centre…
    assert abs(both) < 0.25 * abs(wide)  # …the two-scale target stays with it


def test_defaults_use_a_wide_frame_window_and_a_short_cell_window():
    p = NormalizeParams()
    assert p.global_window > p.window
    assert NormalizeParams.from_mapping({"global_window": 4}).global_window == 4

"""The pure arithmetic under normalize: colour transform, the robust line, smooth fields."""

import numpy as np

from flickerd.routes import normalize_fit as fit


def test_colour_transform_round_trips():
    rgb = np.random.default_rng(0).random((6, 9, 3)).astype(np.float32)
    assert np.abs(fit.ycc_to_rgb(fit.rgb_to_ycc(rgb)) - rgb).max() < 1e-5
    grey = np.full((2, 2, 3), 0.4, np.float32)
    assert np.allclose(fit.rgb_to_ycc(grey)[..., 1:], 0, atol=1e-6)  # no chroma in grey


def test_robust_line_keeps_ramps_and_ignores_a_flash():
    times = np.arange(-4, 5, dtype=np.float32)
    ramp = (0.01 * times)[:, None]
    assert abs(fit.smooth_at_zero(times, ramp)[0]) < 1e-6  # already on the line: no correction
    off_centre = np.arange(0, 9, dtype=np.float32)  # a shot's first frame: all neighbours ahead
    assert abs(fit.smooth_at_zero(off_centre, (0.01 * off_centre)[:, None])[0]) < 1e-6
    # values are each neighbour's level minus frame t's
    bright_t = np.full((9, 1), -0.3, np.float32)
    bright_t[4] = 0.0  # frame t is 0.3 brighter than all its neighbours: darken it by 0.3
    assert abs(fit.smooth_at_zero(times, bright_t)[0] + 0.3) < 0.01
    flash_nearby = np.zeros((9, 1), np.float32)
    flash_nearby[6] = 0.3  # a neighbour flashes: frame t must not follow it
    assert abs(fit.smooth_at_zero(times, flash_nearby)[0]) < 0.01
    rng = np.random.default_rng(1)
    noisy = rng.normal(0, 0.02, (9, 500)).astype(np.float32)
    got = fit.smooth_at_zero(off_centre, noisy - noisy[:1])  # relative to frame t
    # pulled toward the neighbours' level, not extrapolated along a made-up trend
    assert np.std(got + noisy[0]) < 0.6 * np.std(noisy[0])


def test_fields_are_smooth_with_no_block_edges():
    gain = np.ones((3, 3, 4), np.float32)
    bias = np.zeros((3, 3, 4), np.float32)
    bias[0] = np.array([[0.1, -0.1, 0.1, -0.1], [-0.1, 0.1, -0.1, 0.1], [0.1, -0.1, 0.1, -0.1]])  # a checkerboard
    flat = np.full((96, 128, 3), 0.5, np.float32)
    y = fit.rgb_to_ycc(fit.apply(flat, fit.Fields(gain, bias)))[..., 0]
    assert y.max() - y.min() > 0.1  # the correction is there ...
    step = max(np.abs(np.diff(y, axis=0)).max(), np.abs(np.diff(y, axis=1)).max())
    assert step < 0.012  # ... but changes by less than ~3 grey levels per pixel: no edges
    half = fit.apply(flat, fit.Fields(gain, bias), strength=0.5)
    assert np.allclose(fit.rgb_to_ycc(half)[..., 0] - 0.5, (y - 0.5) / 2, atol=1e-5)

"""The fits behind ``normalize``'s targets: adaptive location, the cells' gain regression, the
significance weight of cell corrections, and the pass-through of negligible changes."""

from __future__ import annotations

import numpy as np

from flickerd.routes import normalize_fit as fit
from flickerd.routes import normalize_planes as planes

TIMES = np.arange(-15, 16, dtype=np.float32)


def _rms_errors(draw, trials: int = 300) -> tuple[float, float]:
    """RMS error at frame t of the adaptive and of the plain (mean) wide fit; the truth is 0."""
    rng = np.random.default_rng(5)
    adaptive, plain = [], []
    for _ in range(trials):
        levels = draw(rng)
        values = (levels - levels[15]).astype(np.float32)  # relative to frame t
        adaptive.append(float(fit.smooth_at_zero(TIMES, values, adaptive=True)[0] + levels[15, 0]))
        plain.append(float(fit.smooth_at_zero(TIMES, values)[0] + levels[15, 0]))
    return float(np.sqrt(np.mean(np.square(adaptive)))), float(np.sqrt(np.mean(np.square(plain))))


def test_flicker_that_jumps_between_two_states_is_located_by_its_midrange():
    adaptive, plain = _rms_errors(lambda r: r.choice([-1.0, 1.0], (31, 1)) * r.uniform(0.4, 1.0, (31, 1)))
    assert adaptive < 0.5 * plain, (adaptive, plain)


def test_gaussian_flicker_keeps_the_mean():
    adaptive, plain = _rms_errors(lambda r: r.standard_normal((31, 1)))
    assert adaptive < 1.1 * plain, (adaptive, plain)


def test_a_ramp_survives_the_adaptive_fit():
    ramp = (0.01 * TIMES)[:, None].astype(np.float32)  # a fade: not flicker
    assert abs(fit.smooth_at_zero(TIMES, ramp, adaptive=True)[0]) < 1e-5


def test_the_frame_gain_is_the_slope_of_the_cells_means_and_ignores_a_breathing_cell():
    rng = np.random.default_rng(2)
    mean_t = rng.uniform(0.1, 0.9, (6, 8)).astype(np.float32)
    mean_w = (0.02 + 1.05 * mean_t).astype(np.float32)  # the neighbour: 5 % brighter plus an offset
    mean_w[2, 3] += 0.2  # one cell changes on its own
    got = fit._cell_regression_log_gain(mean_t, mean_w, np.ones((6, 8), np.float32), prior=1e-4)
    assert abs(got - np.log(1.05)) < 0.005, got
    flat = np.full((6, 8), 0.5, np.float32)  # no spread of levels: nothing to say about a gain
    assert np.isnan(fit._cell_regression_log_gain(flat, flat * 1.05, np.ones((6, 8), np.float32), prior=1e-4))


def test_cell_corrections_are_shrunk_unless_they_stand_out_of_the_cells_noise():
    rng = np.random.default_rng(4)
    times = np.arange(-2, 3, dtype=np.float32)
    values = rng.normal(0.0, 0.002, (5, 3, 6, 8)).astype(np.float32)  # estimation noise everywhere
    values -= values[2]  # relative to frame t
    values[:, 0, 2, 3] = [0.04, 0.045, 0.0, 0.04, 0.035]  # a breathing cell: frame t sits 4 % below its neighbours
    got = fit.significant(times, values, z=2.0)
    plain = fit.smooth_at_zero(times, values)
    assert abs(got[0, 2, 3] - plain[0, 2, 3]) < 0.05 * abs(plain[0, 2, 3])  # the real correction stays
    noise = np.delete(np.abs(got[0]).ravel(), 2 * 8 + 3)
    assert noise.mean() < 0.5 * np.delete(np.abs(plain[0]).ravel(), 2 * 8 + 3).mean()


def test_a_negligible_correction_leaves_the_frame_exactly_as_it_was():
    rng = np.random.default_rng(1)
    y = rng.integers(16, 236, (32, 48), dtype=np.uint8)
    cb, cr = rng.integers(100, 156, (16, 24), dtype=np.uint8), rng.integers(100, 156, (16, 24), dtype=np.uint8)
    shape = (2, 3)
    tiny = fit.Fields(np.ones((3, *shape), np.float32), np.full((3, *shape), 0.6 / 255, np.float32))
    out = planes.apply_planes([y, cb, cr], tiny, 8)
    assert all(np.array_equal(a, b) for a, b in zip(out, [y, cb, cr]))
    real = fit.Fields(np.ones((3, *shape), np.float32), np.full((3, *shape), 4.0 / 255, np.float32))
    out = planes.apply_planes([y, cb, cr], real, 8)
    assert abs(float(out[0].astype(np.float32).mean() - y.mean()) - 4.0) < 0.5


def test_oscillation_reads_alternating_flicker_and_not_a_persistent_change():
    rng = np.random.default_rng(6)
    t = np.arange(31)
    lit = np.clip((t - 10) / 3.0, 0, 1) - np.clip((t - 22) / 3.0, 0, 1)  # a light comes on, stays, goes off
    persistent = (30.0 * lit + rng.normal(0, 0.3, 31))[:, None]
    flicker = (4.0 * np.sin(2 * np.pi * t / 3.7) + rng.normal(0, 0.3, 31))[:, None]
    osc_p, osc_f = fit.oscillation(persistent)[0], fit.oscillation(flicker)[0]
    assert osc_p < 1.0 < 3.0 < osc_f, (osc_p, osc_f)
    assert np.isnan(fit.oscillation(persistent[:4])).all()  # too few frames to tell


def test_cells_whose_level_does_not_oscillate_keep_their_light():
    osc = np.full((3, 4, 6), 0.4 / 255, np.float32)  # the noise floor
    osc[0, 1, 1] = 3.0 / 255  # a breathing cell
    corr = np.zeros((3, 4, 6), np.float32)
    corr[0, 1, 1] = 2.5 / 255  # its correction (within a few oscillation scales): kept
    corr[0, 2, 4] = 12.0 / 255  # a lit cell read as a level to flatten, but it does not oscillate
    got = fit.oscillating(corr, osc)
    assert got[0, 1, 1] > 0.85 * corr[0, 1, 1], got[0, 1, 1] * 255
    assert abs(got[0, 2, 4]) < 1.5 / 255, got[0, 2, 4] * 255  # about CELL_OSC_CAP oscillation scales at most
    nan = np.full_like(osc, np.nan)
    assert np.array_equal(fit.oscillating(corr, nan), corr)  # unmeasured (a shot's first frames): unchanged


def test_the_frame_chroma_gain_follows_the_luma_gain():
    nan = np.full((3, 2, 2), np.nan, np.float32)
    stats = fit.PairStats(nan, nan, np.zeros((2, 2), np.float32), np.zeros(3, np.float32),
                          np.array([0.02, 0.4, -0.3], np.float32), 0.9)
    tied = fit.tie_chroma_gain(stats)
    assert np.allclose(tied.g_log_gain, 0.02) and np.allclose(stats.g_log_gain, [0.02, 0.4, -0.3])

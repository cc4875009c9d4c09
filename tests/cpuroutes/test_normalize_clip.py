"""``normalize_clip``: a tone correction does not darken a channel at full scale."""

from __future__ import annotations

import numpy as np

from flickerd.routes import normalize_clip as clip
from flickerd.routes import normalize_fit as fit
from flickerd.routes import normalize_planes as planes

SHAPE = (2, 3)
BT601_LIMITED = (False, 5)


def _frame(white: bool) -> list[np.ndarray]:
    """Limited-range 4:2:0 planes: mid grey, with a white (RGB 255) left half when ``white``."""
    y = np.full((32, 48), 126, np.uint8)
    if white:
        y[:, :24] = 235
    return [y, np.full((16, 24), 128, np.uint8), np.full((16, 24), 128, np.uint8)]


def _gain(g: float) -> fit.Fields:
    return fit.Fields(np.full((3, *SHAPE), g, np.float32), np.zeros((3, *SHAPE), np.float32))


def test_a_darkening_correction_moves_clipped_white_half_way_and_corrects_the_rest():
    frame = _frame(white=True)
    free = planes.apply_planes(frame, _gain(0.95), 8)
    kept = planes.apply_planes(frame, _gain(0.95), 8, clip=BT601_LIMITED)
    assert free[0][:, :20].mean() < 228  # without: white is pulled down by the whole correction
    halfway = 0.5 * (235 + float(free[0][:, :20].mean()))  # the middle of the range white could have been in
    assert abs(float(kept[0][:, :20].mean()) - halfway) < 0.6
    assert np.array_equal(kept[0][:, 30:], free[0][:, 30:])  # grey away from the white: corrected as before


def test_an_outward_correction_and_a_frame_without_clipped_samples_are_unchanged():
    for frame, gain in ((_frame(white=True), 1.05), (_frame(white=False), 0.95)):
        free = planes.apply_planes(frame, _gain(gain), 8)
        kept = planes.apply_planes(frame, _gain(gain), 8, clip=BT601_LIMITED)
        assert all(np.array_equal(a, b) for a, b in zip(free, kept))


def test_only_the_clipped_channel_keeps_its_level_in_rgb():
    rgb = np.zeros((4, 4, 3), np.float32) + np.array([0.5, 0.5, 1.0], np.float32)  # blue at full scale
    out = clip.keep_clipped_rgb(rgb, rgb * 0.9)
    assert np.allclose(out[..., 2], 0.95) and np.allclose(out[..., :2], 0.45)
    dark = np.zeros((4, 4, 3), np.float32)  # black lifted by a colour cast: lifted (dark detail is not told from a crush)
    assert np.allclose(clip.keep_clipped_rgb(dark, dark + 0.02), 0.02)

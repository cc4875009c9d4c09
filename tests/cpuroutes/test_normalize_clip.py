"""``normalize_clip``: a tone correction does not darken a channel at full scale."""

from __future__ import annotations

import cv2
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


def test_the_near_full_scale_bound_misses_no_pixel_the_ramp_reaches():
    """Weights are worked out only at ``_near_full_scale``'s pixels: every pixel whose R, G or B (chroma
    upsampled as the correction reads it) reaches the ramp must be among them, at 4:2:0 and 4:4:4."""
    rng = np.random.default_rng(3)
    for full_range, colorspace, (ch, cw) in ((False, 1, (15, 21)), (True, 5, (15, 21)), (False, 1, (30, 41))):
        y = rng.integers(60, 256, (30, 41)).astype(np.uint8)
        cb, cr = (rng.integers(100, 160, (ch, cw)).astype(np.uint8) for _ in range(2))
        kr, kb = clip.LUMA_WEIGHTS.get(colorspace, clip.BT601)
        y_scale, c_scale, y_zero, c_zero = (255.0, 255.0, 0.0, 127.5) if full_range else (219.0, 224.0, 16.0, 128.0)
        up = (lambda a: cv2.resize(a.astype(np.float32), (41, 30), interpolation=cv2.INTER_LINEAR))
        yn, cbn, crn = (y - y_zero) / y_scale, (up(cb) - c_zero) / c_scale, (up(cr) - c_zero) / c_scale
        r, b = yn + 2 * (1 - kr) * crn, yn + 2 * (1 - kb) * cbn
        g = (yn - kr * r - kb * b) / (1 - kr - kb)
        reached = np.flatnonzero(np.maximum(np.maximum(r, g), b) > 1 - clip.CLIP_MARGIN - clip.CLIP_RAMP)
        near = clip._near_full_scale(y, cb, cr, kr, kb, y_scale, y_zero, c_scale, c_zero)
        assert 0 < reached.size < y.size and np.isin(reached, near).all()
        assert near.size < y.size  # and it is a bound, not every pixel


def test_weights_worked_out_near_full_scale_only_match_the_whole_frames():
    """A frame with white, saturated colour and mid grey, darkened: the same deltas as the weights of every pixel give."""
    y = np.full((32, 48), 126, np.uint8)
    y[:, :16] = 235
    cb, cr = np.full((16, 24), 128, np.uint8), np.full((16, 24), 128, np.uint8)
    cr[:, 10:14] = 240  # saturated red next to the white
    dy = np.full(y.shape, -6.0, np.float32)
    dc = np.full(cb.shape, -1.0, np.float32)
    ny, ncb, ncr = clip.keep_clipped_planes(y, cb, cr, dy, dc, dc, 255.0, False, 1)
    assert ny[:, 30:].max() == -6.0 and ny[:, :14].max() > -4.0  # grey corrected fully, white by about half
    assert np.abs(ncr[:, 18:] + 1.0).max() < 1e-5  # chroma away from the highlights keeps its delta

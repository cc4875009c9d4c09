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


def test_every_pixel_whose_channel_may_reach_the_ramp_is_near_full_scale():
    """``_near_full_scale`` is a bound: every pixel whose R, G or B (chroma upsampled as the route does it)
    lies above ``_BELOW_RAMP`` is among its indices, at every bit depth, chroma layout, range and
    colour space; the pixels it leaves out get weight 1 (review21a: a looser slack passed the other tests)."""
    rng = np.random.default_rng(21)
    for case in range(1200):
        bits = (8, 10, 12)[case % 3]
        peak = float((1 << bits) - 1)
        sub = ((2, 2), (1, 2), (1, 1))[(case // 3) % 3]  # 4:2:0, 4:2:2, 4:4:4 (rows, columns)
        full_range = bool((case // 9) % 2)
        colorspace = (1, 5, 9)[(case // 18) % 3]
        h, w = int(rng.integers(2, 12)) * sub[0], int(rng.integers(2, 12)) * sub[1]
        dtype = np.uint8 if bits == 8 else np.uint16
        y = rng.uniform(0.75, 1.0, (h, w)) * peak  # dense near the ramp
        y = y.round().astype(dtype)
        # chroma flat over the frame half the time: no neighbour widens the bound, so it is met at its edge
        spread = 0.0 if case % 2 else 0.25 * peak
        cb, cr = (np.clip(rng.normal(peak / 2, 0.2 * peak) + rng.normal(0, spread + 1e-9, (h // sub[0], w // sub[1])),
                          0, peak).round().astype(dtype) for _ in range(2))
        kr, kb = clip.LUMA_WEIGHTS.get(colorspace, clip.BT601)
        s = peak / 255.0
        y_scale, c_scale = (peak, peak) if full_range else (219.0 * s, 224.0 * s)
        y_zero, c_zero = (0.0, peak / 2.0) if full_range else (16.0 * s, 128.0 * s)
        near = clip._near_full_scale(y, cb, cr, kr, kb, y_scale, y_zero, c_scale, c_zero)
        up = (lambda a: a.astype(np.float32)) if cb.shape == y.shape else (
            lambda a: cv2.resize(a.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR))
        yn = (y.astype(np.float32) - y_zero) / y_scale
        cbn, crn = (up(cb) - c_zero) / c_scale, (up(cr) - c_zero) / c_scale
        r, b = yn + 2 * (1 - kr) * crn, yn + 2 * (1 - kb) * cbn
        g = (yn - kr * r - kb * b) / (1 - kr - kb)
        above = np.flatnonzero((np.maximum(np.maximum(r, g), b) > clip._BELOW_RAMP + clip.BOUND_SLACK).reshape(-1))
        assert np.isin(above, near).all(), (case, bits, sub, full_range, colorspace)

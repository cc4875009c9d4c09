"""Pure measures on synthetic arrays with known answers."""

import math

import cv2
import numpy as np
import pytest

from flickerd.flow import flow, occlusion_mask
from flickerd.quality import (detail_energy, ghosting, local_residuals, luma_second_difference, midpoint_estimate,
                              psnr, ssim, texture_mask, warp_error)
from flickerd.quality.ghosting import moving_mask
from . import clips

cv2.setNumThreads(1)


def test_psnr_of_a_known_error():
    a = np.full((32, 48, 3), 100, np.uint8)
    b = a + 5  # MSE 25
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 25), abs=1e-9)
    assert psnr(a, a) == 100.0
    with pytest.raises(ValueError):
        psnr(a, a[:16])


def test_ssim_of_constant_frames_matches_the_formula():
    # σ = 0 everywhere, so SSIM = (2μxμy + C1) / (μx² + μy² + C1)
    x, y = 100.0, 120.0
    c1 = (0.01 * 255) ** 2
    a = np.full((40, 40), x, np.uint8)
    b = np.full((40, 40), y, np.uint8)
    assert ssim(a, b) == pytest.approx((2 * x * y + c1) / (x * x + y * y + c1), rel=1e-9)


def test_ssim_orders_damage():
    rng = np.random.default_rng(0)
    img = clips.texture(0)[:, :128].astype(np.uint8)
    assert ssim(img, img) == pytest.approx(1.0)
    noisy = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
    very = np.clip(img + rng.normal(0, 40, img.shape), 0, 255).astype(np.uint8)
    other = clips.texture(5)[:, :128].astype(np.uint8)
    s1, s2, s3 = ssim(img, noisy), ssim(img, very), ssim(img, other)
    assert 1.0 > s1 > s2 > s3
    assert abs(s3) < 0.2  # unrelated images
    assert ssim(noisy, img) == pytest.approx(s1)  # symmetric


def _window(frames):
    """Flows of the middle frame of three to its neighbours, with reliability."""
    g = [cv2.cvtColor(np.clip(f, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY) for f in frames]
    to_prev, back = flow(g[1], g[0]), flow(g[0], g[1])
    to_next, fwd = flow(g[1], g[2]), flow(g[2], g[1])
    reliable = occlusion_mask(to_prev, back) & occlusion_mask(to_next, fwd)
    return g, to_prev, to_next, reliable


def test_ghosting_scores_a_blend_of_neighbours_and_not_the_original():
    frames = clips.moving_frames(3, speed=3.0)
    g, to_prev, to_next, reliable = _window(frames)
    naive, mc = midpoint_estimate(g[0], g[2], to_prev, to_next)
    mask = moving_mask(to_prev, to_next, reliable=reliable)
    assert mask.mean() > 0.5  # the pan moves everything
    num, den = ghosting(g[1], g[1], naive, mc, mask)
    original = num / den
    blend = (g[0].astype(np.float32) + g[2]) / 2
    num_b, den_b = ghosting(blend, g[1], naive, mc, mask)
    assert num_b / den_b > 0.8
    assert abs(original) < 0.05
    # a global brightness change (a flicker fix) is not ghosting
    num_f, den_f = ghosting(g[1].astype(np.float32) + 10, g[1], naive, mc, mask)
    assert abs(num_f / den_f) < 0.05
    # nor is one region's tone and contrast moved (a breathing region steadied)
    h, w = g[1].shape
    yy, xx = np.mgrid[0:h, 0:w]
    region = np.exp(-((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / (2 * (h / 4) ** 2)).astype(np.float32)
    src = g[1].astype(np.float32)
    steadied = src + region * (0.2 * (src - cv2.GaussianBlur(src, (0, 0), h / 8)) + 12)
    num_r, den_r = ghosting(steadied, g[1], naive, mc, mask)
    assert abs(num_r / den_r) < 0.05


def test_ghosting_needs_moving_pixels():
    still = clips.moving_frames(3, speed=0.0)
    g, to_prev, to_next, reliable = _window(still)
    mask = moving_mask(to_prev, to_next, reliable=reliable)
    assert not mask.any()
    assert ghosting(g[1], g[1], g[1], g[1], mask) == (0.0, 0.0)


def test_sharpness_drops_for_blur_and_ignores_gain():
    y = cv2.cvtColor(clips.moving_frames(1)[0].astype(np.uint8), cv2.COLOR_RGB2GRAY)
    mask = texture_mask(y)
    assert 0.1 < mask.mean() < 0.4
    base = detail_energy(y, mask)
    blurred = cv2.GaussianBlur(y, (0, 0), 1.2)
    brighter = np.clip(y.astype(np.float32) * 1.08, 0, 255)
    assert detail_energy(blurred, mask) / base < 0.7
    assert detail_energy(brighter, mask) / base == pytest.approx(1.0, abs=0.05)


def test_luma_second_difference_ignores_ramps_and_cuts():
    ramp = [10.0 + 2 * t for t in range(6)]
    assert luma_second_difference(ramp)[1:-1] == [0.0] * 4
    flick = [10, 14, 10, 14, 10]
    assert luma_second_difference(flick) == [None, 4.0, 4.0, 4.0, None]
    assert luma_second_difference(flick, cuts=[2]) == [None, None, None, 4.0, None]


def test_warp_error_and_local_flicker_see_a_breathing_region():
    frames = clips.moving_frames(2, speed=2.0)
    g0, g1 = (cv2.cvtColor(f.astype(np.uint8), cv2.COLOR_RGB2GRAY) for f in frames)
    fw, bw = flow(g0, g1), flow(g1, g0)
    rel = occlusion_mask(fw, bw)
    a, b = frames[0].astype(np.uint8), frames[1].astype(np.uint8)
    clean = warp_error(b, a, fw, rel)
    gain = np.clip(frames[1] + 12, 0, 255).astype(np.uint8)
    breathing = frames[1].copy()
    breathing[20:60, 30:80] += 20
    breathing = np.clip(breathing, 0, 255).astype(np.uint8)
    assert warp_error(gain, a, fw, rel) > 5 * clean
    y = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)
    base = local_residuals(g1, g0, fw, rel)
    assert local_residuals(y(gain), g0, fw, rel) == pytest.approx(base, abs=0.3)  # global: not local
    assert local_residuals(y(breathing), g0, fw, rel) > base + 1.0


def test_vmaf_through_the_bundled_ffmpeg(tmp_path):
    from flickerd.quality.vmaf import has_libvmaf, vmaf

    if not has_libvmaf():
        pytest.skip("the bundled ffmpeg has no libvmaf")
    frames = clips.moving_frames(8)
    src = clips.write(str(tmp_path / "a.mp4"), frames)
    blurred = clips.write(str(tmp_path / "b.mp4"), [cv2.GaussianBlur(f, (0, 0), 2.0) for f in frames])
    same = vmaf(src, src, clips.W, clips.H, subsample=1)
    worse = vmaf(src, blurred, clips.W, clips.H, subsample=1)
    assert same > 90 and worse < same - 10


def test_tone_matched_psnr_forgives_gain_and_offset_only():
    from flickerd.quality import psnr_tone_matched

    img = clips.texture(2)[:, :128]
    toned = img * 0.85 + 25.0  # a per-frame correction a flicker fix makes
    assert psnr(img, toned) < 28
    assert psnr_tone_matched(img, toned) > 60
    blurred = cv2.GaussianBlur(img, (0, 0), 2.0)
    assert psnr_tone_matched(img, blurred) == pytest.approx(psnr(img, blurred), abs=1.5)


def test_regenerated_texture_is_not_counted_as_detail_to_keep():
    from flickerd.flow import warp
    from flickerd.quality.sharpness import stable_texture

    rng = np.random.default_rng(4)
    frames = clips.moving_frames(2, speed=2.0)
    y0, y1 = (cv2.cvtColor(f.astype(np.uint8), cv2.COLOR_RGB2GRAY) for f in frames)
    # regenerated detail: fresh noise in the right half of frame 1 only
    y1 = y1.astype(np.float32)
    y1[:, 64:] += rng.normal(0, 25, y1[:, 64:].shape)
    y1 = np.clip(y1, 0, 255).astype(np.uint8)
    fw, bw = flow(y0, y1), flow(y1, y0)
    residual = warp(y1, fw).astype(np.float32) - y0.astype(np.float32)
    texture = texture_mask(y0)
    stable = stable_texture(texture, residual, occlusion_mask(fw, bw))
    assert stable[:, 8:56].mean() > 3 * stable[:, 72:120].mean()
    assert not (stable & ~texture).any()


def test_tone_matched_psnr_equals_the_explicit_residual():
    """The moment form (``psnr_tone_matched``) against the matched frame built pixel by pixel
    (per-channel least-squares gain and offset, gain 1 on a flat channel), and uint8 ``psnr``
    against float64 MSE."""
    from flickerd.quality import psnr_tone_matched

    rng = np.random.default_rng(3)
    ref = (rng.random((40, 64, 3)) * 255).astype(np.uint8)
    ref[..., 2] = 90  # a flat channel: no gain to fit
    out = np.clip(ref * np.array([0.8, 1.1, 1.0]) + rng.normal(0, 3, ref.shape) + 7, 0, 255).astype(np.uint8)
    r, o = ref.reshape(-1, 3).astype(np.float64), out.reshape(-1, 3).astype(np.float64)
    dr, do = r - r.mean(0), o - o.mean(0)
    var = (dr * dr).mean(0)
    gain = np.where(var > 1e-9, (dr * do).mean(0) / np.maximum(var, 1e-9), 1.0)
    mse = float(np.mean((dr * gain + o.mean(0) - o) ** 2))
    assert psnr_tone_matched(ref, out) == pytest.approx(10 * math.log10(255.0**2 / mse), abs=1e-9)
    assert psnr(ref, out) == pytest.approx(10 * math.log10(255.0**2 / np.mean((r - o) ** 2)), abs=1e-12)
    assert psnr_tone_matched(ref, ref) == psnr(ref, ref) == 100.0

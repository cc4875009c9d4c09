"""Confidence-weighted smoothing as pure functions on frames (no encode in between)."""

import numpy as np
import pytest
import torch

from flickerd.routes.rife.smooth import SmoothSettings, blend_weight, smooth, smooth_pass
from tests.rife import clips
from tests.rife.fakes import AverageMidpoint


def _tensors(images):
    return [torch.from_numpy(clips.to_u8(x)).permute(2, 0, 1).float() / 255.0 for x in images]


def _u8(t):
    return (t.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)


def test_weight_is_full_where_the_midpoint_agrees_and_zero_where_it_is_another_picture():
    frames = _tensors(clips.frames(2, width=64, height=64, dx=20.0, seed=9, square=False))
    zeros = torch.zeros((1, 1, 64, 64))
    same = blend_weight(frames[0][None], frames[0][None] * 0.9 + 0.03, zeros, zeros)  # tone change only
    other = blend_weight(frames[0][None], frames[1][None], zeros, zeros)  # 20 px off
    assert same.min().item() > 0.45 and same.max().item() <= 0.5
    assert other.mean().item() < 0.05
    crooked = blend_weight(frames[0][None], frames[0][None], torch.full((1, 1, 64, 64), 5.0), zeros)
    assert crooked.max().item() < 0.01  # the two flows disagree by 5 px: not linear motion


def test_streaming_pass_keeps_count_and_calls_the_estimator_once_per_inner_frame():
    frames = _tensors(clips.frames(7, width=32, height=32, dx=0.0, seed=1, square=False))
    fake = AverageMidpoint()
    out = list(smooth_pass(iter(frames), fake, batch=3))
    # frames 0..2, 3..5, 6 per batch; the two ends have one neighbour and need no estimate
    assert len(out) == 7 and fake.batches == [2, 3]
    single = list(smooth_pass(iter(frames[:1]), fake))
    assert len(single) == 1 and torch.equal(single[0].image, frames[0])


def test_static_flicker_is_averaged_away(rife):
    base = clips.frames(8, width=64, height=64, dx=0.0, seed=2, square=False)
    gains = [1.0, 1.1, 0.9, 1.1, 0.9, 1.1, 0.9, 1.0]
    flick = _tensors([img * g for img, g in zip(base, gains)])
    weights: list[list[float]] = []
    out = [_u8(t) for t in smooth(iter(flick), rife, iterations=2, on_pass_weight=weights)]
    truth = [clips.to_u8(x) for x in base]
    before = clips.clip_psnr([_u8(a) for a in flick], truth)
    after = clips.clip_psnr(out, truth)
    assert after - before > 4.0, (before, after)
    assert len(weights) == 2 and min(fine for _, fine in weights[0][1:-1]) > 0.4


def test_regenerated_texture_gets_better_not_worse(rife):
    clean = clips.frames(12, dx=3.0, seed=6, square=False)
    rng = np.random.default_rng(0)

    def regenerate(img, t):  # fine detail redrawn every frame inside a patch, coarse structure kept
        out = img.copy()
        out[20:60, 40:88] += rng.standard_normal((40, 48, 1)).astype(np.float32) * 18
        return out

    flick = _tensors(clips.flicker(clean, regenerate))
    out = [_u8(t) for t in smooth(iter(flick), rife)]
    truth = [clips.to_u8(c) for c in clean]
    before = clips.clip_psnr([_u8(a) for a in flick], truth)
    after = clips.clip_psnr(out, truth)
    assert after >= before, (before, after)
    outside = (slice(0, 20), slice(None))  # the clean part of the picture stays as it was
    assert clips.clip_psnr([x[outside] for x in out], [c[outside] for c in truth]) > 42


def test_more_strength_moves_further(rife):
    frames = _tensors([img * g for img, g in zip(clips.frames(3, width=64, height=64, dx=1.0, seed=4), [1.0, 1.12, 1.0])])
    mild = list(smooth(iter(frames), rife, SmoothSettings(strength=0.2)))[1]
    strong = list(smooth(iter(frames), rife, SmoothSettings(strength=0.6)))[1]
    assert (strong - frames[1]).abs().mean() > 2 * (mild - frames[1]).abs().mean() > 0


def test_a_soft_midpoint_fixes_tone_but_keeps_detail():
    frame = _tensors(clips.frames(1, width=64, height=64, dx=0.0, seed=8, square=False))[0][None]
    from flickerd.routes.rife.smooth import _gauss, blend, blend_weights

    soft = (_gauss(frame, 2.5) + 0.08).clamp(0, 1)  # right shapes, brighter, detail gone
    zeros = torch.zeros((1, 1, 64, 64))
    w_coarse, w_fine = blend_weights(frame, soft, zeros, zeros)
    assert w_coarse.mean() > 0.3 and w_coarse.mean() > 2 * w_fine.mean()
    out = blend(frame, soft, w_coarse, w_fine)
    detail = lambda x: x - _gauss(x, 2.0)  # noqa: E731
    assert (out.mean() - frame.mean()).item() > 0.02  # the tone moved toward the midpoint
    assert (detail(out) - detail(frame)).abs().mean() < 0.2 * detail(frame).abs().mean()  # detail kept

"""The real-render bench's stress motion kinds (``synth.real.STRESS_MOTION``), on synthetic frames."""

from __future__ import annotations

import argparse

import numpy as np

from flickerd.synth import real


def _render(n: int = 12, h: int = 80, w: int = 120) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def test_duplicated_frames_repeat_every_kth():
    render = _render()
    out = list(real.frames(real.Variant("r.mp4", "dup", 4.0, 0), render))
    assert len(out) == len(render) + len(render) // 4
    assert np.array_equal(out[3], out[4]) and np.array_equal(out[4], render[3])
    assert not np.array_equal(out[0], out[1])


def test_a_hand_held_crop_wanders_by_seed_and_keeps_the_crop_size():
    render = [_render(1)[0]] * 8  # a still render: every change is the crop's
    a = list(real.frames(real.Variant("r.mp4", "shake", 8.0, 0), render))
    b = list(real.frames(real.Variant("r.mp4", "shake", 8.0, 1), render))
    assert {f.shape for f in a} == {real._crop_size(80, 120) + (3,)}
    assert any(not np.array_equal(x, y) for x, y in zip(a, a[1:]))  # it moves
    assert any(not np.array_equal(x, y) for x, y in zip(a, b))  # another hand
    assert all(np.array_equal(x, y) for x, y in zip(a, real.frames(real.Variant("r.mp4", "shake", 8.0, 0), render)))


def test_the_bench_stress_set_adds_each_clip_once():
    from bench import real_renders as rr

    name = next(iter(rr.split()))
    a = argparse.Namespace(ci=False, side=None, seeds=2, harsh=True, stress=True, motion_only=True, frames=48,
                           max_side=832, cache="/nonexistent")
    job, = rr._jobs(a, rr.DEFAULT_RENDERS, {name: False}, {name: rr.split()[name]["side"]})
    names = [v.name for v in job.variants]
    assert len(names) == len(set(names))
    assert not any(v.kind in real.INJECTED for v in job.variants)
    seeded = sum(len(lv) for k, lv in real.STRESS_MOTION.items() if k in real.SEEDED_MOTION)
    assert sum(v.kind in real.SEEDED_MOTION and v.seed == 1 for v in job.variants) == seeded

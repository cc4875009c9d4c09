"""Pure planning: families, size and frame mapping, windows and cross-fade, memory modes."""

from __future__ import annotations

import numpy as np
import pytest

from flickerd.errors import ConfigError
from flickerd.routes.regenerate.families import FAMILIES, get_family
from flickerd.routes.regenerate.mapping import frame_plan, model_size
from flickerd.routes.regenerate.memory import MemoryMode, choose_mode, decode_chunk, modes_for, next_mode, parse_mode
from flickerd.routes.regenerate.windows import crossfade, plan_windows, valid_length


def test_native_window_lengths_follow_each_family_rule():
    for family in FAMILIES.values():
        assert family.valid_frames(family.frames), family.name
    assert get_family("cogvideox-v2v").valid_frames(49) and not get_family("cogvideox-v2v").valid_frames(48)
    assert get_family("wan-v2v").valid_frames(81) and not get_family("wan-v2v").valid_frames(80)
    with pytest.raises(ConfigError, match="unknown model family 'nope'"):
        get_family("nope")


@pytest.mark.parametrize(
    "src,fps,model_fps,expect_count",
    [(48, 24.0, 8.0, 16), (12, 12.0, 16.0, 12), (100, 30.0, 7.0, 24), (1, 25.0, 8.0, 1)],
)
def test_frame_plan_round_trips_every_render_frame(src, fps, model_fps, expect_count):
    plan = frame_plan(src, fps, model_fps)
    assert plan.model_frames == expect_count
    assert plan.model_fps == min(fps, model_fps)
    assert len(plan.model_for_source) == src
    assert all(0 <= j < plan.model_frames for j in plan.model_for_source)
    assert list(plan.model_for_source) == sorted(plan.model_for_source)
    assert list(plan.source_for_model) == sorted(plan.source_for_model)
    # each output frame comes from a model frame made from a render frame near it in time
    for i, j in enumerate(plan.model_for_source):
        assert abs(plan.source_for_model[j] - i) <= fps / plan.model_fps / 2 + 0.5


def test_model_size_keeps_aspect_for_flexible_and_native_for_fixed():
    w, h = model_size(1920, 1080, 832, 480, 16, flexible=True)
    assert w % 16 == 0 and h % 16 == 0
    assert abs(w / h - 16 / 9) < 0.05
    assert abs(w * h - 832 * 480) / (832 * 480) < 0.05
    assert model_size(1920, 1080, 720, 480, 16, flexible=False) == (720, 480)
    assert model_size(1080, 1920, 720, 480, 16, flexible=False) == (480, 720)


@pytest.mark.parametrize("total,window,overlap,step", [(200, 49, 8, 4), (81, 81, 16, 4), (30, 49, 8, 4), (50, 25, 5, 1), (82, 81, 8, 4)])
def test_windows_cover_every_frame_at_valid_lengths(total, window, overlap, step):
    windows = plan_windows(total, window, overlap, step)
    assert windows[0].start == 0 and windows[-1].stop == total
    for a, b in zip(windows, windows[1:]):
        assert b.start <= a.stop - overlap  # at least the configured overlap
        assert b.start > a.start
    for w in windows:
        assert (w.length - 1) % step == 0 and w.length >= w.frames
    if total > window:
        assert all(w.length == window for w in windows)


def test_short_clip_is_padded_to_a_valid_length():
    assert valid_length(8, 4) == 9 and valid_length(9, 4) == 9 and valid_length(10, 4) == 13 and valid_length(7, 1) == 7
    (only,) = plan_windows(30, 49, 8, 4)
    assert (only.start, only.stop, only.length) == (0, 30, 33)


def test_window_plan_rejects_invalid_settings():
    with pytest.raises(ValueError):
        plan_windows(100, 48, 8, 4)
    with pytest.raises(ValueError):
        plan_windows(100, 49, 49, 4)


def test_crossfade_moves_from_old_to_new():
    old = np.zeros((4, 2, 2, 3), np.float32)
    new = np.ones((4, 2, 2, 3), np.float32)
    mixed = crossfade(old, new)
    means = mixed.mean(axis=(1, 2, 3))
    assert np.all(np.diff(means) > 0) and 0 < means[0] < 0.5 < means[-1] < 1
    with pytest.raises(ValueError):
        crossfade(old, new[:3])


def test_memory_ladder_stops_before_offload_on_cpu():
    assert modes_for("cpu")[-1] is MemoryMode.VAE_TILING
    assert next_mode(MemoryMode.VAE_TILING, "cpu") is None
    assert next_mode(MemoryMode.VAE_TILING, "cuda") is MemoryMode.MODEL_OFFLOAD
    assert next_mode(MemoryMode.SEQUENTIAL_OFFLOAD, "cuda") is None
    assert parse_mode("auto", "x") == "auto"
    with pytest.raises(ConfigError, match="params.memory_mode: unknown memory mode"):
        parse_mode("huge", "params.memory_mode")


def test_memory_mode_from_free_vram_leaves_headroom():
    gib = 1024**3
    assert choose_mode("cogvideox-v2v", 80 * gib, 2 * gib, "cuda") is MemoryMode.NONE
    assert choose_mode("cogvideox-v2v", 24 * gib, 2 * gib, "cuda") is MemoryMode.VAE_TILING
    assert choose_mode("cogvideox-v2v", 24 * gib, 8 * gib, "cuda") is MemoryMode.MODEL_OFFLOAD
    assert choose_mode("wan-v2v", 4 * gib, 2 * gib, "cuda") is MemoryMode.SEQUENTIAL_OFFLOAD
    assert choose_mode("svd", None, 0, "cuda") is MemoryMode.NONE
    assert choose_mode("svd", 1 * gib, 0, "cpu") is MemoryMode.NONE


def test_svd_decodes_every_frame_at_once_when_memory_allows():
    assert decode_chunk(MemoryMode.NONE, 25) == 25
    assert decode_chunk(MemoryMode.VAE_TILING, 25) < decode_chunk(MemoryMode.VAE_SLICING, 25) < 25
    assert decode_chunk(MemoryMode.SEQUENTIAL_OFFLOAD, 1) == 1

"""Texture flicker off the block grid: a heavy encode's re-quantised blocks are not re-drawn texture."""

from __future__ import annotations

import numpy as np
import pytest

from bench import real_renders as rr
from flickerd.diagnose import blockgrid
from flickerd.diagnose.settings import DiagnoseSettings


def test_the_grid_is_both_frames_boundaries():
    zero = np.zeros((16, 16, 2), np.float32)
    g = blockgrid.on_grid((0, 0), (0, 0), zero)
    assert g[0].all() and g[7].all() and g[8].all() and g[15].all()  # rows at the boundaries 7|8, 15|16
    assert not g[3, 3] and not g[4, 4] and g[3, 0] and g[3, 7]
    # frame t's window starts 3 px further right: its boundaries fall on columns 4 and 5 of this window
    g = blockgrid.on_grid((0, 0), (0, 3), zero)
    assert g[3, 4] and g[3, 5] and g[3, 7] and not g[3, 3] and not g[3, 6]
    # the same through the flow instead of the origin
    shift = zero.copy()
    shift[..., 0] = 3.0
    assert (blockgrid.on_grid((0, 0), (0, 0), shift) == g).all()


def _scene(rng, size=96):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    smooth = 90 + 0.6 * xx + 0.3 * yy
    texture = rng.normal(0, 6, (size, size)).astype(np.float32)
    return smooth, texture


def _blocks(rng, size=96, level=6.0):
    """A piecewise-constant field on the 8-px grid: each block's re-quantised DC offset."""
    return np.kron(rng.normal(0, level, (size // 8, size // 8)), np.ones((8, 8))).astype(np.float32)


def test_block_flicker_sits_on_the_grid_and_regenerated_texture_does_not():
    rng = np.random.default_rng(5)
    smooth, texture = _scene(rng)
    mask = np.ones(smooth.shape, bool)
    flow = np.zeros(smooth.shape + (2,), np.float32)
    # tracked texture, blocks re-quantised differently in each frame: the codec's flicker
    prev = smooth + texture + _blocks(rng, level=10)
    cur = smooth + texture + _blocks(rng, level=10)
    full, off = blockgrid.frame_ratios(prev, cur, mask, flow)
    assert full > DiagnoseSettings().texture_threshold  # on all pixels it reads as texture flicker
    assert off < 0.2 * full
    # texture re-drawn every frame, no blocks: the render's flicker, the same on and off the grid
    prev = smooth + texture
    cur = smooth + rng.normal(0, 6, smooth.shape).astype(np.float32)
    full, off = blockgrid.frame_ratios(prev, cur, mask, flow)
    assert full > 1.5
    assert off == pytest.approx(full, rel=0.1)


def test_no_detail_off_the_grid_is_nothing_to_judge():
    rng = np.random.default_rng(2)
    smooth, _ = _scene(rng)
    mask = np.ones(smooth.shape, bool)
    flow = np.zeros(smooth.shape + (2,), np.float32)
    # a smooth gradient whose only detail is its blocks' edges
    full, off = blockgrid.frame_ratios(smooth + _blocks(rng, level=12), smooth + _blocks(rng, level=12), mask, flow)
    assert full > 0.5
    assert np.isnan(off) or off < 0.2 * full


@pytest.mark.slow
@pytest.mark.skipif(rr.renders_dir() is None, reason=rr.NO_RENDERS)
def test_a_heavy_encode_of_a_real_render_is_codec_damage_not_flicker(tmp_path):
    """Latte's cat at x264 CRF 45 (the bench's codec clip, held-out side): its re-quantised blocks
    read as texture flicker on all of the tiles' pixels (the old score, which called it mixed);
    off the grid they do not."""
    from flickerd.diagnose import run
    from flickerd.diagnose.model import Verdict
    from flickerd.synth.real import Variant

    name = "Vchitect__Latte__latte_output_b421.mp4"
    assert rr.split()[name]["side"] == "report"
    clip = tmp_path / "codec.mp4"
    rr.make_clip(Variant(name, "codec", 1.0, 0), str(rr.renders_dir() / name), None, rr.CI_FRAMES, rr.CI_MAX_SIDE, clip)
    d = run(clip, DiagnoseSettings(timeline=False))
    s = DiagnoseSettings()
    assert d.scores["blocking"] > s.blocking_threshold
    assert d.scores["texture_flicker_all"] > s.texture_threshold  # all pixels: over the threshold
    assert d.scores["texture_flicker"] < s.texture_threshold
    assert d.verdict is Verdict.CODEC_ARTIFACTS

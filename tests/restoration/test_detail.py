"""The ``detail`` step: regenerated texture is stabilised, real detail and motion are kept."""

from __future__ import annotations

import numpy as np
import pytest

from flickerd.errors import ConfigError
from flickerd.media.probe import probe
from flickerd.quality.fidelity import ssim
from flickerd.routes import detail_fit
from flickerd.routes.detail import DetailParams, DetailRoute, DetailStabilizer
from flickerd.routes.registry import get_route
from tests.restoration import clips


def test_params_check_keys_and_ranges():
    assert DetailParams.from_mapping({"radius": 3, "sigma": 2, "_intermediate": True}) == DetailParams(radius=3, sigma=2.0)
    with pytest.raises(ConfigError, match="params.radius"):
        DetailParams.from_mapping({"radius": 0})
    with pytest.raises(ConfigError, match="unknown parameter"):
        DetailParams.from_mapping({"window": 3})
    with pytest.raises(ConfigError, match="expected bool"):
        DetailParams.from_mapping({"chroma": 1})


def test_registered_as_a_route():
    route = get_route("detail")
    assert route.name == "detail" and isinstance(route, DetailRoute)


def test_stabilise_averages_only_where_weighted():
    d = np.array([[4.0, 4.0]], np.float32)
    n = np.array([[0.0, 0.0]], np.float32)
    w = np.array([[1.0, 0.0]], np.float32)
    out = detail_fit.stabilise(d, [n, n], [w, w], 1.0)
    assert out[0, 0] == pytest.approx(4.0 / 3.0) and out[0, 1] == 4.0


def test_unreliable_flow_gets_no_weight():
    rng = np.random.default_rng(0)
    base = rng.random((40, 60)).astype(np.float32)
    still = np.zeros((40, 60, 2), np.float32)
    assert detail_fit.reliability(base, base, still, still, 0.03)[5:-5, 5:-5].min() == 1.0
    # a neighbour that shows something else (the flow claims no motion) must not count
    other = rng.random((40, 60)).astype(np.float32)
    assert detail_fit.reliability(base, other, still, still, 0.03).mean() < 0.05


def test_window_stays_bounded():
    p = DetailParams(radius=2)
    core = DetailStabilizer(64, 48, 255.0, p)
    rng = np.random.default_rng(1)
    emitted = []
    for i in range(12):
        planes = [rng.random((48, 64)).astype(np.float32) * 255, rng.random((24, 32)).astype(np.float32) * 255,
                  rng.random((24, 32)).astype(np.float32) * 255]
        emitted += [t for t, _, _ in core.feed(i, None, planes)]
        assert len(core.frames) <= 2 * p.radius + 1
    emitted += [t for t, _, _ in core.finish()]
    assert emitted == list(range(12))


def test_regenerated_texture_moves_closer_to_the_clean_clip(tmp_path):
    src, clean_path = clips.pair(tmp_path, "texture", seed=0, scene="pan")
    out = str(tmp_path / "fixed.mp4")
    result = DetailRoute().fix(src, out, {})
    clean, before, after = clips.load(clean_path), clips.load(src), clips.load(out)
    assert len(after) == len(before) == 16
    gain = clips.psnr(after, clean) - clips.psnr(before, clean)
    assert gain > 1.0, gain
    assert result.extra["working_space"] == "yuv420p planes"
    assert 0.0 < result.extra["mean_neighbour_weight"] <= 1.0
    assert probe(out).pix_fmt == "yuv420p"


def test_clean_moving_clip_keeps_its_detail(tmp_path):
    src, _ = clips.pair(tmp_path, "clean", seed=2, scene="objects")
    out = str(tmp_path / "fixed.mp4")
    DetailRoute().fix(src, out, {})
    before, after = clips.load(src), clips.load(out)
    score = float(np.mean([ssim(a, b) for a, b in zip(after, before)]))
    assert score >= 0.98, score


def test_flows_computed_ahead_give_the_same_frames():
    from flickerd.flow_source import AheadFlows, DirectFlows

    rng = np.random.default_rng(3)
    frames = [[rng.random((48, 64)).astype(np.float32) * 255, rng.random((24, 32)).astype(np.float32) * 255,
               rng.random((24, 32)).astype(np.float32) * 255] for _ in range(9)]

    def run(flows):
        core = DetailStabilizer(64, 48, 255.0, DetailParams(radius=2), flows)
        out = [o for i, f in enumerate(frames) for o in core.feed(i, None, f)] + list(core.finish())
        return [t for t, _, _ in out], [p for _, _, planes in out for p in planes]

    with AheadFlows() as ahead:
        order_a, planes_a = run(ahead)
    order_d, planes_d = run(DirectFlows())
    assert order_a == order_d == list(range(9))
    assert all(np.array_equal(a, d) for a, d in zip(planes_a, planes_d))
    assert ahead.pool._shutdown  # the worker thread is joined on exit

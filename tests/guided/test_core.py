"""The guided core on the shared neighbour window: bounded, every frame out once, flows from any source."""

from __future__ import annotations

import numpy as np

from flickerd.flow_source import AheadFlows, DirectFlows
from flickerd.routes.guided_core import GuidedStabilizer

from .conftest import H, W, scene


def _run(flows, radius: int = 2) -> tuple[list[int], list[np.ndarray], GuidedStabilizer]:
    frames = scene()
    rng = np.random.default_rng(5)
    core = GuidedStabilizer(255.0, radius, 0.03, 1.0, "fast", flows=flows)
    out = []
    for i, rgb in enumerate(frames):
        guide = np.ascontiguousarray(rgb[..., 1])
        # the render: the guide's frame with a per-frame jitter of level, planes at 4:2:0 sizes
        y = rgb[..., 1].astype(np.float32) + float(rng.normal(0, 6))
        planes = [y, np.ascontiguousarray(y[::2, ::2]), np.ascontiguousarray(y[::2, ::2])]
        out += core.feed(i, None, (planes, guide))
        assert len(core.frames) <= 2 * radius + 1
    out += core.finish()
    return [t for t, _, _ in out], [p for _, _, ps in out for p in ps], core


def test_every_frame_comes_out_once_in_order_from_a_bounded_window():
    order, planes, core = _run(DirectFlows())
    assert order == list(range(len(scene())))
    assert planes[0].shape == (H, W) and planes[1].shape == (H // 2, W // 2)
    assert 0.0 < core.mean_weight <= 1.0
    assert not core.pending


def test_flows_computed_ahead_give_the_same_frames():
    with AheadFlows() as ahead:
        order_a, planes_a, _ = _run(ahead)
    order_d, planes_d, _ = _run(DirectFlows())
    assert order_a == order_d
    assert all(np.array_equal(a, d) for a, d in zip(planes_a, planes_d))

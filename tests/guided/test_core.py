"""The guided core on the shared neighbour window: bounded, every frame out once, flows from any source."""

from __future__ import annotations

import cv2
import numpy as np

from flickerd.flow_source import AheadFlows, DirectFlows
from flickerd.routes import guided_core
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


def _fine_gains(planes: list[np.ndarray], guides: list[np.ndarray]) -> np.ndarray:
    sigma = guided_core.DETAIL_SIGMA
    return np.array([guided_core.detail_gain(guided_core.band(p / 255.0, sigma),
                                             guided_core.band(g.astype(np.float32) / 255.0, sigma))
                     for p, g in zip(planes, guides)], dtype=np.float64)


def test_a_per_frame_sharpening_the_guide_does_not_have_is_held_steady():
    # the render: the guide's frame, sharpened or softened by a random amount each frame (an
    # upscaler's or restyler's per-frame whim); the guide's own fine band is the same throughout
    frames = scene()
    guides = [np.ascontiguousarray(f[..., 1]) for f in frames]
    amounts = 0.6 * (-1.0) ** np.arange(len(frames))  # sharper, softer, sharper …
    renders = [np.clip(g + a * (g - cv2.GaussianBlur(g, (0, 0), 1.5)), 0, 255)
               for g, a in zip((g.astype(np.float32) for g in guides), amounts)]
    outs = {}
    for steady in (True, False):
        core = GuidedStabilizer(255.0, 2, 0.03, 1.0, "fast", detail_gain=steady)
        got = []
        for i, y in enumerate(renders):
            got += core.feed(i, None, ([y], guides[i]))
        got += core.finish()
        outs[steady] = [ps[0] for _, _, ps in got]
    before = _fine_gains(renders, guides).std()
    steadied = _fine_gains(outs[True], guides).std()
    plain = _fine_gains(outs[False], guides).std()
    assert before > 0.3
    # averaging alone leaves most of it where the warps disagree; the held gain removes it
    assert steadied < 0.25 * before, (before, steadied, plain)
    assert steadied < 0.6 * plain, (before, steadied, plain)


def test_at_strength_zero_the_render_comes_out_as_it_went_in():
    """``strength`` moves each frame toward the guided mean; at 0 nothing moves, the held
    fine-band gain included (it once rescaled the frame whatever the strength)."""
    frames = scene()
    guides = [np.ascontiguousarray(f[..., 1]) for f in frames]
    amounts = 0.6 * (-1.0) ** np.arange(len(frames))
    renders = [np.clip(g + a * (g - cv2.GaussianBlur(g, (0, 0), 1.5)), 0, 255)
               for g, a in zip((g.astype(np.float32) for g in guides), amounts)]
    core = GuidedStabilizer(255.0, 2, 0.03, 0.0, "fast")
    got = []
    for i, y in enumerate(renders):
        got += core.feed(i, None, ([y], guides[i]))
    got += core.finish()
    assert max(float(np.abs(ps[0] - renders[t]).max()) for t, _, ps in got) < 1e-3

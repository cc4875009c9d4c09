"""``normalize`` and ``detail`` with a guide: their flows follow the guide's motion, not the render's.

A guide of the render's own motion (at half size: any size is scaled) does what the render's
flow did; a still guide, which says nothing moves, must then spoil the pan's compensation:
that is what shows the motion came from the guide.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from flickerd.media import iter_frames
from flickerd.routes.guide_stream import GUIDE_PARAM
from flickerd.routes.registry import get_route
from tests.verify import clips

cv2.setNumThreads(1)


def _decoded(path: str) -> list[np.ndarray]:
    return [f.image.astype(np.float32) for f in iter_frames(path)]


def _psnr(a, b) -> float:
    return float(10 * np.log10(255.0**2 / np.mean([np.mean((x - y) ** 2) for x, y in zip(a, b)])))


@pytest.fixture(scope="module")
def pan(tmp_path_factory):
    d = tmp_path_factory.mktemp("guide_flows")
    frames = clips.moving_frames(16, speed=8.0)
    guide = clips.write(str(d / "guide.mp4"), [cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2)) for f in frames])
    still = clips.write(str(d / "still.mp4"), [frames[0]] * len(frames))
    return d, frames, guide, still


def test_normalize_takes_its_motion_from_the_guide(pan):
    d, frames, guide, still = pan
    src = clips.write(str(d / "flicker.mp4"), clips.luma_flicker(frames, 12.0))
    clean = _decoded(clips.write(str(d / "clean.mp4"), frames))
    gains = {}
    for name, g in (("blind", None), ("guide", guide), ("still", still)):
        out = str(d / f"norm_{name}.mp4")
        r = get_route("normalize").fix(src, out, {GUIDE_PARAM: g} if g else {})
        assert r.extra.get("flow_from_guide") == g
        gains[name] = _psnr(_decoded(out), clean) - _psnr(_decoded(src), clean)
    assert gains["guide"] > 5.0 and gains["guide"] == pytest.approx(gains["blind"], abs=0.5), gains
    assert gains["still"] < gains["guide"] - 5.0, gains  # the still guide's motion misses the pan


def test_detail_takes_its_motion_from_the_guide(pan):
    d, frames, guide, still = pan
    rng = np.random.default_rng(0)
    boiling = [np.clip(f + cv2.GaussianBlur(rng.normal(0, 10, f.shape[:2]).astype(np.float32), (0, 0), 0.7)[..., None],
                       0, 255) for f in frames]
    src = clips.write(str(d / "boiling.mp4"), boiling)
    weight = {}
    for name, g in (("blind", None), ("guide", guide), ("still", still)):
        r = get_route("detail").fix(src, str(d / f"detail_{name}.mp4"), {GUIDE_PARAM: g} if g else {})
        weight[name] = r.extra["mean_neighbour_weight"]  # the share of neighbours' pixels the flow aligned
    assert weight["guide"] > 0.4 and weight["guide"] == pytest.approx(weight["blind"], abs=0.1), weight
    assert weight["still"] < 0.1, weight

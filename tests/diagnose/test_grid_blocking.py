"""Blocking on the 16-px grid too (``codec.grid_blocking``): macroblock edges and halved re-uploads,
whose blocks sit on every other 8-px line, where the 8-px median half dilutes them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench import real_renders as rr
from flickerd.diagnose import codec
from flickerd.diagnose.model import Verdict
from flickerd.diagnose.settings import DiagnoseSettings

S = DiagnoseSettings()


def _scene(h: int = 256, w: int = 384, seed: int = 0) -> np.ndarray:
    """A smooth gradient with soft detail: no grid of its own."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 60 + 0.3 * xx + 0.2 * yy + cv2.GaussianBlur(rng.normal(0, 12, (h, w)).astype(np.float32), (0, 0), 2.0)
    return np.clip(img, 0, 255)


def _blocks(img: np.ndarray, size: int, weight: float = 0.2) -> np.ndarray:
    """Each ``size``×``size`` block pulled ``weight`` of the way to its mean (a coarse quantiser's DC)."""
    h, w = img.shape
    means = cv2.resize(cv2.resize(img, (w // size, h // size), interpolation=cv2.INTER_AREA), (w, h),
                       interpolation=cv2.INTER_NEAREST)
    return (1 - weight) * img + weight * means


def test_blocks_on_the_16px_grid_read_blocky():
    scene = _scene()
    re_upload = _blocks(scene, 16).astype(np.uint8)  # 8-px blocks of a halved frame, doubled
    assert codec.blocking(re_upload, 8) < S.blocking_threshold  # every other 8-px line has no step
    assert codec.grid_blocking(re_upload, 8) > S.blocking_threshold
    # a frame without a grid stays about 1, and 8-px blocks read as before
    assert codec.grid_blocking(scene.astype(np.uint8), 8) < 1.15
    # 8-px blocks step on the 16-px lines as much as on the others: the 8-px reading stands
    eight = _blocks(scene, 8).astype(np.uint8)
    assert codec.blocking(eight, 8) > S.blocking_threshold
    assert codec.grid_blocking(eight, 8) == pytest.approx(codec.blocking(eight, 8))


def test_the_coarse_grid_counts_only_with_enough_lines():
    """On a frame with a handful of 16-px lines the coarse median is noise: only the 8-px reading counts."""
    blocks = _blocks(_scene(), 16)
    small = blocks[:24, :40].astype(np.uint8)  # 2 + 1 coarse lines
    assert codec.grid_blocking(small, 8) == pytest.approx(codec.blocking(small, 8))
    larger = blocks[:96, :160].astype(np.uint8)  # the same blocks, 15 coarse lines
    assert codec.grid_blocking(larger, 8) > codec.blocking(larger, 8)


@pytest.mark.slow
@pytest.mark.skipif(rr.renders_dir() is None, reason=rr.NO_RENDERS)
def test_a_halved_re_upload_is_codec_damage(tmp_path):
    """FastHunyuan's noodles halved, encoded at CRF 45, doubled and encoded again at CRF 16 (fit half,
    ``bench real_renders --codec-forms``): 8-px blocking 1.43 against 1.467, so it was called clean."""
    from flickerd.diagnose import run
    from flickerd.synth.real import Variant

    name = "hao-ai-lab__FastVideo__FastHunyuan__will_smith_noodles.mp4"
    assert rr.split()[name]["side"] == "fit"
    clip = tmp_path / "rescale.mp4"
    rr.make_clip(Variant(name, "codec_rescale", 1.0, 0), str(rr.renders_dir() / name), None, rr.CI_FRAMES,
                 rr.CI_MAX_SIDE, clip)
    d = run(clip, DiagnoseSettings(timeline=False))
    assert d.scores["blocking"] > S.blocking_threshold
    assert d.verdict is Verdict.CODEC_ARTIFACTS

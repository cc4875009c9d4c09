"""Smoothing on the shared flicker corpus (flickerd.synth.corpus): PSNR against the clean shot."""

import numpy as np
import pytest
import torch

from flickerd.routes.rife.smooth import smooth
from tests.rife import clips

corpus = pytest.importorskip("flickerd.synth.corpus")


def _gain(kind: str, scene: str, rife) -> tuple[float, float]:
    spec = corpus.ClipSpec(seed=0, kind=kind, frames=12, scene=scene)
    flick = list(corpus.frames(spec))
    truth = list(corpus.clean_frames(spec))
    tensors = (torch.from_numpy(f).permute(2, 0, 1).float() / 255.0 for f in flick)
    out = [(t.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8) for t in smooth(tensors, rife)]
    return clips.clip_psnr(out, truth) - clips.clip_psnr(flick, truth), min(clips.ssim(o, i) for o, i in zip(out, flick))


@pytest.mark.parametrize(
    ("kind", "least"),
    [("luma", 2.0), ("breathing", 1.0), ("chroma", 0.5), ("texture", -0.1), ("clean", None)],
)
def test_panning_shot(kind, least, rife):
    gain, worst_ssim = _gain(kind, "pan", rife)
    if least is None:
        assert worst_ssim >= 0.98  # clean footage is left (almost) as it was
    else:
        assert gain >= least, gain


def test_a_cut_is_left_alone(rife):
    spec = corpus.ClipSpec(seed=1, kind="clean", frames=12, cuts=(6,))
    frames = list(corpus.frames(spec))
    weights: list[list[tuple[float, float]]] = []
    tensors = (torch.from_numpy(f).permute(2, 0, 1).float() / 255.0 for f in frames)
    out = [(t.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8) for t in smooth(tensors, rife, on_pass_weight=weights)]
    coarse = [c for c, _ in weights[0]]
    assert coarse[5] < 0.05 and coarse[6] < 0.05  # the two frames whose neighbours straddle the cut
    assert min(coarse[1:4] + coarse[8:11]) > 0.25  # the rest of each shot is still smoothed
    assert clips.psnr(out[5], frames[5]) > 45 and clips.psnr(out[6], frames[6]) > 45

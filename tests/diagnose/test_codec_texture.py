"""Texture over its threshold on a blocky clip: the codec's re-quantised detail when its residual
spreads past the finest band (``verdict.codec_texture``), re-drawn texture when it stays there."""

from __future__ import annotations

import pytest

from bench import real_renders as rr
from flickerd.diagnose import verdict
from flickerd.diagnose.model import Verdict
from flickerd.diagnose.settings import DiagnoseSettings

S = DiagnoseSettings()


def _scores(**over) -> dict[str, float]:
    scores = dict.fromkeys(verdict.SCORE_NAMES, 0.0) | {"iframe_spike": 1.0}
    return scores | over


def test_broadband_texture_on_a_blocky_clip_is_the_codecs():
    # HunyuanVideo STA's noodles at x264 CRF 45 (fit half): blocking 1.86, texture 0.69, excess -0.68
    codec = _scores(blocking=1.86, texture_flicker=0.69, texture_flicker_all=0.84, texture_excess=-0.68)
    assert verdict.decide(codec, S)[0] is Verdict.CODEC_ARTIFACTS
    # the same texture ratio left in the finest band is re-drawn texture on a damaged clip
    redrawn = codec | {"texture_excess": 0.34}
    assert verdict.decide(redrawn, S)[0] is Verdict.MIXED
    # and broadband texture on a clip that is not blocky stays the render's own (a boiling render)
    boiling = codec | {"blocking": 1.2}
    assert verdict.decide(boiling, S)[0] is Verdict.GENERATIVE_FLICKER
    # other generative measures still count on a blocky clip
    assert verdict.decide(codec | {"luma_flicker": 1.2}, S)[0] is Verdict.MIXED


def test_segments_leave_out_the_codecs_texture():
    n = 8
    series = {k: [0.0] * n for k in ("mean_diff", "luma_flicker", "luma_raw", "chroma_flicker", "local", "warp",
                                     "failure", "banding", "incoherent", "fade")}
    series |= {"texture": [0.8] * n, "texture_off_grid": [0.69] * n, "texture_excess": [-0.7] * n,
               "texture_excess_off_grid": [-0.68] * n, "keyframe": [False] * n, "cuts": []}

    class Flat:
        def score(self) -> float:
            return 0.0

    series["local_map"] = Flat()
    scores, segments = verdict.scores_and_segments(series, 1.86, S)
    assert scores["texture_flicker"] > S.texture_threshold  # the score is kept, as measured
    assert not [s for s in segments if s.kind == "texture"]
    _, segments = verdict.scores_and_segments(series, 1.2, S)  # not blocky: texture flicker
    assert [s for s in segments if s.kind == "texture"]


@pytest.mark.slow
@pytest.mark.skipif(rr.renders_dir() is None, reason=rr.NO_RENDERS)
def test_a_heavy_encode_that_makes_texture_flicker_is_codec_damage(tmp_path):
    """HunyuanVideo STA's noodles at x264 CRF 45 (the bench's codec clip, fit half): unlike most
    renders, whose detail the encode smooths away, its re-quantised detail reads as texture flicker
    even off the block grid (0.69 against 0.43; the render as it is 0.22), so it was called mixed."""
    from flickerd.diagnose import run
    from flickerd.synth.real import Variant

    name = "hao-ai-lab__FastVideo__hunyuan_STA__will_smith_noodles.mp4"
    assert rr.split()[name]["side"] == "fit"
    clip = tmp_path / "codec.mp4"
    rr.make_clip(Variant(name, "codec", 1.0, 0), str(rr.renders_dir() / name), None, rr.CI_FRAMES, rr.CI_MAX_SIDE, clip)
    d = run(clip, DiagnoseSettings(timeline=False))
    assert d.scores["blocking"] > S.blocking_threshold
    assert d.scores["texture_flicker"] > S.texture_threshold  # off the grid too
    assert d.scores["texture_excess"] < verdict.CODEC_TEXTURE_EXCESS
    assert d.verdict is Verdict.CODEC_ARTIFACTS

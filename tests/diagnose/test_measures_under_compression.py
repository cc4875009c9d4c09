"""Measures that must hold up on heavily compressed clips: I-frame blocking and local flicker where flow fails."""

import numpy as np
import pytest

from flickerd.diagnose import Verdict, codec, local


def test_blocking_score_takes_the_i_frames_when_they_are_blockier():
    values = [2.1, np.nan, 1.1, np.nan, 1.0, 1.2]
    keys = [True, False, False, False, False, False]
    assert codec.blocking_score(values, keys) == pytest.approx(2.1)
    assert codec.blocking_score([1.0, 1.1, 1.2], [True, False, False]) == pytest.approx(1.1)
    assert np.isnan(codec.blocking_score([np.nan, np.nan], [True, False]))


def test_high_crf_pan_is_scored_on_its_i_frame(diagnosed):
    """At CRF 45 a pan's P-frames copy moved blocks off the 8x8 grid; the I-frame shows them on it."""
    d = diagnosed("crf", seed=7, scene="pan")
    measured = [(p.blocking, p.keyframe) for p in d.timeline if p.blocking is not None]
    on_key = [b for b, k in measured if k]
    assert on_key and d.scores["blocking"] == pytest.approx(max(on_key[0], np.median([b for b, _ in measured])))
    assert on_key[0] > np.median([b for b, k in measured if not k])
    assert d.verdict is Verdict.CODEC_ARTIFACTS


def test_sparse_flow_cells_fall_back_to_the_clipped_plain_mean():
    residual = np.zeros((60, 80), np.float32)
    residual[:30, :40] = 6.0  # top-left region brighter than its warped neighbour
    residual[45, 60] = 500.0  # an occlusion outlier
    mask = np.ones_like(residual, bool)
    mask[:30, :40] = False  # the flow failed exactly there
    cells = local.cell_means(residual, mask, (2, 2))
    assert cells[0, 0] == pytest.approx(6.0)
    assert cells[1, 1] == pytest.approx(500.0 / (30 * 40))  # a well-covered cell keeps its plain masked mean
    mask[45, 60] = False
    mask[30:, 40:] = False  # now fully uncovered: the outlier counts only up to the clip
    cells = local.cell_means(residual, mask, (2, 2))
    assert cells[1, 1] == pytest.approx(local.FALLBACK_CLIP / (30 * 40))


def test_local_score_is_regions_above_the_frame():
    m = local.LocalMap((2, 4))
    for t in range(6):
        sign = 1 if t % 2 else -1
        m.add(sign * np.array([[4.0, 4.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]))
    # every cell flickers by 1, a region of two cells by 4: the score is the excess of the worst quarter
    assert m.score() == pytest.approx(4.0 - 1.0)


def test_breathing_region_survives_a_crf_42_encode(diagnosed):
    """A mixed clip (training seed 4): a breathing region under CRF 42, where the flow check fails."""
    d = diagnosed("mixed", seed=4, width=256, height=144)
    assert d.scores["local_flicker"] > 1.0
    assert d.verdict is Verdict.MIXED

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


def test_a_cell_level_is_what_most_of_its_pixels_agree_on():
    """A region's brightness change moves a cell's level; a flow failure on its minority does not."""
    residual = np.zeros((60, 80), np.float32)
    residual[:30, :40] = 6.0  # the top-left region is brighter than its warped neighbour
    assert local.cell_levels(residual, (2, 2)).tolist() == [[6.0, 0.0], [0.0, 0.0]]
    # a moved edge the flow missed: a strip of large residuals in one cell (its mean moves by 8)
    residual[30:34, 40:] = 120.0
    assert local.cell_levels(residual, (2, 2))[1, 1] == 0.0
    # even a flow failure covering most of a breathing cell's rows on one side leaves its level
    residual[:12, :40] = -90.0
    assert local.cell_levels(residual, (2, 2))[0, 0] == 6.0


def test_a_tiny_frame_has_no_level_for_its_empty_cells():
    cells = local.cell_levels(np.ones((4, 80), np.float32), (6, 8))
    assert np.isnan(cells[0]).all() and (cells[1] == 1.0).all()


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

"""Local flicker judges only content still in view: what a fast pan brings in has no counterpart."""

import numpy as np
import pytest

import bench.real_renders as rr
from flickerd.diagnose import local, run
from flickerd.diagnose.settings import DiagnoseSettings


def test_a_cell_mostly_out_of_view_is_not_measured():
    residual = np.zeros((40, 40), np.float32)
    inside = np.ones((40, 40), bool)
    inside[:, :12] = False  # the left cell (20 px wide) is 60% out of view: the warp put the border there
    residual[:, :12] = 90.0
    inside[:6, 20:] = False  # the right cell 30% out: its median is the rest's
    residual[:6, 20:] = -90.0
    residual[6:, 20:] = 3.0
    plain = local.cell_levels(residual, (1, 2))
    assert plain[0, 0] == 90.0  # every pixel counted: the border's copy is the cell's level
    judged = local.cell_levels(residual, (1, 2), inside)
    assert np.isnan(judged[0, 0])
    assert judged[0, 1] == 3.0


FAST = "hao-ai-lab__FastVideo__SFWan2.1-T2V-1.3B__will_smith_noodles.mp4"  # fit side; clean as it is


@pytest.mark.slow
@pytest.mark.skipif(rr.renders_dir() is None, reason=rr.NO_RENDERS)
def test_a_clean_real_render_panned_60_px_a_frame_reads_clean(tmp_path):
    from flickerd.synth.real import Variant

    clip = tmp_path / "pan.mp4"
    rr.make_clip(Variant(FAST, "pan", 60.0, 0), str(rr.renders_dir() / FAST), None, rr.CI_FRAMES, rr.CI_MAX_SIDE, clip)
    s = DiagnoseSettings(timeline=False)
    d = run(clip, s)
    assert d.scores["local_flicker"] < s.local_threshold / 2, d.scores  # 1.35 when the border counted
    assert d.verdict.value == "clean"

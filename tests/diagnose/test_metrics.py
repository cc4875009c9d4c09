"""Each measure on generated clips with known content, plus its pure core on arrays."""

import numpy as np
import pytest

from flickerd.diagnose import blockdetect, codec, cuts, global_flicker, warping
from flickerd.quality import texture
from flickerd.diagnose.local import LocalMap
from flickerd.diagnose.settings import DiagnoseSettings
from flickerd.synth.corpus import ClipSpec, clean_frames, frames


def test_second_difference_ignores_ramps_and_catches_alternation():
    ramp = np.linspace(100, 140, 20)
    assert np.nanmax(global_flicker.second_difference(ramp)) < 1e-9
    flick = 120 + 3 * (-1) ** np.arange(20)
    assert np.nanmean(global_flicker.second_difference(flick)) == pytest.approx(6.0)
    # a triple that spans a cut is not measured
    sd = global_flicker.second_difference(flick, exclude={10})
    assert np.isnan(sd[9]) and np.isnan(sd[10]) and not np.isnan(sd[8])


def test_luma_flicker_rises_with_strength(diagnosed):
    scores = [diagnosed("luma", strength=s).scores["luma_flicker"] for s in (0.3, 1.0)]
    base = diagnosed("clean").scores["luma_flicker"]
    assert base < 0.2 < scores[0] < scores[1]


def test_exposure_ramp_is_not_flicker(diagnosed):
    d = diagnosed("clean", scene="ramp")
    raw_change = abs(d.timeline[-1].luma - d.timeline[0].luma)
    assert raw_change > 8  # the exposure really ramps
    assert d.scores["luma_flicker"] < 0.2
    assert d.verdict.value == "clean"


def test_chroma_flicker_separates_from_luma(diagnosed):
    chroma = diagnosed("chroma").scores
    clean = diagnosed("clean").scores
    assert chroma["chroma_flicker"] > 5 * max(clean["chroma_flicker"], 0.05)
    assert chroma["luma_flicker"] < chroma["chroma_flicker"]


def test_cut_found_at_its_frame_and_not_counted_as_flicker(diagnosed):
    d = diagnosed("clean", cuts=(13,))
    assert d.cuts == (13,)
    assert d.timeline[13].cut
    assert d.scores["luma_flicker"] < 0.2
    assert d.verdict.value == "clean"


def test_histogram_jump_pure():
    a = np.zeros((32, 32, 3), np.uint8)
    b = np.full((32, 32, 3), 255, np.uint8)
    assert cuts.histogram_jump(cuts.histogram(a), cuts.histogram(a)) == 0
    assert cuts.histogram_jump(cuts.histogram(a), cuts.histogram(b)) == pytest.approx(1.0)


def test_warping_error_low_on_clean_pan_and_rises_with_regenerated_texture():
    spec = ClipSpec(seed=4, kind="texture", scene="pan", frames=8)
    clean = list(warping.warp_errors(clean_frames(spec)))
    flick = list(warping.warp_errors(frames(spec)))
    assert len(clean) == 7
    assert np.mean(clean) < 0.01
    assert np.mean(flick) > 2 * np.mean(clean)


def test_warp_errors_with_the_inputs_flow():
    spec = ClipSpec(seed=4, kind="luma", scene="pan", frames=6)
    # scoring the clean clip with the flickering input's flow: low, like its own flow
    own = np.mean(list(warping.warp_errors(clean_frames(spec))))
    borrowed = np.mean(list(warping.warp_errors(clean_frames(spec), frames(spec))))
    flicker = np.mean(list(warping.warp_errors(frames(spec), frames(spec))))
    assert borrowed < 2 * own + 1e-3
    assert flicker > borrowed
    with pytest.raises(ValueError):
        list(warping.warp_errors(clean_frames(spec), (f[:32] for f in frames(spec))))


def test_texture_ratio_tracks_regeneration(diagnosed):
    assert diagnosed("texture").scores["texture_flicker"] > 2 * diagnosed("clean").scores["texture_flicker"]
    rng = np.random.default_rng(0)
    a = rng.normal(128, 20, (64, 64)).astype(np.float32)
    mask = np.ones((64, 64), bool)
    assert texture.texture_ratio(a, a, mask) == 0
    assert texture.texture_ratio(a, rng.normal(128, 20, (64, 64)).astype(np.float32), mask) > 1.5


def test_breathing_region_shows_on_the_local_map(diagnosed):
    d = diagnosed("breathing")
    assert d.scores["local_flicker"] > 2.5 * diagnosed("clean").scores["local_flicker"]
    assert any(s.kind == "local" for s in d.segments)


def test_local_map_pure():
    m = LocalMap((2, 2))
    for t in range(6):
        cells = np.zeros((2, 2))
        cells[0, 0] = cells[0, 1] = 4 * (-1) ** t  # a region across the top row
        m.add(cells)
    assert m.map[0, 0] == pytest.approx(4.0) and m.map[0, 1] == pytest.approx(4.0)
    assert m.map[1, 1] == 0


def test_high_crf_blockier_than_low(diagnosed):
    assert diagnosed("crf").scores["blocking"] > diagnosed("clean").scores["blocking"] + 0.3


def test_blocking_pure_on_a_block_pattern():
    rng = np.random.default_rng(1)
    smooth = np.tile(np.linspace(50, 200, 64), (64, 1)).astype(np.uint8)
    blocks = np.kron(rng.integers(60, 190, (8, 8)), np.ones((8, 8))).astype(np.uint8)
    mixed = np.clip(smooth * 0.5 + blocks * 0.5 + rng.normal(0, 2, (64, 64)), 0, 255).astype(np.uint8)
    assert codec.blocking(mixed) > 3
    noisy = np.clip(smooth + rng.normal(0, 4, (64, 64)), 0, 255).astype(np.uint8)
    assert codec.blocking(noisy) < 1.2


def test_banding_on_posterised_gradient():
    grad = np.tile(np.linspace(60, 120, 160), (96, 1))
    smooth = np.round(grad).astype(np.uint8)
    banded = (np.floor(grad / 8) * 8).astype(np.uint8)
    assert codec.banding(smooth) < 0.01
    assert codec.banding(banded) > 0.1


def test_banding_clip_scores_above_clean(diagnosed):
    assert diagnosed("banding").scores["banding"] > 3 * max(diagnosed("clean").scores["banding"], 0.003)


def test_incoherent_object_swaps(diagnosed):
    threshold = DiagnoseSettings().incoherence_threshold
    assert diagnosed("incoherent").scores["incoherence"] > threshold  # the largest isolated replaced area
    assert diagnosed("clean").scores["incoherence"] < 0.5 * threshold


def test_replaced_content_counts_where_it_sits_and_fast_motion_cancels():
    from flickerd.diagnose.incoherence import incoherence_score, isolated

    swap = [0.0, 0.01, 0.0, 0.12, 0.0, 0.01, 0.0, 0.11, 0.0]  # an object swapped in and back out
    chase = [0.05, 0.07, 0.06, 0.08, 0.06, 0.07, 0.05]  # a subject faster than the flow, pair after pair
    assert incoherence_score(isolated(swap)) == pytest.approx(0.11)
    assert incoherence_score(isolated(chase)) < 0.03
    gaps = [np.nan, 0.0, 0.0, 0.1, np.nan, np.nan, 0.0, 0.0]  # unmeasured pairs are no neighbours
    assert np.isnan(isolated(gaps)[0]) and isolated(gaps)[3] == pytest.approx(0.1)
    # the first and last measured pairs have no neighbour on one side: they cannot stand alone
    edges = [0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3]
    assert isolated(edges)[0] == 0.0 and isolated(edges)[7] == 0.0 and incoherence_score(isolated(edges)) == 0.0
    assert isolated([0.0, 0.2, 0.0, 0.0])[1] == pytest.approx(0.2)  # one neighbour a side is enough


def test_iframe_spike_pure():
    errors = [np.nan, 1, 1, 5, 1, 1, 5]
    keys = [True, False, False, True, False, False, True]
    assert codec.iframe_spike(errors, keys) == pytest.approx(5.0)
    assert codec.iframe_spike(errors, [False] * 7) == 1.0
    assert codec.iframe_spike(errors, [True, False, False, True, False, False, False]) == 1.0  # one is not a pattern


def test_own_blocking_agrees_with_ffmpeg_blockdetect(make_clip):
    """The own 8x8 measure ranks clips like ffmpeg's blockdetect does."""
    import av

    def ours(path):
        with av.open(path) as c:
            return np.median([codec.blocking(f.to_ndarray(format="gray")) for f in c.decode(video=0)])

    clean, crf = make_clip("clean"), make_clip("crf")
    ffmpeg_clean = blockdetect.BlockDetect(clean, 24, 24).result()
    ffmpeg_crf = blockdetect.BlockDetect(crf, 24, 24).result()
    assert ffmpeg_crf > ffmpeg_clean + 0.5
    assert ours(crf) > ours(clean) + 0.3

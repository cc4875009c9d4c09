"""Window drift and seams: the pure measures on made-up statistics, then the engine on a real
render with window drift put into it (skipped, saying so, without the real renders)."""

import numpy as np
import pytest

from bench import real_renders as rr
from flickerd.diagnose import drift


def _stats(n=120, seams=(40, 80), step=(5.0, 2.0, -2.0), flash=(8.0, 2), ramp=0.0, seed=0):
    """Per-frame STATS: noisy levels, a step at each seam, a flash of ``flash[1]`` frames after it."""
    rng = np.random.default_rng(seed)
    s = np.zeros((n, 5))
    s[:] = (110.0, 126.0, 131.0, 50.0, 20.0)
    s[:, 0] += ramp * np.arange(n)
    for j, at in enumerate(seams, 1):
        s[at:, :3] += step
        s[at:, 4] *= 1.05
        s[at:at + flash[1], 0] += flash[0]
    return s + rng.normal(0, 0.15, s.shape)


def test_seams_are_found_at_the_join_despite_the_flash():
    assert drift.find_seams(_stats()) == (40, 80)
    assert drift.find_seams(_stats(step=(-4.0, 0.0, 0.0), flash=(8.0, 1))) == (40, 80)


def test_ramps_and_noise_are_not_seams():
    assert drift.find_seams(_stats(seams=())) == ()
    # a fade of 0.5 grey levels a frame: 60 levels over the clip, no seam in it
    assert drift.find_seams(_stats(seams=(), ramp=-0.5)) == ()
    # a lone flash is not a seam: the level comes back
    s = _stats(seams=())
    s[50:52, 0] += 10
    assert drift.find_seams(s) == ()


def test_a_cut_is_not_a_seam_and_given_seams_are_kept():
    s = _stats(seams=(40,))
    assert drift.find_seams(s, cuts={40}) == ()
    assert drift.find_seams(_stats(seams=()), given=(60,)) == (60,)


def test_drift_sums_the_steps_per_100_frames():
    s = _stats(flash=(0.0, 0))
    grey, sat = drift.drift(s, (40, 80))
    assert grey == pytest.approx(2 * 5.0 * 100 / 120, rel=0.1)
    assert sat == pytest.approx(100 * (20 * 1.05 ** 2 - 20) / 20 * 100 / 120, rel=0.15)
    assert drift.drift(s, ()) == (0.0, 0.0)
    # a steady ramp around a seam is not counted in its step
    ramped = drift.drift(_stats(flash=(0.0, 0), ramp=0.3), (40, 80))[0]
    assert ramped == pytest.approx(grey, rel=0.1)


def test_seam_step_is_the_jump_beyond_the_usual_change():
    s = _stats(flash=(0.0, 0))
    assert drift.seam_step(s, (40, 80)) == pytest.approx(5.0, abs=0.6)
    assert drift.seam_step(_stats(seams=()), (40, 80)) < 0.6


RENDERS = rr.renders_dir()
REAL = ("hao-ai-lab__FastVideo__FastMochi_0.mp4", "hao-ai-lab__FastVideo__hunyuan_STA__woman_reading.mp4")


@pytest.mark.slow
@pytest.mark.skipif(RENDERS is None, reason=rr.NO_RENDERS)
@pytest.mark.parametrize("name", REAL)
def test_engine_finds_the_seams_of_a_real_render(name, tmp_path):
    from flickerd.diagnose import run
    from flickerd.synth import drift as synth
    from flickerd.synth.real import encode, load

    render, fps = load(RENDERS / name, 250, 416)
    damaged, d = synth.damage(render, seed=0)
    clean = run(encode(render, tmp_path / "truth.mp4", fps=fps))
    hurt = run(encode(damaged, tmp_path / "drift.mp4", fps=fps))
    assert clean.seams == () and clean.scores["drift"] == 0.0 and clean.scores["seams"] == 0.0
    assert len(hurt.seams) == len(d.seams) and all(abs(a - b) <= 1 for a, b in zip(hurt.seams, d.seams))
    assert hurt.scores["drift"] > 3.0  # grey levels per 100 frames: 3–8 a window
    assert hurt.to_json(timeline=False)["seams"] == list(hurt.seams)


def test_seams_keep_to_one_period():
    assert drift.regular([20, 40, 61, 75]) == (20, 40, 61)
    assert drift.regular([30, 75]) == (30, 75)  # two say nothing about a period
    # a weaker step where the period puts the next window is a seam too
    s = _stats(n=170, seams=(40, 80, 120), flash=(0.0, 0))
    s[120:, :3] -= (3.6, 1.4, -1.4)  # the third window steps by a third as much as the others
    s[120:, 4] /= 1.05
    assert drift.find_seams(s) == (40, 80, 120)


def test_levels_follow_the_motion_compensated_offsets_not_the_frame_means():
    n = 30
    means = np.tile([120.0, 128.0, 128.0], (n, 1))
    means[10:, 0] += 6.0  # a bright object comes into view at frame 10: the means move, the tone does not
    offsets: list = [None] + [np.zeros(3)] * (n - 1)
    offsets[20] = np.array([-4.0, 1.0, 0.0])  # frame 19 minus frame 20 warped: frame 20 is 4 levels brighter
    levels = drift.compensated_levels(means, offsets)
    assert np.allclose(levels[:20], levels[0]) and np.allclose(levels[20:], levels[0] + (4.0, -1.0, 0.0))
    # where no pair was analysed the frame means carry the level; an undecoded frame is bridged
    means[25:, 0] += 3.0
    means[24] = np.nan
    for t in (24, 25):
        offsets[t] = None
    assert drift.compensated_levels(means, offsets)[25, 0] == pytest.approx(levels[0, 0] + 7.0)
    # a cut is a new shot: the means, never a warp across it
    offsets[20] = np.array([-40.0, 0.0, 0.0])
    assert drift.compensated_levels(means, offsets, cuts={20})[20, 0] == pytest.approx(levels[0, 0])


def _texture(seed: int, h: int = 36, w: int = 64) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.uniform(40, 200, (h, w)).astype(np.float32), (0, 0), 1.5)


def test_thumb_offset_sees_a_tone_step_through_motion_and_not_an_object():
    y = _texture(1)
    cb, cr = np.full_like(y, 120.0), np.full_like(y, 136.0)
    moved = [np.roll(p, 2, axis=1) for p in (y, cb, cr)]  # the camera pans 2 px
    stepped = [moved[0] + 5.0, moved[1] - 2.0, moved[2]]  # and the next window is 5 levels brighter
    o = drift.thumb_offset([y, cb, cr], stepped)
    assert o == pytest.approx([-5.0, 2.0, 0.0], abs=0.6)
    # a bright object enters (the frame mean rises by ~4 levels): no tone step
    entered = [p.copy() for p in moved]
    entered[0][10:26, 20:36] = 250.0
    assert np.abs(drift.thumb_offset([y, cb, cr], entered)) .max() < 0.6
    # studio-range planes come out in full-range grey levels
    assert drift.thumb_offset([y, cb, cr], stepped, full_range=False)[0] == pytest.approx(-5.0 * 255 / 219, abs=0.7)


def test_a_flash_that_cancels_the_luma_step_does_not_move_the_seam():
    # the flash (+6 for 3 frames) about cancels the window's luma step (−6): only chroma and
    # saturation step at the join; the split whose left-out frames sit at neither level is the join
    for seed in range(5):
        s = _stats(n=250, seams=(81, 162), step=(-6.0, -0.7, 0.5), flash=(6.0, 3), seed=seed)
        assert drift.find_seams(s) == (81, 162)


def test_a_flash_that_cancels_the_luma_step_in_a_still_scene_leaves_the_seam_on_the_join():
    # a still scene (image-to-video): the flash (+7.5 for 2 frames) cancels the luma step (−7.5)
    # and chroma hardly steps, so only saturation (+5%) marks the join during the flash; the split
    # that pays for each left-out frame put the seam after the flash (the fit half's hatching egg)
    for seed in range(6):
        s = _stats(n=45, seams=(22,), step=(-7.5, -0.4, -0.1), flash=(7.5, 2), seed=seed)
        assert drift.find_seams(s) == (22,)
        s = _stats(n=120, seams=(40, 80), step=(-7.5, -0.4, -0.1), flash=(7.5, 2), seed=seed)
        assert drift.find_seams(s) == (40, 80)
    # saturation that climbs a little every frame moves no seam before its join
    for seed in range(4):
        s = _stats(n=120, seams=(40, 80), step=(-7.5, -0.4, -0.1), flash=(7.5, 2), seed=seed)
        s[:, 4] += 0.3 * np.arange(120)
        found = drift.find_seams(s)
        assert len(found) == 2 and 40 <= found[0] <= 42 and 80 <= found[1] <= 82


def test_a_flash_that_overshoots_the_luma_step_amid_changing_content_leaves_the_seam_on_the_join():
    # the flash (+7.5 for 2 frames) overshoots the luma step (−6.5) by 1 grey level, chroma hardly
    # steps and the content's own saturation swings (an egg hatching): the flash frames sit near
    # the old level, and the split that pays for each left-out frame put the seam after them
    def clip(n, seams, seed):
        s = _stats(n=n, seams=seams, step=(-6.5, -0.2, 0.0), flash=(7.5, 2), seed=seed)
        s[:, 4] += np.cumsum(np.random.default_rng(seed + 9).normal(0, 2.0, n))
        return s

    assert [drift.find_seams(clip(45, (22,), seed)) for seed in range(8)] == [(22,)] * 8  # 3 of 8 before
    found = [drift.find_seams(clip(120, (40, 80), seed)) for seed in range(8)]
    assert all(len(f) == 2 and 40 <= f[0] <= 42 and 80 <= f[1] <= 82 for f in found)
    assert sum(f[0] == 40 for f in found) + sum(f[1] == 80 for f in found) >= 12  # 7 of 16 before


def test_a_seam_moved_onto_its_join_keeps_its_distance_from_given_seams_and_cuts():
    # the flash cancels the luma step, so the search places the seam at 42 and ``onset`` moves it
    # back to the join at 40; not so far that it sits within SEAM_GAP of a given seam before it
    # (the same join corrected twice), nor within FLASH of a cut (before: (36, 40), (37, 40), (40,))
    s = _stats(n=90, seams=(40,), step=(-7.5, -0.4, -0.1), flash=(7.5, 2), seed=3)
    assert drift.find_seams(s) == (40,)
    for g in (36, 37):
        found = drift.find_seams(s, given=(g,))
        # 42: where the search puts it; moved back no closer than SEAM_GAP to the given seam
        assert found[0] == g and len(found) == 2 and min(g + drift.SEAM_GAP, 42) <= found[1] <= 42
    for c in (37, 38):
        found = drift.find_seams(s, cuts={c})
        assert len(found) == 1 and found[0] - c > drift.FLASH, found
    assert drift.find_seams(s, given=(45,)) == (45,)  # a found seam near a given one is that one


def test_a_lone_light_change_in_a_moving_scene_is_not_a_seam_but_a_period_is():
    """A light comes on at frame 60 (+4.5 grey levels, warmer) in a scene whose own tone moves
    from frame to frame: one step, no period, levels that are not flat — not a window seam.
    The same steps recurring every 40 frames are."""
    wobble = 1.0 * np.sin(2 * np.pi * np.arange(120) / 4.3)
    s = _stats(n=120, seams=(), seed=0)
    s[:, 0] += wobble
    s[60:, 0] += 4.5
    s[60:, 2] += 0.8
    assert drift.find_seams(s) == ()
    assert drift.find_seams(s, given=(60,)) == (60,)  # the sidecar names it: a seam
    p = _stats(n=120, seams=(40, 80), step=(4.5, 0.0, 0.8), flash=(0.0, 0), seed=0)
    p[:, 0] += wobble
    assert drift.find_seams(p) == (40, 80)


def test_light_that_rises_over_a_few_frames_is_not_a_seam():
    """A light rising over 3–4 frames (7 grey levels, warmer) fits two flat levels with the
    frames between left out as a "flash"; but no one pair carries half the step, as a join's do."""
    for frames in (3, 4):
        s = _stats(n=120, seams=(), seed=0)
        ramp = np.clip((np.arange(120) - 59) / frames, 0, 1)
        s[:, 0] += 7.0 * ramp
        s[:, 2] -= 1.5 * ramp
        assert drift.find_seams(s) == ()
        raw = np.concatenate([s[:, :3], s[:, 4:5]], axis=1)
        assert drift.concentration(raw, 60) < drift.SEAM_CONCENTRATION
    # a join with a flash that about cancels its luma step still carries its step in one pair
    s = _stats(n=120, seams=(60,), step=(-6.0, -0.7, 0.5), flash=(6.0, 3))
    assert drift.concentration(np.concatenate([s[:, :3], s[:, 4:5]], axis=1), 60) >= 0.9


FLASHED = "Doubiiu__DynamiCrafter__pour_honey.gif"  # 16 frames: one join at 8, a 1–3 frame flash after it


@pytest.mark.skipif(RENDERS is None, reason=rr.NO_RENDERS)
@pytest.mark.parametrize("seed", range(4))
def test_engine_finds_a_seam_with_a_flash_in_a_short_real_render(seed, tmp_path):
    from flickerd.diagnose import run
    from flickerd.synth import drift as synth
    from flickerd.synth.real import encode, load

    render, fps = load(RENDERS / FLASHED, 250, 640)
    damaged, d = synth.damage(render, seed=seed)
    assert d.seams == (8,) and d.flashes[0][0] >= 1
    hurt = run(encode(damaged, tmp_path / "drift.mp4", fps=fps))
    assert len(hurt.seams) == 1 and abs(hurt.seams[0] - 8) <= 1
    assert run(encode(render, tmp_path / "truth.mp4", fps=fps)).seams == ()


def _cells(seed=3, rows=6, cols=8):
    """Cell levels of a scene: grey levels 40-200, no two neighbours alike."""
    return np.random.default_rng(seed).uniform(40, 200, (rows, cols))


def test_cells_agree_on_a_global_shift_and_gain_not_on_light_in_one_part():
    level = _cells()
    noise = np.random.default_rng(4).normal(0, 0.2, level.shape)
    assert drift.cell_misfit(np.full(level.shape, -6.0) + noise, level) < 0.4  # a join: every cell 6 levels brighter
    assert drift.cell_misfit(-0.06 * level - 2.0 + noise, level) < 0.4  # and with a 6% gain
    lamp = np.zeros(level.shape)
    lamp[:, :3] = -12.0  # a light comes on over the left of the scene
    assert drift.cell_misfit(lamp + noise, level) > 3.0
    # unevenly over cells of one level: more on some, less on others (a real change of light)
    uneven = -6.0 * (1 + np.random.default_rng(5).uniform(-0.8, 0.8, level.shape))
    assert drift.cell_misfit(uneven, level) > 1.5
    # a cell the step would push past white (clipped sky) is not a disagreement
    clipped = np.full(level.shape, -6.0) + noise
    level2 = level.copy()
    level2[0, :] = 253.0
    clipped[0, :] = -2.0  # 253 can rise by 2 only
    assert drift.cell_misfit(clipped, level2) < 0.4
    # too few cells to tell
    assert np.isnan(drift.cell_misfit(np.zeros((1, 4)), np.full((1, 4), 100.0)))


def test_a_step_whose_cells_disagree_is_not_a_seam():
    s = _stats(seams=(40,), flash=(0.0, 0))  # a lone clean step: a seam on the statistics alone
    assert drift.find_seams(s) == (40,)
    misfits = np.full(len(s), 0.3)  # the usual disagreement of a pair's cells (motion, noise)
    assert drift.find_seams(s, misfits=misfits) == (40,)
    misfits[40] = 0.3 + 0.5 * 5.0  # the step's own pair: its cells differ by half its step
    assert drift.find_seams(s, misfits=misfits) == ()
    misfits[40] = np.nan  # not measured: the statistics decide, as before
    assert drift.find_seams(s, misfits=misfits) == (40,)
    # a period's steps are checked one by one
    p = _stats(seams=(40, 80, 120), n=170, flash=(0.0, 0))
    m = np.full(len(p), 0.3)
    m[80] = 4.0
    assert drift.find_seams(p, misfits=m) == (40, 120)


LIGHT_STEP = "hao-ai-lab__FastVideo__Wan2.1-T2V-1.3B_lora__steamboat_willie.mp4"  # its own light steps at frame 9


@pytest.mark.skipif(RENDERS is None, reason=rr.NO_RENDERS)
def test_a_real_lone_step_of_light_is_not_a_seam_but_a_join_is(tmp_path):
    """Steamboat Willie (48 frames at 832 px, as the repair bench sees it) brightens unevenly at
    frame 9, between steady levels: the tone statistics alone took it for a lone join."""
    from flickerd.diagnose import run
    from flickerd.synth.real import encode, load

    render, fps = load(RENDERS / LIGHT_STEP, 48, 832)
    assert run(encode(render, tmp_path / "asis.mp4", fps=fps)).seams == ()
    # a join at frame 30: every pixel 6 grey levels brighter from there on
    joined = [f if t < 30 else np.clip(f.astype(np.int16) + 6, 0, 255).astype(np.uint8) for t, f in enumerate(render)]
    seams = run(encode(joined, tmp_path / "joined.mp4", fps=fps)).seams
    assert any(abs(s - 30) <= 1 for s in seams) and not any(abs(s - 9) <= 1 for s in seams)


def test_thumbnail_pairs_measure_the_cells_agreement_too():
    """Long clips sample their flow pairs: a seam's pair is then measured on the thumbnails."""
    y = _texture(1)
    cb, cr = np.full_like(y, 120.0), np.full_like(y, 136.0)
    moved = [np.roll(p, 2, axis=1) for p in (y, cb, cr)]
    offset, agree = drift.thumb_pair([y, cb, cr], [moved[0] + 6.0, moved[1], moved[2]], grid=(6, 8))
    assert offset[0] == pytest.approx(-6.0, abs=0.6) and agree < 0.5 * 6.0 * drift.SEAM_DISAGREEMENT
    lit = [p.copy() for p in moved]
    lit[0][:, :40] += 12.0  # light over the left five eighths of the scene only
    offset, apart = drift.thumb_pair([y, cb, cr], lit, grid=(6, 8))
    assert apart > drift.SEAM_DISAGREEMENT * abs(offset[0])
    assert np.isnan(drift.thumb_pair([y, cb, cr], lit)[1])  # no grid: not measured


def test_rgb_stats_are_the_ycbcr_planes_statistics():
    """``rgb_stats`` (cv2 transform and double sums) against numpy on the YCbCr planes, float and uint8 frames."""
    rng = np.random.default_rng(5)
    for img in ((rng.random((30, 50, 3)) * 255).astype(np.uint8), rng.random((17, 23, 3)).astype(np.float32) * 1023):
        ycc = img.reshape(-1, 3).astype(np.float64) @ drift.YCC.T.astype(np.float64)
        want = [ycc[:, 0].mean(), ycc[:, 1].mean() + 128, ycc[:, 2].mean() + 128, ycc[:, 0].std(),
                np.sqrt(ycc[:, 1].var() + ycc[:, 2].var())]
        assert drift.rgb_stats(img) == pytest.approx(want, rel=1e-5)


def test_bench_drift_against_the_truth_does_not_count_the_content():
    from bench import drift_seams as bench

    truth = _stats(seams=(), ramp=0.4)  # the scene's own light rises: the truth's content
    truth[41:, 0] += 4.0  # and something bright enters just after the first join
    damaged = truth.copy()
    damaged[40:, :3] += 5.0  # two windows' steps, as the damage puts them
    damaged[80:, :3] += 5.0
    fixed = truth + np.random.default_rng(1).normal(0, 0.15, truth.shape)  # a perfect fix, re-encoded
    before, after = bench.residual(damaged, truth), bench.residual(fixed, truth)
    assert bench.truth_drift(before) == pytest.approx(100 * 10.0 / 80, rel=0.25)  # the staircase's climb
    assert bench.truth_drift(after) < 0.05 * bench.truth_drift(before)
    assert drift.seam_step(after, (40, 80)) < 0.6
    assert drift.drift(fixed, (40, 80))[0] > 3.0  # the fix's own means: the content's change read as drift
    assert drift.seam_step(before, (40, 80)) == pytest.approx(5.0, abs=0.6)


def test_a_join_is_found_where_the_contents_saturation_swings_across_it():
    """Wan 2.1 I2V's egg cut to 40 frames (fit render, join at 20): the scene's saturation climbs
    from 7 to 23 before the join and falls back over the four frames after it. Split on all four
    statistics, the swing outweighs the luma step and pulls the seam to 24, where no step is left,
    and the join went unfound; the split of tone and colour alone keeps it on 20."""
    s = _stats(n=40, seams=(20,), step=(6.7, 0.2, -0.5), flash=(9.4, 1))
    swing = [7.0] * 9 + [10.0, 13.3, 13.4, 10.6, 8.3, 8.1, 9.6, 13.2, 14.6, 21.9, 23.0,
                         20.8, 19.7, 19.4, 18.7, 8.3, 7.2] + [6.7] * 14
    s[:, 4] = swing
    assert drift.find_seams(s) == (20,)
    s[:, 4] = 7.0 * np.where(np.arange(40) >= 20, 1.05, 1.0)  # the same join without the swing
    assert drift.find_seams(s) == (20,)


# A fit render ping-ponged (bench drift_seams' fit half, forward then back: one continuous render, no cut),
# drift-damaged and diagnosed: its levels (Y, Cb, Cr, saturation) about a join found at frame 12 of the excerpt.
STEP_ARRIVING = [[90.25, 127.99, 134.5, 8.28], [90.25, 127.99, 134.5, 8.46], [90.36, 128.49, 134.42, 8.35],
                 [90.36, 128.49, 134.42, 8.28], [90.36, 128.49, 134.42, 8.36], [90.36, 128.49, 134.42, 8.36],
                 [90.36, 128.49, 134.42, 8.14], [90.36, 128.49, 134.42, 8.2], [90.36, 128.49, 134.42, 8.26],
                 [89.36, 128.49, 134.42, 8.3], [89.36, 128.49, 134.42, 8.3], [89.36, 128.49, 134.42, 8.53],
                 [91.43, 127.32, 135.08, 8.69], [91.43, 127.32, 135.08, 8.77], [91.43, 127.32, 135.08, 8.61],
                 [85.43, 127.32, 135.08, 8.64], [86.43, 127.32, 135.08, 8.62], [86.43, 127.32, 135.08, 8.52],
                 [86.43, 127.32, 135.08, 8.49], [86.43, 127.32, 135.08, 8.75], [86.43, 127.32, 135.08, 8.74],
                 [86.43, 127.32, 135.08, 8.65], [86.43, 127.32, 135.08, 8.69], [86.43, 127.32, 135.08, 8.87]]


def test_onset_does_not_take_the_step_arriving_for_a_flash():
    """Open-Sora's 16x240 clip (join at 12 here, luma dips a frame late): luma leaves the old level by
    −1 three frames before the join, toward the new level and a fifth of the step: not a flash."""
    raw = np.array(STEP_ARRIVING)
    assert drift.onset(raw, 12, np.full(4, 0.1), floor=0) == 12


def test_a_seam_placed_on_every_frame_sits_on_its_join_despite_a_trend_before_it():
    """Dense frames about a seam the sampled pairs found two frames early: the scene darkens 0.1 a
    frame before the join, a one-frame flash sits on it. The split about the dense step's edge puts
    it on the join; a window with no step leaves it where it was."""
    s = _stats(n=36, seams=(18,), step=(-4.0, 1.0, 1.0), flash=(7.0, 1), seed=2)
    s[:18, 0] -= 0.1 * np.arange(18)
    s[18:, 0] -= 1.8
    assert drift.placed(s, 16) == 18
    assert drift.placed(_stats(n=36, seams=(), seed=2), 16) is None


@pytest.mark.skipif(RENDERS is None, reason=rr.NO_RENDERS)
def test_engine_places_seams_of_a_long_clip_on_their_frames_when_asked(tmp_path):
    """A fit render played forward then back (232 frames: past every_pair_up_to, so pairs are sampled and
    the decoder skips about every other frame), drift-damaged: the flash on the first join (81) was never
    decoded and the scene darkens before it, so the sampled levels put the join at 79; decoded densely
    around it, it sits on 81."""
    from flickerd.diagnose import run
    from flickerd.synth import drift as synth
    from flickerd.synth.real import encode, load

    render, fps = load(RENDERS / "hao-ai-lab__FastVideo__hunyuan_STA__woman_reading.mp4", 250, 640)
    render = list(render) + list(render[-2:0:-1])
    damaged, d = synth.damage(render, seed=0)
    assert d.seams == (81, 162)
    from flickerd.diagnose.settings import DiagnoseSettings

    src = encode(damaged, tmp_path / "drift.mp4", fps=fps)
    hurt = run(src, DiagnoseSettings(seam_window=16))
    assert hurt.settings["pair_stride"] > 2 and hurt.seams == (81, 162)
    assert run(src).seams == (79, 162)  # off by default (see DiagnoseSettings.seam_window)


def test_a_range_read_after_a_seek_gives_the_frames_a_full_decode_gives(tmp_path):
    """``planes.read_range`` (the dense windows): the frames lo..hi−1, indexed as a full decode indexes them."""
    from flickerd.media.planes import iter_planes, read_range
    from flickerd.synth.real import encode

    rng = np.random.default_rng(0)
    base = rng.integers(40, 200, (48, 64, 3)).astype(np.float32)
    frames = [np.clip(base + (t % 37) * 1.5, 0, 255).astype(np.uint8) for t in range(160)]
    src = encode(frames, tmp_path / "long.mp4", fps=24)
    full = {p.index: float(p.y.mean()) for p in iter_planes(src) if 90 <= p.index < 110}
    got = [(p.index, float(p.y.mean())) for p in read_range(src, 90, 110)]
    assert [i for i, _ in got] == list(range(90, 110)) and all(m == full[i] for i, m in got)


def test_a_seam_window_too_narrow_to_place_a_seam_is_refused():
    """``drift.placed`` needs a seam level each side and the flash (2 × LEVEL_FRAMES + FLASH frames):
    a narrower ``seam_window`` could never act, so check-config says so (review 18 #6)."""
    from flickerd.diagnose import drift
    from flickerd.diagnose.settings import MIN_SEAM_WINDOW, DiagnoseSettings
    from flickerd.errors import ConfigError

    assert 2 * MIN_SEAM_WINDOW + drift.FLASH + 1 >= 2 * drift.LEVEL_FRAMES + drift.FLASH  # the window's frames
    with pytest.raises(ConfigError, match="seam_window"):
        DiagnoseSettings(seam_window=MIN_SEAM_WINDOW - 1)
    assert DiagnoseSettings(seam_window=MIN_SEAM_WINDOW).seam_window == MIN_SEAM_WINDOW
    assert DiagnoseSettings(seam_window=0).seam_window == 0

"""Cross-fades: a region that blends into other content over several frames is incoherent.

Each pair of a cross-fade explains most of its small step, so the per-pair replaced area misses
it; along the motion chained over ``fade_look`` pairs the region holds other content. Fast
motion is followed pair by pair, so the chain follows it too and finds nothing replaced.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from bench import real_renders as rr
from flickerd import flow as of
from flickerd.diagnose import incoherence, run
from flickerd.diagnose.global_flicker import YCC
from flickerd.diagnose.settings import DiagnoseSettings
from flickerd.errors import ConfigError


def test_chained_flows_add_up_along_the_motion():
    h, w = 40, 60
    a = np.zeros((h, w, 2), np.float32)
    a[..., 0] = 3.0  # every pixel moves 3 px right
    b = np.zeros((h, w, 2), np.float32)
    b[:, :, 1] = np.arange(w, dtype=np.float32)[None, :] / 10  # down by x/10, read where a pixel got to
    total, kept = incoherence.chain([a, b])
    x = np.arange(w, dtype=np.float32)
    expected_y = np.minimum(x + 3, w - 1) / 10
    assert np.allclose(total[..., 0], 3.0)
    assert np.allclose(total[5, :, 1], expected_y, atol=1e-4)
    assert not kept[:, -3:].any() and kept[:20, :w - 3].all()  # the last columns leave the view (and low rows)


def test_chain_steps_are_the_chain_before_each_link():
    a = np.zeros((8, 8, 2), np.float32)
    a[..., 0] = 1.0
    steps: list = []
    total, _ = incoherence.chain([a, a, a], steps)
    assert [float(s[4, 2, 0]) for s in steps] == [0.0, 1.0, 2.0] and total[4, 2, 0] == 3.0


def _region_frames(values):
    """Still frames: a textured background, and a 40x40 region whose content is ``values[t]``
    (one of two textures of different levels: "old" content and "new" content)."""
    rng = np.random.default_rng(5)
    smooth = lambda lo, hi, shape: cv2.resize(rng.uniform(lo, hi, (shape[0] // 4, shape[1] // 4)), shape[::-1])
    background = smooth(60, 200, (96, 128))
    old, new = smooth(40, 90, (40, 40)), smooth(170, 230, (40, 40))
    frames = []
    for v in values:
        f = background.copy()
        f[28:68, 44:84] = (1 - v) * old + v * new
        frames.append(np.repeat(f[..., None], 3, axis=2).astype(np.uint8))
    return frames


def _long_area(frames):
    h, w = frames[0].shape[:2]
    still = [np.zeros((h, w, 2), np.float32)] * (len(frames) - 1)
    residuals = [cv2.subtract(a, b, dtype=cv2.CV_32F) @ YCC.T for a, b in zip(frames, frames[1:])]
    gray = [f[..., 0].copy() for f in frames]
    return incoherence.long_area(frames[0], frames[-1], gray[0], gray[-1], still, still, residuals)


def test_a_steady_blend_is_a_fade_and_a_flickering_swap_is_not():
    region = 40 * 40 / (96 * 128)
    faded = _long_area(_region_frames([k / 6 for k in range(7)]))
    assert faded > 0.7 * region
    # the same first and last frames, the region jumping between old and new content on the way:
    # steps of either sign (what regenerated texture gives the long look), not a fade
    assert _long_area(_region_frames([0, 1, 0, 1, 0, 1, 1])) == 0.0


def test_a_fade_shorter_than_the_look_is_a_fade_and_a_one_pair_jump_is_not():
    region = 40 * 40 / (96 * 128)
    # the fade fills four of the look's six pairs (a look that starts before it): two steps of 0
    assert _long_area(_region_frames([0, 0, 0.25, 0.5, 0.75, 1, 1])) > 0.7 * region
    # the same change in one pair: a swap, the per-pair look's, not a fade
    assert _long_area(_region_frames([0, 0, 0, 1, 1, 1, 1])) == 0.0


def test_steady_steps_go_one_way_and_are_spread():
    pixels = [[10.0, 10, 0, 10, 10],  # spread, one way (a pair of 0 among them)
              [10, 10, 10, 10, -10],  # one step back: 0.6 of the steps' summed size goes the change's way
              [0, 0, 10, 10, 0],  # half of it in one pair: still spread
              [0, 10, 0, 0, 0],  # all of it in one pair
              [10, 0, 0, 0, 40],  # most of it in one pair
              [0, 0, 0, 0, 0]]  # no change at all
    along = np.array(pixels).T  # pairs x pixels
    assert incoherence.steady(along).tolist() == [True, False, True, False, False, False]


def _lit_frames(gains):
    """Still frames: the same textured 40x40 region lit up by ``gains[t]`` (a lamp, an aurora
    brightening): a gain and offset of the picture that is there, its detail keeping its shape."""
    frames = _region_frames([0] * len(gains))
    yy, xx = np.mgrid[0:96, 0:128]
    light = np.exp(-(((yy - 48) / 22.0) ** 2 + ((xx - 64) / 22.0) ** 2) ** 2)[..., None]  # falls off at its rim
    out = []
    for f, g in zip(frames, gains):
        f = f.astype(np.float32)
        out.append(np.clip(f * (1 + g * light) + 60 * g * light, 0, 255).astype(np.uint8))
    return out


def test_a_light_brightening_steadily_is_not_a_fade():
    # the same steady steps as a fade, and a change as large (over FADE_LEVEL on a region the
    # size of the fade's), but the picture's own detail, lit: no other content appears
    lit = _lit_frames([0.8 * k / 6 for k in range(7)])
    changed = np.abs(lit[-1].astype(int) - lit[0].astype(int))[..., 0] > incoherence.FADE_LEVEL
    assert changed.mean() > 0.7 * 40 * 40 / (96 * 128)
    assert _long_area(lit) == 0.0


def _glow_frames(gains, ground=None):
    """Still frames: a soft green band (an aurora's) glowing by ``gains[t]`` over ``ground`` (default
    a plain dark night sky): the light adds to all it covers."""
    h, w = 96, 128
    sky = np.full((h, w, 3), 18.0, np.float32) if ground is None else ground.astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    band = np.exp(-(((yy - 48 - 6 * np.sin(xx / 17.0)) / 14.0) ** 2)) * (((xx - 64) / 44.0) ** 2 < 1)
    colour = np.array([60.0, 230.0, 150.0], np.float32)
    return [np.clip(sky + g * band[..., None] * colour, 0, 255).astype(np.uint8) for g in gains]


def test_a_light_on_a_plain_ground_is_not_a_fade():
    # the band comes on steadily over the sky: its steps are steady, its change over FADE_LEVEL, and
    # the sky has no detail for other_structure to compare (on main: faded area 0.24)
    glow = _glow_frames([k / 6 for k in range(7)])
    assert _long_area(glow) == 0.0
    # replaced content over the same plain ground is still a fade where it is darker in parts
    grey = np.full((96, 128, 3), 128, np.uint8)
    assert _long_area(_region_frames([k / 6 for k in range(7)])) > 0  # one-signed, but onto ground with detail
    mixed = _region_frames([0] * 7)
    rng = np.random.default_rng(3)
    content = 128 + 100 * np.sign(cv2.resize(rng.standard_normal((8, 8)), (40, 40))).astype(np.float32)
    for k, f in enumerate(mixed):
        f[28:68, 44:84] = ((1 - k / 6) * grey[28:68, 44:84] + (k / 6) * content[..., None]).astype(np.uint8)
        f[:28], f[68:], f[:, :44], f[:, 84:] = 128, 128, 128, 128
    assert _long_area(mixed) > 0.5 * 40 * 40 / (96 * 128)


def test_a_fade_lasts_several_long_looks():
    nan = float("nan")
    assert incoherence.fade_score([0.0, 0.2, 0.0, 0.2, 0.0]) == 0.0  # flashes, not a run
    assert incoherence.fade_score([nan, 0.01, 0.12, 0.14, 0.1, 0.02]) == pytest.approx(0.1)
    assert incoherence.fade_score([0.3, 0.3]) == 0.0  # too few looks to say


def test_fade_look_is_checked():
    for pairs in (1, 2, -1):  # 2: a fade's steps cannot be spread over two pairs (review21b)
        with pytest.raises(ConfigError, match="at least 3 pairs"):
            DiagnoseSettings(fade_look=pairs)
    assert DiagnoseSettings(fade_look=3).fade_look == 3
    assert DiagnoseSettings().fade_look == 6  # on by default (README, "Cross-fades")


LOOK = 6  # pairs: the look measured (the default)
RENDER = "Vchitect__Latte__latte_output_b421.mp4"  # held out (report side)
FAST = "hao-ai-lab__FastVideo__FastMochi_0.mp4"  # its 20 px/frame pan fooled a direct t−6 → t look


def _clip(tmp_path, name: str, kind: str, level: float, seed: int):
    from flickerd.synth.real import Variant

    clip = tmp_path / f"{kind}.mp4"
    donor = rr.renders_dir() / "Vchitect__SEINE__orange-flower.gif" if kind == "identity" else None
    rr.make_clip(Variant(name, kind, level, seed), str(rr.renders_dir() / name), donor and str(donor),
                 rr.CI_FRAMES, rr.CI_MAX_SIDE, clip)
    return clip


@pytest.mark.slow
@pytest.mark.skipif(rr.renders_dir() is None, reason=rr.NO_RENDERS)
def test_a_real_cross_fade_is_incoherent(tmp_path):
    from flickerd.synth.real import Variant

    assert Variant(RENDER, "identity", 1.0, 1).identity_mode == "morph"
    clip = _clip(tmp_path, RENDER, "identity", 1.0, 1)
    s = DiagnoseSettings(timeline=False, fade_look=LOOK)
    d = run(clip, s)
    assert d.scores["fade"] > 1.5 * s.fade_threshold, d.scores  # 0.070 on the bench
    assert d.verdict.value == "incoherent"
    assert any(g.kind == "incoherent" for g in d.segments)
    # the per-pair look alone does not see it
    assert run(clip, dataclasses.replace(s, fade_look=0)).verdict.value != "incoherent"


@pytest.mark.slow
@pytest.mark.skipif(rr.renders_dir() is None, reason=rr.NO_RENDERS)
def test_a_fast_real_pan_is_not_a_fade(tmp_path):
    clip = _clip(tmp_path, FAST, "pan", 20.0, 0)
    s = DiagnoseSettings(timeline=False, fade_look=LOOK)
    d = run(clip, s)
    assert d.scores["fade"] < s.fade_threshold / 2, d.scores
    assert d.verdict.value != "incoherent"


LIT = "Vchitect__LaVie__a_shark_swimming_in_clear_Carribean_ocean_2k_high_quality.gif"  # fit side; a small GIF


@pytest.mark.slow
@pytest.mark.skipif(rr.renders_dir() is None, reason=rr.NO_RENDERS)
def test_a_real_light_coming_on_is_not_a_fade(tmp_path):
    from flickerd.synth import inject, real

    frames, fps = real.load(rr.renders_dir() / LIT, rr.CI_FRAMES, rr.CI_MAX_SIDE)
    h, w = frames[0].shape[:2]
    light = inject.light_change(np.random.default_rng(2), len(frames), 1.0, w, h)
    clip = tmp_path / "lit.mp4"
    real.encode((np.clip(light(f.astype(np.float32), t) + 0.5, 0, 255).astype(np.uint8) for t, f in enumerate(frames)),
                clip, real.NORMAL_CRF, fps)
    s = DiagnoseSettings(timeline=False, fade_look=LOOK)
    d = run(clip, s)
    # before the faded areas had to show other detail: fade 0.060, incoherent; now 0.0
    assert d.scores["fade"] < s.fade_threshold / 2, d.scores
    assert d.verdict.value != "incoherent"


def test_warp_at_reads_what_warp_reads_and_inside_keeps_the_frame_bounds():
    """The long look reads residuals only at the pixels it judges (``flow.warp_at``): the same values
    as the whole warp, out-of-frame points (replicated border) and more points than a row included."""
    from flickerd import flow as of

    rng = np.random.default_rng(3)
    h, w = 30, 50
    flow = rng.normal(0, 12, (h, w, 2)).astype(np.float32)
    flow[0, :3] = [[0.0, 0.0], [w - 2.0, h - 1.0], [-2.01, 0.0]]  # onto the corners (0, 0), (w - 1, h - 1); just off
    image = rng.normal(0, 40, (h, w, 3)).astype(np.float32)
    at = np.flatnonzero(rng.random(h * w) < 0.6)  # ~900 points: several rows of w
    assert len(at) > 3 * w
    assert np.array_equal(of.warp_at(image, flow, at), of.warp(image, flow).reshape(-1, 3)[at])
    assert of.warp_at(image[..., 0], flow, at[:7]).shape == (7,) and of.warp_at(image, flow, at[:0]).shape == (0, 3)
    target = of.pixel_grid(h, w)[0] + flow[..., 0], of.pixel_grid(h, w)[1] + flow[..., 1]
    expected = (target[0] >= 0) & (target[0] <= w - 1) & (target[1] >= 0) & (target[1] <= h - 1)
    kept = of.inside(flow)
    assert kept.dtype == bool and np.array_equal(kept, expected) and kept[0, :2].all() and not kept[0, 2]
    assert 0.2 < kept.mean() < 0.9


def test_the_direct_look_follows_content_the_chain_lost_and_not_other_content():
    """A chain a few pixels off (a zoom's or a frame skip's summed error) leaves moved content unexplained;
    the direct flow first → last, started from it, explains it. Other content stays unexplained."""
    rng = np.random.default_rng(3)
    h, w = 120, 160
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (h + 40, w + 40)).astype(np.float32), (0, 0), 3)
    texture = cv2.normalize(texture, None, 20, 235, cv2.NORM_MINMAX)
    first = texture[20:20 + h, 20:20 + w]
    last = texture[20:20 + h, 32:32 + w].copy()  # the content moved 12 px left
    chained = np.zeros((h, w, 2), np.float32)
    chained[..., 0] = -7.0  # the chain found only part of it
    rgb = lambda g: np.repeat(np.clip(g, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    gray = lambda g: np.clip(g, 0, 255).astype(np.uint8)
    zero = np.zeros(3, np.float32)
    inner = (slice(30, 90), slice(30, 110))
    # along the chain alone much of it is unexplained
    along = incoherence._unexplained(cv2.subtract(rgb(first), of.warp(rgb(last), chained), dtype=cv2.CV_32F) @ YCC.T,
                                     gray(first), of.warp(gray(last), chained), of.inside(chained))
    assert along[inner].mean() > 0.3
    assert incoherence.direct_unexplained(rgb(first), rgb(last), gray(first), gray(last), chained, zero)[inner].mean() < 0.05
    # other content in a 50 px square of the last frame: still unexplained there
    other = last.copy()
    other[35:85, 55:105] = cv2.GaussianBlur(rng.uniform(0, 255, (50, 50)).astype(np.float32), (0, 0), 3) * 3 - 200
    seen = incoherence.direct_unexplained(rgb(first), rgb(other), gray(first), gray(other), chained, zero)
    assert seen[45:75, 65:95].mean() > 0.8
    assert chained[0, 0, 0] == -7.0  # the chained flow is not written to


NOODLES = "hao-ai-lab__FastVideo__FastHunyuan__will_smith_noodles.mp4"  # fit side: eating deforms fast


@pytest.mark.slow
@pytest.mark.skipif(rr.renders_dir() is None, reason=rr.NO_RENDERS)
def test_a_real_zoom_is_not_near_a_fade(tmp_path):
    """Zoomed 2 %/frame the chain of six flows drifts off the noodles; before the direct look its `fade` read
    0.0367, 95 % of the bar, the fit half's closest call outside the identity changes."""
    clip = _clip(tmp_path, NOODLES, "zoom", 0.02, 0)
    s = DiagnoseSettings(timeline=False, fade_look=LOOK)
    d = run(clip, s)
    assert d.scores["fade"] < 0.75 * s.fade_threshold, d.scores
    assert d.verdict.value != "incoherent"


def test_the_direct_look_starts_from_the_chain():
    """A 60 px move is beyond DIS's reach from rest: the direct flow explains it only from the chained start
    (12 px off), so a look that lost its start would count the moved content as faded."""
    rng = np.random.default_rng(3)
    h, w, shift = 160, 320, 60
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (h + 40, w + shift + 40)).astype(np.float32), (0, 0), 3)
    texture = cv2.normalize(texture, None, 20, 235, cv2.NORM_MINMAX).astype(np.uint8)
    first = np.ascontiguousarray(texture[20:20 + h, 20:20 + w])
    last = np.ascontiguousarray(texture[20:20 + h, 20 + shift:20 + shift + w])
    rgb = lambda g: np.repeat(g[..., None], 3, axis=2)
    inner = (slice(40, 120), slice(40, 200))

    def unexplained(start_x: float) -> float:
        start = np.zeros((h, w, 2), np.float32)
        start[..., 0] = start_x
        return incoherence.direct_unexplained(rgb(first), rgb(last), first, last, start, np.zeros(3, np.float32))[inner].mean()

    assert unexplained(-shift + 12.0) < 0.05
    assert unexplained(0.0) > 0.15

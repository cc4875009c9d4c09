"""The guided core on the shared neighbour window: bounded, every frame out once, flows from any source."""

from __future__ import annotations

import cv2
import numpy as np

from flickerd.flow_source import AheadFlows, DirectFlows
from flickerd.routes import guided_core
from flickerd.routes.guided import GuidedParams
from flickerd.routes.guided_core import GuidedStabilizer
from tests.cpuroutes import clips

from .conftest import H, N, W, scene


def _run(flows, radius: int = 2) -> tuple[list[int], list[np.ndarray], GuidedStabilizer]:
    frames = scene()
    rng = np.random.default_rng(5)
    core = GuidedStabilizer(255.0, GuidedParams(radius=radius, flow_preset="fast"), flows=flows)
    out = []
    for i, rgb in enumerate(frames):
        guide = np.ascontiguousarray(rgb[..., 1])
        # the render: the guide's frame with a per-frame jitter of level, planes at 4:2:0 sizes
        y = rgb[..., 1].astype(np.float32) + float(rng.normal(0, 6))
        planes = [y, np.ascontiguousarray(y[::2, ::2]), np.ascontiguousarray(y[::2, ::2])]
        out += core.feed(i, None, (planes, guide))
        assert len(core.frames) <= 2 * core.radius + 1
    out += core.finish()
    return [t for t, _, _ in out], [p for _, _, ps in out for p in ps], core


def test_every_frame_comes_out_once_in_order_from_a_bounded_window():
    order, planes, core = _run(DirectFlows())
    assert order == list(range(len(scene())))
    assert planes[0].shape == (H, W) and planes[1].shape == (H // 2, W // 2)
    assert 0.0 < core.mean_weight <= 1.0
    assert not core.pending


def test_flows_computed_ahead_give_the_same_frames():
    with AheadFlows() as ahead:
        order_a, planes_a, _ = _run(ahead)
    order_d, planes_d, _ = _run(DirectFlows())
    assert order_a == order_d
    assert all(np.array_equal(a, d) for a, d in zip(planes_a, planes_d))


def _fine_gains(planes: list[np.ndarray], guides: list[np.ndarray]) -> np.ndarray:
    sigma = guided_core.DETAIL_SIGMA
    return np.array([guided_core.detail_gain(guided_core.band(p / 255.0, sigma),
                                             guided_core.band(g.astype(np.float32) / 255.0, sigma))
                     for p, g in zip(planes, guides)], dtype=np.float64)


def test_a_per_frame_sharpening_the_guide_does_not_have_is_held_steady():
    # the render: the guide's frame, sharpened or softened by a random amount each frame (an
    # upscaler's or restyler's per-frame whim); the guide's own fine band is the same throughout
    frames = scene()
    guides = [np.ascontiguousarray(f[..., 1]) for f in frames]
    amounts = 0.6 * (-1.0) ** np.arange(len(frames))  # sharper, softer, sharper …
    renders = [np.clip(g + a * (g - cv2.GaussianBlur(g, (0, 0), 1.5)), 0, 255)
               for g, a in zip((g.astype(np.float32) for g in guides), amounts)]
    outs = {}
    for steady in (True, False):
        core = GuidedStabilizer(255.0, GuidedParams(radius=2, flow_preset="fast", detail_gain=steady))
        got = []
        for i, y in enumerate(renders):
            got += core.feed(i, None, ([y], guides[i]))
        got += core.finish()
        outs[steady] = [ps[0] for _, _, ps in got]
    before = _fine_gains(renders, guides).std()
    steadied = _fine_gains(outs[True], guides).std()
    plain = _fine_gains(outs[False], guides).std()
    assert before > 0.3
    # averaging alone leaves most of it where the warps disagree; the held gain removes it
    assert steadied < 0.25 * before, (before, steadied, plain)
    assert steadied < 0.6 * plain, (before, steadied, plain)


def test_at_strength_zero_the_render_comes_out_as_it_went_in():
    """``strength`` moves each frame toward the guided mean; at 0 nothing moves, the held
    fine-band gain included (it once rescaled the frame whatever the strength)."""
    frames = scene()
    guides = [np.ascontiguousarray(f[..., 1]) for f in frames]
    amounts = 0.6 * (-1.0) ** np.arange(len(frames))
    renders = [np.clip(g + a * (g - cv2.GaussianBlur(g, (0, 0), 1.5)), 0, 255)
               for g, a in zip((g.astype(np.float32) for g in guides), amounts)]
    core = GuidedStabilizer(255.0, GuidedParams(radius=2, strength=0.0, flow_preset="fast"))
    got = []
    for i, y in enumerate(renders):
        got += core.feed(i, None, ([y], guides[i]))
    got += core.finish()
    assert max(float(np.abs(ps[0] - renders[t]).max()) for t, _, ps in got) < 1e-3


def _object_over_still_background(flicker: float) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """(guides, truths, renders): a textured object gliding 1.25 px/frame over a still background;
    the truth posterises the guide (a style that does not move rigidly with the content: its
    steps redraw as the object moves by fractions of a pixel), the render adds per-pixel
    noise of SD ``flicker`` to the truth (0: a render with no flicker of its own)."""
    bg = clips.texture(5, 2 * W, 2 * H)
    obj = clips.texture(12, 60, 60)
    guides, truths, renders = [], [], []
    rng = np.random.default_rng(3)
    for t in range(N):
        big = bg.copy()
        big[60:120, 20 + 5 * t // 2 : 80 + 5 * t // 2] = obj  # drawn at twice the size: fractional steps
        g = cv2.resize(np.clip(big * 255 + 0.5, 0, 255).astype(np.uint8), (W, H), interpolation=cv2.INTER_AREA)[..., 1]
        guides.append(np.ascontiguousarray(g))
        truths.append(np.floor(g.astype(np.float32) / 32) * 32 + 16)
        renders.append(np.clip(truths[-1] + rng.normal(0, flicker, g.shape).astype(np.float32), 0, 255))
    return guides, truths, renders


def _guided_mse(guides, truths, renders, mismatch: float) -> float:
    core = GuidedStabilizer(255.0, GuidedParams(mismatch=mismatch))
    got = []
    for i, y in enumerate(renders):
        got += core.feed(i, None, ([y], guides[i]))
    got += core.finish()
    return float(np.mean([np.mean((ps[0] - truths[t]) ** 2) for t, _, ps in got]))


def test_a_render_with_no_flicker_of_its_own_is_not_softened_where_the_guide_moves():
    # the guide's still pixels show the render repeats the guide there; where the object moves,
    # averaging warped neighbours only blurs the style's steps, so they are kept from the frame
    guides, truths, renders = _object_over_still_background(0.0)
    plain = _guided_mse(guides, truths, renders, 0.0)
    kept = _guided_mse(guides, truths, renders, guided_core.MISMATCH)
    assert plain > 0.3, plain  # the averaging harms a render that needed nothing
    assert kept < 0.1 * plain, (kept, plain)


def test_a_render_that_flickers_is_averaged_as_before_where_the_guide_moves():
    guides, truths, renders = _object_over_still_background(4.0)
    before = float(np.mean([np.mean((r - t) ** 2) for r, t in zip(renders, truths)]))
    plain = _guided_mse(guides, truths, renders, 0.0)
    kept = _guided_mse(guides, truths, renders, guided_core.MISMATCH)
    assert kept < 0.5 * before, (kept, before)
    assert kept <= 1.02 * plain, (kept, plain)


def test_rgb_frames_decide_by_green_not_red():
    # an RGB render whose green and blue repeat the guide's posterised style while red alone
    # flickers: green stands for the luma (as in detail), says there is no flicker to average, and
    # keeps green's steps crisp where the object moves; deciding by red would blur them
    guides, truths, noisy = _object_over_still_background(12.0)
    err = {}
    for lead in (0, 1):
        core = GuidedStabilizer(255.0, GuidedParams(), lead=lead)
        got = []
        for i, r in enumerate(noisy):
            got += core.feed(i, None, ([r, truths[i].copy(), truths[i].copy()], guides[i]))
        got += core.finish()
        err[lead] = float(np.mean([np.mean((ps[1] - truths[t]) ** 2) for t, _, ps in got]))
    assert err[1] < 0.5 * err[0], err


def _chroma_run(monkeypatch, floor_samples: int | None) -> tuple[float, float, float]:
    """(luma MSE, chroma MSE, mean_weight) of a render with no flicker of its own, whose chroma
    plane is a quarter of the luma's area (4:2:0), against the truth."""
    guides, truths, renders = _object_over_still_background(0.0)
    chroma = [np.floor(cv2.resize(t, (W // 2, H // 2), interpolation=cv2.INTER_AREA) / 32) * 32 + 16 for t in truths]
    if floor_samples is not None:
        monkeypatch.setattr(guided_core, "MISMATCH_MIN_SAMPLES", floor_samples)
    core = GuidedStabilizer(255.0, GuidedParams())
    got = []
    for i, y in enumerate(renders):
        got += core.feed(i, None, ([y, chroma[i].copy()], guides[i]))
    got += core.finish()
    luma = float(np.mean([np.mean((ps[0] - truths[t]) ** 2) for t, _, ps in got]))
    return luma, float(np.mean([np.mean((ps[1] - chroma[t]) ** 2) for t, _, ps in got])), core.mean_weight


def test_chroma_with_too_few_still_pixels_of_its_own_follows_the_lumas(monkeypatch):
    # enough still pixels at luma size, too few at chroma's: chroma must be cut where the luma is,
    # not averaged with its full weights (colour blurred where the luma keeps its steps)
    _, own, _ = _chroma_run(monkeypatch, None)  # both planes have their own still pixels
    still = (_object_over_still_background(0.0)[0][0] >= 0).sum()  # luma pixels, most of them still
    luma, chroma, _ = _chroma_run(monkeypatch, int(0.5 * still))  # chroma (a quarter) has too few now
    plain = _guided_mse(*_object_over_still_background(0.0), 0.0)
    assert luma < 0.1 * plain, (luma, plain)
    assert chroma < 2.0 * own + 0.05, (chroma, own)


def test_mean_weight_counts_what_the_mismatch_cut_left():
    guides, _, renders = _object_over_still_background(0.0)
    weights = {}
    for mismatch in (0.0, guided_core.MISMATCH):
        core = GuidedStabilizer(255.0, GuidedParams(mismatch=mismatch))
        for i, y in enumerate(renders):
            list(core.feed(i, None, ([y], guides[i])))
        list(core.finish())
        weights[mismatch] = core.mean_weight
    assert weights[guided_core.MISMATCH] < weights[0.0] - 0.01, weights


def test_chroma_follows_only_a_luma_floor_with_enough_pixels_at_its_size():
    """Review 17 #3: nearest down-sampling kept 1-3 of 64 scattered luma pixels and a floor rested on them."""
    scattered = np.zeros((64, 96), bool)
    scattered[::8, ::8] = True  # 96 still luma pixels, each alone
    assert guided_core.follow(scattered, 48, 32) is None
    block = np.zeros((64, 96), bool)
    block[10:26, 20:36] = True  # 256 still luma pixels together: 64 at 4:2:0
    out = guided_core.follow(block, 48, 32)
    assert out is not None and out.shape == (32, 48) and out.sum() == 64 and out[5:13, 10:18].all()


def _neighbours_used(texture_noise: float, texture_radius: int) -> tuple[int, list[np.ndarray], list[bool]]:
    """Neighbours averaged in (lead plane count), the output and each frame's ``redrawn``, for a
    render = guide + a level jitter + ``texture_noise`` (a fresh per-pixel texture every frame)."""
    rng = np.random.default_rng(7)
    core = GuidedStabilizer(255.0, GuidedParams(radius=2, texture_radius=texture_radius, flow_preset="fast"))
    out, redrawn = [], []
    for i, rgb in enumerate(scene()):
        g = rgb[..., 1].astype(np.float32)
        y = np.clip(g + float(rng.normal(0, 6)) + rng.normal(0, texture_noise, g.shape).astype(np.float32), 0, 255)
        out += core.feed(i, None, ([y], np.ascontiguousarray(rgb[..., 1])))
        redrawn.append(core.frames[i].redrawn)
    out += core.finish()
    return core.weight_count, [p for _, _, ps in out for p in ps], redrawn


def test_a_frame_whose_detail_is_redrawn_gets_texture_radius_neighbours():
    """Texture re-drawn every frame (its fine band does not follow the guide's) is averaged over
    ``texture_radius`` neighbours; a render whose detail follows the guide keeps ``radius``, and its
    output is the same as with the texture radius off."""
    def pairs(r: int) -> int:
        return sum(1 for t in range(N) for s in range(N) if 0 < abs(s - t) <= r)

    count, _, redrawn = _neighbours_used(40.0, 4)
    assert all(redrawn) and count == pairs(4)
    count, _, redrawn = _neighbours_used(40.0, 2)  # off: at most radius
    assert not any(redrawn) and count == pairs(2)
    count, planes, redrawn = _neighbours_used(0.0, 4)
    assert not any(redrawn) and count == pairs(2)
    _, off, _ = _neighbours_used(0.0, 2)
    assert all(np.array_equal(a, b) for a, b in zip(planes, off))


def test_a_flat_frame_is_not_redrawn_texture():
    """A black, faded or flat frame has no fine band to follow the guide's: it is not re-drawn
    texture and gets no extra neighbours (review 18 #7: ``detail_gain``'s None read as "re-drawn")."""
    from flickerd.routes.guided_core import band, redrawn

    rng = np.random.default_rng(3)
    guide = band(rng.random((48, 64)).astype(np.float32), 1.0)
    assert not redrawn(np.zeros((48, 64), np.float32), guide)  # a black render frame
    assert not redrawn(guide, np.zeros((48, 64), np.float32))  # a flat guide frame
    assert not redrawn(guide, guide)  # detail that follows the guide
    assert redrawn(band(rng.random((48, 64)).astype(np.float32), 1.0), guide)  # other detail: re-drawn


def _mse_at(renders, guides, truths, **params) -> float:
    core = GuidedStabilizer(255.0, GuidedParams(**params))
    got = []
    for i, y in enumerate(renders):
        got += core.feed(i, None, ([y], guides[i]))
    got += core.finish()
    return float(np.mean([np.mean((ps[0] - truths[t]) ** 2) for t, _, ps in got]))


def test_a_render_whose_flicker_is_noise_is_not_averaged_where_the_warp_misfits():
    """Re-quantisation-like flicker (per-pixel noise, SD 2) over a posterised object moving by
    fractions of a pixel: a warped neighbour misfits the style's steps by far more than the noise,
    so averaging it in there costs more than it removes. Before session 20 a render that flickers
    kept every vouched weight (the output equalled ``mismatch`` 0's)."""
    guides, truths, renders = _object_over_still_background(2.0)
    before = float(np.mean([np.mean((r - t) ** 2) for r, t in zip(renders, truths)]))
    plain = _mse_at(renders, guides, truths, mismatch=0.0)
    cut = _mse_at(renders, guides, truths)
    assert plain < before, (plain, before)  # the averaging did remove noise
    assert cut < 0.7 * plain, (cut, plain)


def test_flicker_of_the_details_strength_is_not_cut_on_the_edges_where_it_lives():
    """A per-frame sharpening: the render's flicker is largest on edges. Its floor grows with the
    local detail energy, so the cut keeps averaging there as before (guide: ``flicker_cut`` off)."""
    guides, truths, _ = _object_over_still_background(0.0)
    amounts = 0.6 * (-1.0) ** np.arange(len(truths))
    renders = [t + a * (t - cv2.GaussianBlur(t, (0, 0), 1.5)) for t, a in zip(truths, amounts)]
    before = float(np.mean([np.mean((r - t) ** 2) for r, t in zip(renders, truths)]))
    off = _mse_at(renders, guides, truths, flicker_cut=False, detail_gain=False)
    cut = _mse_at(renders, guides, truths, detail_gain=False)
    assert off < 0.5 * before, (off, before)
    assert cut <= 1.1 * off, (cut, off)


def test_the_flicker_floor_is_flat_for_noise_and_follows_the_detail_for_sharpening():
    from flickerd.routes.guided_core import flicker_floor

    rng = np.random.default_rng(4)
    detail = rng.gamma(1.0, 10.0, (40, 50)).astype(np.float32)
    still = np.ones(detail.shape, bool)
    noise = flicker_floor(np.float32(5.0) + rng.normal(0, 0.1, detail.shape).astype(np.float32), detail, still)
    assert np.allclose(noise, 5.0, atol=0.2)  # unrelated to the detail: the mean
    sharpen = flicker_floor(0.3 * detail, detail, still)
    assert np.allclose(sharpen, 0.3 * detail, rtol=0.02, atol=0.05)  # all the detail's

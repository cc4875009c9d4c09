"""The diagnosis's native tile motions of the input, read by the output's re-diagnosis (and by
verification when asked) instead of refining tiles of the same frames again."""

import cv2
import numpy as np
import pytest

from flickerd.diagnose import run as diagnose
from flickerd.process import process_file
from flickerd.quality import texture
from flickerd.routes import registry
from flickerd.routes.base import Step
from flickerd.verify import check
from . import clips
from .routes import FrameRoute

cv2.setNumThreads(1)
N = 12


@pytest.fixture(scope="module")
def boiling(tmp_path_factory):
    """A pan large enough for native tiles (160×224), its fine detail regenerated every frame."""
    from flickerd.synth import inject

    d = tmp_path_factory.mktemp("tiles")
    canvas = clips.texture(3, (160, 480))
    clean = [cv2.warpAffine(canvas, np.float32([[1, 0, -2.0 * t], [0, 1, 0]]), (480, 160),
                            borderMode=cv2.BORDER_REFLECT)[:, :224] for t in range(N)]
    regenerate = inject.texture(np.random.default_rng(5), len(clean), 1.0)
    src = clips.write(str(d / "boiling.mp4"), [regenerate(f, t) for t, f in enumerate(clean)])
    return d, clean, src


def _counting(monkeypatch):
    calls = []
    real = texture.tile_motions

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(texture, "tile_motions", counted)
    return calls


def test_the_diagnosis_keeps_every_pairs_tiles_and_its_figures(boiling):
    _, _, src = boiling
    plain, kept = diagnose(src), diagnose(src, keep_tiles=True)
    assert plain.tile_motions is None
    assert sorted(kept.tile_motions.pairs) == list(range(1, N))
    assert all(kept.tile_motions.pairs[t] for t in range(1, N))  # textured: tiles on every pair
    assert kept.to_json() | {"seconds": 0} == plain.to_json() | {"seconds": 0}


def test_verification_refines_no_tile_of_a_pair_the_diagnosis_measured(boiling, monkeypatch):
    d, clean, src = boiling
    steady = clips.write(str(d / "steady.mp4"), clean)
    before = diagnose(src, keep_tiles=True)
    own = check(src, steady, before, None, rediagnose=None)
    calls = _counting(monkeypatch)
    shared = check(src, steady, before, None, rediagnose=None, input_tiles=before.tile_motions)
    assert calls == []
    own_m, m = own.metrics, shared.metrics
    assert shared.accepted == own.accepted and shared.reasons == own.reasons
    # the same measure on the same frames, tiles placed and refined by the other pass: close, not equal
    assert m["detail_flicker_before"] > 3 * m["detail_flicker_after"], m
    for key in ("detail_flicker_before", "detail_flicker_after"):
        assert m[key] == pytest.approx(own_m[key], rel=0.15), key
    assert m["detail_flicker_reduction"] == pytest.approx(own_m["detail_flicker_reduction"], abs=0.05)
    # nothing at analysis size moves
    for key in ("warp_error_before", "warp_error_after", "luma_flicker_before", "ssim", "change_on_flicker"):
        assert m[key] == own_m[key], key


def test_tiles_found_on_frames_of_another_size_are_not_used():
    tiles = texture.PairMotions()
    motion = texture.TileMotion((0, 0), (0, 0), np.zeros((112, 112, 2), np.float32), np.ones((96, 96), bool))
    tiles.add(3, (160, 224), (motion,))
    assert tiles.get(3, (160, 224, 3)) == (motion,)
    assert tiles.get(3, (224, 160, 3)) is None and tiles.get(4, (160, 224, 3)) is None
    tiles.clear()
    assert tiles.get(3, (160, 224, 3)) is None


def test_a_job_re_diagnoses_the_fix_on_its_diagnosis_tiles_and_then_frees_them(boiling, tmp_path, monkeypatch):
    _, _, src = boiling
    registry.register("test-same", FrameRoute("test-same", lambda fr: fr))
    try:
        calls = _counting(monkeypatch)
        out = process_file(src, tmp_path / "work", route_override=[Step("test-same")], compare=False)
    finally:
        registry.unregister("test-same")
    assert out.verification is not None and out.verification.metrics["detail_flicker_before"] is not None
    # the input's pairs are refined by the diagnosis and by verification (its own tiles: see
    # ``check``'s ``input_tiles``); the output's re-diagnosis judges it on the diagnosis's tiles
    assert len(calls) == 2 * (N - 1)
    assert out.before.tile_motions is not None and out.before.tile_motions.pairs == {}
    assert out.after is not None and out.after.tile_motions is None


def test_a_fix_is_re_diagnosed_on_its_inputs_tiles(boiling, monkeypatch):
    d, clean, src = boiling
    steady = clips.write(str(d / "steady_re.mp4"), clean)
    before = diagnose(src, keep_tiles=True)
    own = diagnose(steady)
    calls = _counting(monkeypatch)
    along = diagnose(steady, tiles_of=before.tile_motions)
    assert calls == []
    # steadied texture reads steady either way, far below the boiling input's
    for d_ in (own, along):
        assert d_.scores["texture_flicker"] < 0.5 * before.scores["texture_flicker"], (d_.scores, before.scores)
    # nothing off the tiles moves
    for key in ("warp_error", "luma_flicker", "local_flicker", "chroma_flicker", "incoherence"):
        assert along.scores[key] == own.scores[key], key

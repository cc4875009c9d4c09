"""The output's re-diagnosis reads the native tile motions verification measured on the input
instead of placing and refining tiles of its own."""

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
    steady = clips.write(str(d / "steady.mp4"), clean)
    return d, src, steady


def _counting(monkeypatch):
    calls = []
    real = texture.tile_motions

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(texture, "tile_motions", counted)
    return calls


def test_verification_hands_its_tiles_to_the_re_diagnosis(boiling, monkeypatch):
    _, src, steady = boiling
    handed = []

    def rediagnose(path, tiles):
        handed.append(tiles)
        return diagnose(path, tiles_of=tiles)

    before = diagnose(src)
    plain = check(src, steady, before, None, rediagnose=None)
    calls = _counting(monkeypatch)
    v = check(src, steady, before, None, rediagnose=rediagnose)
    (tiles,) = handed
    assert sorted(tiles.pairs) == list(range(1, N)) and all(tiles.pairs.values())
    assert len(calls) == N - 1  # verification's own; the re-diagnosis refined none
    # the figures verification decides on do not move
    assert v.accepted == plain.accepted and v.metrics == plain.metrics
    # steadied texture reads steady on the input's tiles, far below the boiling input
    assert v.after.scores["texture_flicker"] < 0.5 * before.scores["texture_flicker"], (v.after.scores, before.scores)
    own = diagnose(steady)
    for key in ("warp_error", "luma_flicker", "local_flicker", "chroma_flicker", "incoherence"):
        assert v.after.scores[key] == own.scores[key], key  # nothing off the tiles moves


def test_tiles_found_on_frames_of_another_size_are_not_used():
    tiles = texture.PairMotions(limit=2)
    motion = texture.TileMotion((0, 0), (0, 0), np.zeros((112, 112, 2), np.float32), np.ones((96, 96), bool))
    for t in (3, 4, 5):
        tiles.add(t, (160, 224), (motion,))
    assert tiles.get(3, (160, 224, 3)) == (motion,) and tiles.get(4, (160, 224, 3)) == (motion,)
    assert tiles.get(5, (160, 224, 3)) is None  # past the limit: not kept
    assert tiles.get(3, (224, 160, 3)) is None and tiles.get(6, (160, 224, 3)) is None


def test_a_job_refines_the_inputs_tiles_in_verification_and_no_tile_of_the_fix(boiling, tmp_path, monkeypatch):
    _, src, _ = boiling
    registry.register("test-same", FrameRoute("test-same", lambda fr: fr))
    try:
        calls = _counting(monkeypatch)
        out = process_file(src, tmp_path / "work", route_override=[Step("test-same")], compare=False)
    finally:
        registry.unregister("test-same")
    assert out.verification is not None and out.after is not None
    # the diagnosis's and verification's tiles of the input; the output's re-diagnosis reads verification's
    assert len(calls) == 2 * (N - 1)


def test_an_output_with_a_frame_dropped_is_re_diagnosed_on_its_own_tiles(boiling):
    d, src, _ = boiling
    dropped = clips.transform(src, str(d / "dropped.mp4"), lambda fr: fr[:5] + fr[6:])
    handed = []
    v = check(src, dropped, diagnose(src), None, rediagnose=lambda p, tiles: handed.append(tiles))
    assert not v.accepted and handed == [None]

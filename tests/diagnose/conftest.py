"""Clips for the diagnosis tests, generated once per session (tiny: 160x96, 24 frames)."""

import cv2
import pytest

from flickerd.synth.corpus import ClipSpec, write_clip

cv2.setNumThreads(1)


@pytest.fixture(scope="session")
def make_clip(tmp_path_factory):
    """``make_clip(kind, seed=..., **spec) -> path``; the same spec is written once."""
    root = tmp_path_factory.mktemp("clips")
    cache: dict = {}

    def make(kind: str, seed: int = 11, **kw) -> str:
        spec = ClipSpec(seed=seed, kind=kind, **kw)
        if spec not in cache:
            cache[spec] = write_clip(spec, root / f"{spec.name}-{len(cache)}.mp4")
        return cache[spec]

    return make


@pytest.fixture(scope="session")
def diagnosed(make_clip):
    """``diagnosed(kind, **spec) -> Diagnosis`` with default settings, memoised."""
    from flickerd.diagnose import run

    cache: dict = {}

    def get(kind: str, **kw):
        key = (kind, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = run(make_clip(kind, **kw))
        return cache[key]

    return get

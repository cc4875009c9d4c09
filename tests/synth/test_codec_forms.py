"""The real-render bench's stress set of other codec damage (``synth.codec_forms``): each form damages
the clip, the same frames give the same file, and its rows stay out of the committed figures."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from bench import real_renders as rr
from flickerd.synth import codec_forms
from flickerd.synth.real import encode, frames, Variant


def _clip(n: int = 8, h: int = 96, w: int = 128) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([40 + xx, 60 + yy, 200 - xx / 2], -1) + rng.normal(0, 2, (h, w, 3))
    return [np.clip(np.roll(base, 2 * t, axis=1), 0, 255).astype(np.uint8) for t in range(n)]


def _psnr(path, ref) -> float:
    out = codec_forms._decode(str(path))
    assert len(out) == len(ref)
    err = np.mean([np.mean((a.astype(float) - b.astype(float)) ** 2) for a, b in zip(out, ref)])
    return 10 * np.log10(255 ** 2 / err)


@pytest.mark.parametrize("form", codec_forms.FORMS)
def test_each_form_damages_the_clip_and_is_reproducible(tmp_path, form):
    ref = _clip()
    normal = _psnr(encode(ref, tmp_path / "normal.mp4"), ref)
    v = Variant("x.mp4", form, 1.0, 0)
    a = codec_forms.encode(form, 1.0, list(frames(v, ref)), tmp_path / "a.mp4", 25.0)
    b = codec_forms.encode(form, 1.0, list(frames(v, ref)), tmp_path / "b.mp4", 25.0)
    assert _psnr(a, ref) < normal - 2  # damage, not an ordinary encode
    assert hashlib.sha256(open(a, "rb").read()).digest() == hashlib.sha256(open(b, "rb").read()).digest()


def test_forms_are_judged_but_not_counted_in_the_committed_figures():
    rows = [{"source": "r.mp4", "kind": "asis", "verdict": "clean", "strength": 0.0, "seed": 0, "name": "r.asis"},
            {"source": "r.mp4", "kind": "codec", "verdict": "codec_artifacts", "strength": 1.0, "seed": 0, "name": "a"},
            {"source": "r.mp4", "kind": "codec_rescale", "verdict": "clean", "strength": 1.0, "seed": 0, "name": "b"}]
    e = rr.evaluate(rows, {"r.mp4": "fit"}, {})["fit"]
    assert e["overall"] == (1, 1)
    assert e["per_kind"]["codec_rescale"] == (0, 1)

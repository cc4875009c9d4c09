"""Faint re-drawn texture reads as flicker; a clean fast pan or zoom reads clean (not incoherent).

``texture_excess`` (``flickerd.quality.texture.excess``, opt-in: ``texture_excess_threshold``)
is what catches the faint texture: the plain residual/detail ratio stays under its threshold on
it, which the first test asserts, so the test fails without the excess measure.
"""

import numpy as np
import pytest

from flickerd.diagnose import run
from flickerd.diagnose.settings import DiagnoseSettings
from flickerd.diagnose.verdict import decide, fine_texture
from flickerd.errors import ConfigError
from flickerd.quality import texture
from flickerd.synth import corpus, real

S = DiagnoseSettings(texture_excess_threshold=0.11)  # the value README gives for the opt-in


@pytest.mark.parametrize("scene", ["objects", "static"])
def test_faint_redrawn_texture_reads_flicker(diagnosed, scene):
    faint = diagnosed("texture", scene=scene, strength=0.35, width=320, height=192)
    assert faint.scores["texture_flicker"] < S.texture_threshold  # the ratio alone calls it clean
    # by default only where nearly all of the residual is in the finest band (verdict.fine_texture):
    # the static scene's (session 18), not the moving objects'
    assert (faint.verdict.value == "generative_flicker") == fine_texture(faint.scores, DiagnoseSettings())
    assert faint.verdict.value in ("clean", "generative_flicker")
    assert faint.scores["texture_excess"] > S.texture_excess_threshold
    assert decide(faint.scores, S)[0].value == "generative_flicker"
    clean = diagnosed("clean", scene=scene, width=320, height=192)
    assert clean.scores["texture_excess"] < S.texture_excess_threshold / 2
    assert decide(clean.scores, S)[0].value == "clean"


def test_the_excess_threshold_is_zero_for_off_or_positive():
    with pytest.raises(ConfigError, match="texture_excess_threshold"):
        DiagnoseSettings(texture_excess_threshold=-0.1)


def test_excess_takes_off_what_the_reference_band_says_tracking_left():
    assert texture.excess(0.3, 0.05) == pytest.approx(0.3 - texture.REFERENCE_WEIGHT * 0.05)
    assert np.isnan(texture.excess(float("nan"), 0.1))


@pytest.mark.parametrize("kind,level", [("pan", 40.0), ("pan", 60.0), ("zoom", 0.04)])
def test_a_clean_fast_pan_or_zoom_reads_clean(tmp_path, kind, level):
    spec = corpus.ClipSpec(seed=5, kind="clean", scene="objects", width=640, height=384, frames=24)
    render = list(corpus.frames(spec))
    clip = real.encode(real.frames(real.Variant("synthetic.mp4", kind, level), render), tmp_path / "fast.mp4",
                       threads=1)
    d = run(clip, S)
    assert d.verdict.value not in ("incoherent", "generative_flicker"), d.scores

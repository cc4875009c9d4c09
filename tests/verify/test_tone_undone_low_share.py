"""Do no harm at the edge, on a real render that boils by itself: LaVie's shark with colour flicker at
half strength. ``normalize`` takes the colour flicker out, yet ends further from the render than its
input: its fine-band change (the encode smoothing the render's own boil) costs more against the render
than it undoes, while the blind measure credits it as flicker removed (only 0.52 of what it undoes lies
in the low band; a smooth correction: 0.8 and more). It passes the tone bar (``change_on_flicker`` 0.19).
Verification under the opt-in value (``FITTED_MIN_TONE_UNDONE_LOW_SHARE``) must refuse it, and still
publish the same route's fix at full strength, which is truly better. The render is the truth, so the test fails if either verdict is wrong. Skipped, saying so,
without the real renders (``../shared/real-renders``)."""

from __future__ import annotations

import pytest

from tests import real_clips

real_clips.renders()  # skips the module, saying so, without them

RENDER = "Vchitect__LaVie__a_shark_swimming_in_clear_Carribean_ocean_2k_high_quality.gif"  # 16 frames: all in its clip


@pytest.fixture(scope="module")
def truth():
    return real_clips.truth(RENDER)


def _normalized(tmp_path, truth, strength: float):  # judged under the opt-in value
    from flickerd.verify import FITTED_MIN_TONE_UNDONE_LOW_SHARE, Acceptance

    opt_in = Acceptance(min_tone_undone_low_share=FITTED_MIN_TONE_UNDONE_LOW_SHARE)
    return real_clips.auto_fixed(tmp_path, RENDER, truth, "chroma", strength, 0, "normalize", opt_in)


def test_a_tone_fix_credited_for_the_encodes_smoothing_is_refused(tmp_path, truth):
    from flickerd.verify import DEFAULT_MIN_TONE_CHANGE_ON_FLICKER

    v, gain = _normalized(tmp_path, truth, 0.5)
    assert gain < 0  # the case is what it claims: published, it moves the picture away from the render
    assert v.metrics["change_on_flicker"] >= DEFAULT_MIN_TONE_CHANGE_ON_FLICKER  # the tone bar lets it through
    assert v.metrics["flicker_undone_low_share"] < 0.65, v.metrics["flicker_undone_low_share"]
    assert not v.accepted
    assert any("low band" in r for r in v.reasons), v.reasons


def test_the_same_route_at_full_strength_is_still_published(tmp_path, truth):
    v, gain = _normalized(tmp_path, truth, 1.0)
    assert gain > real_clips.GOOD_DB, gain
    assert v.accepted, v.reasons

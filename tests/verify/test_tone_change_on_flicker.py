"""Do no harm on a real render that boils by itself: Open-Sora's 240p street with luma flicker at
half strength. ``normalize`` flattens the frame means (the injected flicker goes), but its change
lines up with the input's residual barely more than a plain re-encode's does (0.14 against
0.04–0.11 on five clips): the render's own residual swamps the flicker, and the fix ends further from the render
than its input. Verification must refuse it, and still publish the same route's fix at full
strength, which is truly better. The render is the truth, so the test fails if either verdict is
wrong. Skipped, saying so, without the real renders (``../shared/real-renders``)."""

from __future__ import annotations

import pytest

from tests import real_clips

real_clips.renders()  # skips the module, saying so, without them

RENDER = "hpcaitech__Open-Sora__sora_16x240x426_26.gif"
# the GIF has 20 frames: its bench clip is all of them


@pytest.fixture(scope="module")
def truth():
    return real_clips.truth(RENDER)


def _normalized(tmp_path, truth, strength: float):
    return real_clips.auto_fixed(tmp_path, RENDER, truth, "luma", strength, 0, "normalize")


def test_a_tone_fix_that_mostly_moved_the_render_is_refused(tmp_path, truth):
    v, gain = _normalized(tmp_path, truth, 0.5)
    assert gain < -real_clips.HARM_DB  # the case is what it claims: published, it would be harm
    assert v.metrics["change_on_flicker"] < 0.15, v.metrics["change_on_flicker"]
    assert not v.accepted
    assert any("lines up with the input's flicker" in r for r in v.reasons), v.reasons


def test_the_same_route_at_full_strength_is_still_published(tmp_path, truth):
    v, gain = _normalized(tmp_path, truth, 1.0)
    assert gain > real_clips.GOOD_DB, gain
    assert v.accepted, v.reasons


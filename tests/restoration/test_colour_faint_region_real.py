"""Do no harm on a real render that boils by itself: LaVie's shark with colour flicker at half
strength (seed 3), where the diagnosis also reads a faint region (local flicker 0.64, the render's
own 0.59) and the tone holds. ``normalize`` with its cells "corrected" the render's own luma where
the shark moves and ended 0.31 dB further from the render than its input; over the whole frame it
corrects the colour alone. The render is the truth: the test fails if auto's chain is harmful (or
if the case stops being one: the cells' chain must still be). Skipped, saying so, without the real
renders (``../shared/real-renders``)."""

from __future__ import annotations

import pytest

from tests import real_clips

real_clips.renders()  # skips the module, saying so, without them
RENDER = "Vchitect__LaVie__a_shark_swimming_in_clear_Carribean_ocean_2k_high_quality.gif"


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    from flickerd.diagnose import run as diagnose

    truth = real_clips.truth(RENDER)
    tmp = tmp_path_factory.mktemp("lavie")
    clip = real_clips.injected(tmp, RENDER, "chroma", 0.5, 3)
    return tmp, clip, diagnose(clip), truth


def _gain(tmp, clip, steps, truth) -> float:
    from flickerd.routes.base import run_chain

    out = str(tmp / f"fixed{len(list(tmp.iterdir()))}.mp4")
    run_chain(clip, steps, out, str(tmp))
    return real_clips.gain(out, clip, truth)


def test_auto_corrects_the_colour_over_the_frame_and_does_no_harm(case):
    from flickerd.routes.base import Step
    from flickerd.rules import DEFAULT_RULES, decide

    tmp, clip, before, truth = case
    decision = decide(before, DEFAULT_RULES)
    assert decision.steps == (Step("normalize", {"local": False}),), (decision.rule, before.scores)
    assert _gain(tmp, clip, decision.steps, truth) > -real_clips.HARM_DB


def test_the_cells_would_have_been_harmful(case):
    from flickerd.routes.base import Step

    tmp, clip, _, truth = case
    assert _gain(tmp, clip, (Step("normalize"),), truth) < -real_clips.HARM_DB

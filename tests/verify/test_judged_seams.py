"""The seams a fix is judged at: the corrected ones and the diagnosis's, one join counted once."""

from __future__ import annotations

from flickerd.diagnose.model import Diagnosis, Verdict
from flickerd.diagnose.seam_list import REFINE, merged
from flickerd.routes.base import ChainResult, Step, StepResult
from flickerd.rules import with_seams
from flickerd.verify import judged_seams


def _diagnosis(seams: tuple[int, ...]) -> Diagnosis:
    return Diagnosis("x.mp4", Verdict.CLEAN, 0.9, {}, 120, 24.0, 64, 64, 5.0, seams=seams)


def _chain(*corrected: tuple[int, ...]) -> ChainResult:
    steps = tuple(StepResult("drift", "3", "test", {}, extra={"seams": list(s)}) for s in corrected)
    return ChainResult(steps + (StepResult("normalize", "4", "test", {}),), "out.mp4", 1.0)


def test_a_join_the_rule_named_and_the_diagnosis_found_nearby_is_judged_once():
    """A rule names 42, the diagnosis finds 40: the step corrects 42 only, and 42 only is judged."""
    (step,) = with_seams([Step("drift", {"seams": [42]})], (40, 80))
    assert step.params["seams"] == [42, 80]
    assert judged_seams(_diagnosis((40, 80)), _chain(tuple(step.params["seams"]))) == (42, 80)


def test_judged_seams_are_the_union_of_what_was_corrected_and_found():
    assert judged_seams(_diagnosis((81,)), _chain((162,))) == (81, 162)
    assert judged_seams(_diagnosis((81,)), None) == (81,)
    assert judged_seams(None, _chain((40,), (40 + REFINE + 1,))) == (40, 45)
    assert judged_seams(None, None) == ()
    assert judged_seams(_diagnosis(()), _chain()) == ()


def test_merged_keeps_named_seams_and_found_ones_only_away_from_them():
    assert merged([42], [40, 46, 47, 90]) == (42, 47, 90)
    assert merged([], [90, 10, 10]) == (10, 90)

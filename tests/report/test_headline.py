"""The one flicker figure: which measure it is, its text, and that log, metric, report JSON, plot
title and ``flickerd fix``'s summary all say the same."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import structlog
from prometheus_client import CollectorRegistry

from flickerd.logs import log_job_summary
from flickerd.metrics import Metrics
from flickerd.report import _title
from flickerd.report.headline import flicker_change_text
from flickerd.verify import HEADLINE_MEASURES, Verification, headline

# MagicTime's normalize fix on the real render (qa17): luma flicker 1.48 -> 0.01 while the
# warping error fell 3%; the headline said "flicker -3%"
MAGICTIME = {
    "warp_error_reduction": 0.031, "luma_flicker_reduction": 0.853, "local_flicker_reduction": 0.05,
    "chroma_flicker_reduction": 0.43, "detail_flicker_reduction": None, "flicker_before": 0.00100,
    "flicker_after": 0.00097, "flicker_reduction": 0.03, "ssim": 0.98, "warp_error_before": 0.00100,
    "luma_flicker_before": 1.65, "local_flicker_before": 0.7, "chroma_flicker_before": 0.5,
}


def _verification(metrics: dict) -> Verification:
    metrics = {**metrics, **headline(metrics)}
    return Verification(True, (), metrics, None)


@pytest.mark.parametrize(("reduction", "text"), [
    (0.45, "warping error -45%"), (-0.03, "warping error +3%"), (0.0021, "warping error -0.2%"),
    (-0.004, "warping error +0.4%"), (0.0002, "warping error unchanged"), (0.0, "warping error unchanged"),
    (None, None), (float("nan"), None),
])
def test_a_small_change_keeps_its_sign_and_size(reduction, text):
    assert flicker_change_text(SimpleNamespace(metrics={"flicker_reduction": reduction})) == text


def test_the_headline_is_the_measure_that_fell_most():
    assert headline(MAGICTIME) == {"headline_measure": "luma_flicker", "headline_reduction": 0.853}
    # a drift fix lowers none of the five: its drift is the figure
    assert headline({"warp_error_reduction": 0.01, "warp_error_before": 1e-3, "drift_reduction": 0.6,
                     "drift_before": 3.0})["headline_measure"] == "drift"
    assert headline({"luma_flicker_reduction": None}) == {"headline_measure": None, "headline_reduction": None}
    # a tie goes to the warping error, the measure of motion-compensated change as a whole
    assert headline({"warp_error_reduction": 0.2, "warp_error_before": 1e-3, "luma_flicker_reduction": 0.2,
                     "luma_flicker_before": 1.0})["headline_measure"] == "warp_error"


def test_a_fix_that_made_things_worse_says_so():
    """A measure whose input was under its noise floor reads exactly 0% (both raised to the floor):
    it must not be the headline of a fix whose real measures rose (review 18 #2)."""
    worse = {"warp_error_reduction": -0.2, "warp_error_before": 1e-3, "detail_flicker_reduction": -0.1,
             "detail_flicker_before": 3.0, "luma_flicker_reduction": 0.0, "luma_flicker_before": 0.1,
             "flicker_reduction": -0.2}
    assert headline(worse) == {"headline_measure": "warp_error", "headline_reduction": -0.2}
    assert flicker_change_text(_verification(worse)) == "warping error +20%"
    # a measure under its floor that "fell" is no headline either: the warping error's own change is
    assert headline({**worse, "luma_flicker_reduction": 0.5})["headline_measure"] == "warp_error"


def test_a_tone_fix_leads_with_the_tone_and_keeps_the_warping_error():
    v = _verification(MAGICTIME)
    assert flicker_change_text(v) == "luma flicker -85%, warping error -3%"
    only_warp = _verification({"warp_error_reduction": 0.45, "warp_error_before": 1e-3, "luma_flicker_reduction": 0.1,
                               "luma_flicker_before": 1.0, "flicker_reduction": 0.45})
    assert flicker_change_text(only_warp) == "warping error -45%"


def test_log_metric_json_title_and_cli_agree(capsys):
    from flickerd.commands.fix import _summary
    from flickerd.service.worker import _headline

    v = _verification(MAGICTIME)
    outcome = SimpleNamespace(verification=v, status="done", route="normalize", before=None, reason="",
                              decision=None)
    found = _headline(outcome)
    with structlog.testing.capture_logs() as logs:
        log_job_summary(outcome="done", route="normalize", verdict=None, duration_s=1, queue_wait_s=0,
                        flicker_before=v.metrics["flicker_before"], flicker_after=v.metrics["flicker_after"],
                        **found)
    line = logs[0]
    registry = CollectorRegistry()
    Metrics(registry, folders=["in"], routes=["normalize"]).headline(found["headline_reduction"])
    document = v.to_json()["metrics"]
    assert line["headline_measure"] == document["headline_measure"] == "luma_flicker"
    assert line["headline_reduction"] == round(document["headline_reduction"], 4) == 0.853
    assert registry.get_sample_value("flickerd_headline_reduction_ratio_bucket",
                                     {"le": "0.8"}) == 0
    assert registry.get_sample_value("flickerd_headline_reduction_ratio_bucket",
                                     {"le": "1.0"}) == 1
    assert "luma flicker -85%, warping error -3%" in _title("MagicTime.gif", "done", None, v)
    _summary(outcome, [])
    assert "luma flicker -85%, warping error -3%" in capsys.readouterr().out


@pytest.mark.parametrize(("detail", "warp", "bars", "text"), [
    # sample_8_seed2 (qa19 #14): 1.22% and 0.61% both printed "-1%"
    (0.0122, 0.0061, {}, "fine-detail flicker -1.2%, warping error -0.6%"),
    (0.85, 0.03, {}, "fine-detail flicker -85%, warping error -3%"),  # far apart: whole percents
    (0.85, 0.004, {}, "fine-detail flicker -85%, warping error -0.4%"),  # never "-0%"
    # a figure never reads as acceptance's bar when it is not: 9.96% is not "-10%"
    (0.0996, 0.03, {"min_flicker_reduction": 0.10}, "fine-detail flicker -9.96%, warping error -3%"),
    (0.10, 0.03, {"min_flicker_reduction": 0.10}, "fine-detail flicker -10%, warping error -3%"),
    (0.997, 0.5, {}, "fine-detail flicker -99.7%, warping error -50%"),  # something is left: not "-100%"
    # review20 #5: one rule to 3 places, bars compared with the sign
    (0.01221, 0.01224, {}, "fine-detail flicker -1.221%, warping error -1.224%"),  # never alike
    (0.99996, 0.5, {}, "fine-detail flicker -99.996%, warping error -50%"),  # not "-100.00%"
    (0.5, -1.0, {}, "fine-detail flicker -50%, warping error +100%"),  # doubled: a rise is no fall bar
    (0.9999999, 0.5, {}, "fine-detail flicker fell just under 100%, warping error -50%"),
    (0.0999999, 0.03, {"min_flicker_reduction": 0.10}, "fine-detail flicker fell just under 10%, warping error -3%"),
])
def test_two_figures_never_print_alike_nor_as_zero_or_the_bar(detail, warp, bars, text):
    v = SimpleNamespace(metrics={"headline_measure": "detail_flicker", "headline_reduction": detail,
                                 "flicker_reduction": warp}, thresholds=bars)
    assert flicker_change_text(v) == text


def test_a_job_with_no_decision_prints_no_route(capsys):
    # "failed (failed: none)" (review20 #7)
    from flickerd.commands.fix import _summary

    _summary(SimpleNamespace(verification=None, status="failed", route="none", before=None, decision=None,
                             reason="corrupt_input: no video stream."), [])
    assert capsys.readouterr().out.splitlines() == ["failed", "  corrupt_input: no video stream."]


def test_a_rejected_fix_gives_its_figures_as_its_reason_does():
    # Open-Sora 16x240: the reason said "fell by only 2.8%", the title "luma flicker -3%"
    v = SimpleNamespace(metrics={"headline_measure": "luma_flicker", "headline_reduction": 0.0283,
                                 "flicker_reduction": 0.0012}, thresholds={"min_flicker_reduction": 0.10}, accepted=False)
    assert flicker_change_text(v) == "luma flicker -2.8%, warping error -0.1%"
    # at the bar: the title rounds as the reason does ("fell by only 9.996%"), never "-10.00%" (review20 #5)
    from flickerd.verify import Acceptance, judge

    near = SimpleNamespace(metrics={**v.metrics, "headline_reduction": 0.09996}, thresholds=v.thresholds, accepted=False)
    assert flicker_change_text(near) == "luma flicker -9.996%, warping error -0.1%"
    reason = judge({"best_reduction": 0.09996}, Acceptance(), "fix")[0]
    assert "9.996%" in reason, reason


@pytest.mark.parametrize(("status", "words", "label"), [
    ("done", "fixed", None), ("rejected", "rejected", "rejected fix"), ("report_only", "report only", "refused fix"),
])
def test_the_cli_keeps_the_status_token_adds_the_plots_words_and_never_publishes_a_refused_fixs_figures(
        capsys, status, words, label):
    # guided_mochi (qa19 #12): "report_only (normalize+guided, verdict clean, warping error +0.4%, SSIM …)"
    # led with the figures of a fix nobody got
    from flickerd.commands.fix import _summary

    v = _verification(MAGICTIME)
    outcome = SimpleNamespace(verification=v, status=status, route="normalize", before=None, reason="r.",
                              decision=None, chain=None)
    _summary(outcome, [])
    line = capsys.readouterr().out.splitlines()[0]
    assert line.split()[0] == status and line.startswith(f"{status} ({words}: normalize")
    figures = "luma flicker -85%, warping error -3%, SSIM 0.980"
    if label is None:
        assert line == f"done (fixed: normalize, {figures})"
    else:
        assert line == f"{status} ({words}: normalize); the {label}, not published: {figures}"
    # the plot's title says it alike
    if label is None:  # a done fix's reason repeats the line's figures: they are printed once (review20 #7)
        outcome.reason = f"fixed by rule generative with normalize: {figures}."
        outcome.decision = SimpleNamespace(route="normalize", rule="generative", note="")
        _summary(outcome, [])
        out = capsys.readouterr().out
        assert out.count("luma flicker -85%") == 1, out
        assert out.splitlines()[1] == "  fixed by rule generative with normalize."
    title = _title("guided_mochi.mp4", status, None, v)
    assert title == f"guided_mochi.mp4 — {words} — " + (figures if label is None else f"the {label}, not published: {figures}")


def test_the_reason_and_the_title_round_a_reduction_by_one_public_rule():
    """``figures.percent_apart`` is the rule both read (the headline imported verification's
    private copy): 9.96% beside a 10% bar keeps 2 places, 9.996% 3, a clear 4.0% 1; never more than 3."""
    from flickerd.figures import PERCENT_MOST_PLACES, percent_apart
    from flickerd.report import headline

    assert [percent_apart(r, 0.10) for r in (0.0996, 0.09996, 0.04, 0.0999999)] == [2, 3, 1, PERCENT_MOST_PLACES]
    assert not any(name.startswith("_") and not name.startswith("__") and getattr(headline, name).__module__ != headline.__name__
                   for name in vars(headline) if callable(getattr(headline, name)))

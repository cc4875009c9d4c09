"""The flicker plot draws what was measured: sampled points as dots, notes for what was not, the deciding measure."""

from __future__ import annotations

import math
from types import SimpleNamespace

import cv2
import pytest

from flickerd.diagnose import DiagnoseSettings, run
from flickerd.report.plot import figure, panels, write_plot
from flickerd.synth.corpus import ClipSpec, write_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("plot-clips")
    make = lambda kind, frames, **kw: write_clip(ClipSpec(seed=4, kind=kind, width=160, height=96, frames=frames, **kw),  # noqa: E731
                                                 d / f"{kind}-{frames}.mp4")
    return {"luma": make("luma", 40), "texture": make("texture", 24), "short": make("luma", 2)}


def _finite(values):
    return [v for v in values if not math.isnan(v)]


def test_a_sampled_diagnosis_is_drawn_as_dots_and_says_so(clips):
    d = run(clips["luma"], DiagnoseSettings(max_pairs=8, every_pair_up_to=0))  # a long clip's sampling, on a short one
    warp, luma = panels(d, None)[:2]
    before = luma.curves[0]
    assert 0 < before.measured < 20 and luma.sampled and warp.sampled
    assert f"of {d.frames} frames measured" in luma.note and "diagnose.max_pairs" in luma.note
    fig = figure(before=d, verification=None, title="t")
    dots = [ln for ln in fig.axes[1].lines if ln.get_marker() == "o"]
    assert dots and len(dots[0].get_xdata()) == before.measured  # every measured frame is visible


def test_the_deciding_measure_gets_its_panel_with_threshold_and_agreeing_numbers(clips):
    d = run(clips["texture"])
    drawn = panels(d, None)
    texture = [p for p in drawn if p.title.startswith("Regenerated texture — decided the verdict")]
    assert len(drawn) == 3 and texture, [p.title for p in drawn]
    panel = texture[0]
    assert panel.threshold == pytest.approx(d.settings["texture_threshold"])
    assert panel.curves[0].statistic() == pytest.approx(d.scores["texture_flicker"], rel=1e-6)  # the score is this median
    assert f"{d.scores['texture_flicker']:.2f}" in panel.title


def test_before_and_after_come_from_verification_and_the_re_diagnosis(clips):
    d = run(clips["texture"])
    n = d.frames
    verification = SimpleNamespace(series={"warp_error_before": [None] + [0.002] * (n - 1),
                                           "warp_error_after": [None] + [0.001] * (n - 1),
                                           "luma_flicker_before": [None] + [0.5] * (n - 2) + [None],
                                           "luma_flicker_after": [None] + [0.2] * (n - 2) + [None]},
                                   after=d, mode="fix", metrics={})
    warp, luma, texture = panels(d, verification)
    assert [c.label for c in warp.curves] == ["before (input)", "after (fixed)"] and not warp.sampled
    assert "input's optical flow" in warp.title and warp.note == ""
    assert warp.curves[1].legend(warp.ylabel) == "after (fixed): mean 0.0010 RGB² in [0,1], mean of R, G, B"
    assert warp.legends()[1] == warp.curves[1].legend(warp.ylabel)  # means far apart: as every report prints them


def test_a_before_and_after_that_print_alike_get_the_digits_to_differ():
    from flickerd.report.plot import AFTER, BEFORE, Curve, Panel

    unit = "RGB² in [0,1], mean of R, G, B"
    curves = (Curve("before (input)", (0.00214, 0.00214), BEFORE), Curve("after (fixed)", (0.00208, 0.00208), AFTER))
    # MagicTime: the title said "warping error -3%" over two legends that both read "mean 0.0021"
    assert curves[0].legend(unit) == f"before (input): mean 0.0021 {unit}" == curves[1].legend(unit).replace("after (fixed)", "before (input)")
    assert Panel("warp", unit, curves, sampled=False).legends() == [f"before (input): mean 0.00214 {unit}",
                                                                     f"after (fixed): mean 0.00208 {unit}"]

def test_what_was_not_measured_is_said_with_the_reason(clips):
    d = run(clips["short"])
    warp, luma = panels(d, None)[:2]
    assert luma.curves[0].measured == 0
    assert "not measured" in luma.note and "the clip has 2 frames" in luma.note
    interpolated = SimpleNamespace(series={}, after=None, mode="interpolate", metrics={})
    d40 = run(clips["luma"])
    assert all(p.note == "" or "not measured" not in p.note for p in panels(d40, interpolated))


@pytest.mark.parametrize("status", ["report_only", "needs_attention"])
def test_the_png_has_a_panel_per_measure(clips, tmp_path, status):
    from flickerd.report import _subtitle, _title

    d = run(clips["texture"])
    path = write_plot(str(tmp_path / "p.png"), before=d, verification=None,
                      title=_title(clips["texture"], status, None, None), subtitle=_subtitle(d, status, None))
    png = cv2.imread(path)
    assert png.shape[1] == 1000 and png.shape[0] == 780  # 3 panels
    assert png.std() > 10


def _panning_frames(n: int = 64, h: int = 96, w: int = 160):
    import numpy as np

    rng = np.random.default_rng(3)
    big = cv2.GaussianBlur(rng.uniform(40, 200, (h, w + n, 3)).astype(np.float32), (0, 0), 2.0)
    return [np.clip(big[:, t:t + w], 0, 255).astype(np.uint8) for t in range(n)]


def test_window_seams_get_a_tone_panel_whose_legends_agree_with_the_curves(tmp_path):
    from flickerd.synth import drift as synth
    from flickerd.synth.real import encode

    frames = _panning_frames()
    damaged, dmg = synth.damage(frames, seed=1, window=24)
    d = run(encode(damaged, tmp_path / "drift.mp4", fps=24))
    assert len(d.seams) == len(dmg.seams) and all(abs(a - b) <= 1 for a, b in zip(d.seams, dmg.seams))
    tone = panels(d, None)[-1]
    assert tone.title.startswith("Tone level") and tone.marks == d.seams and tone.signed
    curve = tone.curves[0]
    assert curve.values[0] == 0.0  # a change since frame 0
    # the legend's summed step is what the curve shows after the last seam (no trend here)
    settled = sorted(_finite(curve.values[d.seams[-1] + 4:]))
    shown = settled[len(settled) // 2]
    said = float(curve.label.split(": ")[1].split(" grey")[0])
    assert abs(said - shown) < 1.0 and abs(said) > 3.0, (said, shown)
    # the channel drawn is the one that steps most: the injected exposure step is mostly Y
    assert "Tone level Y" in tone.title
    clean = run(encode(frames, tmp_path / "clean.mp4", fps=24))
    assert clean.seams == () and not any(p.title.startswith("Tone level") for p in panels(clean, None))
    fig = figure(before=d, verification=None, title="t")
    marks = [ln for ln in fig.axes[-1].lines if ln.get_linestyle() == ":" and len(set(ln.get_xdata())) == 1]
    assert sorted(float(ln.get_xdata()[0]) + 0.5 for ln in marks) == [float(s) for s in d.seams]
    assert fig.axes[-1].get_ylim()[0] <= -2.0  # a change of level: the axis is not pinned at 0


def test_a_cross_fade_verdict_names_the_long_look_not_the_pair_measure(clips):
    """A clip called incoherent by ``fade`` (the pairs' own replaced area under its threshold) says
    so, and is not drawn as "replaced content, closest to its threshold"."""
    import dataclasses

    from flickerd.diagnose.model import Verdict
    from flickerd.report.measures import verdict_sentence

    d = run(clips["luma"])
    faded = dataclasses.replace(d, verdict=Verdict.INCOHERENT, scores={**d.scores, "fade": 0.06, "incoherence": 0.007})
    assert faded.settings["fade_threshold"] < 0.06 and 0.007 < faded.settings["incoherence_threshold"]
    said = verdict_sentence(faded)
    assert said.startswith("Incoherent") and "cross-faded content 0.06 frame fraction is over" in said, said
    assert not any(p.title.startswith("Replaced content") for p in panels(faded, None))


def test_frame_ticks_are_whole_frames(clips):
    d = run(clips["short"])  # a few frames: matplotlib's own ticks would fall on half frames
    fig = figure(before=d, verification=None, title="t")
    ticks = fig.axes[-1].get_xticks()
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks


def test_a_rejected_plot_says_why_it_was_rejected(clips):
    from flickerd.report import SUBTITLE_WIDTH, _subtitle

    d = run(clips["texture"])
    reasons = ["the fix does not reduce flicker: the best of warping error, luma flicker, local flicker, chroma "
               "flicker and fine-detail flicker fell by only 6.4%, and it must fall by more than 10%.",
               "SSIM vs the input 0.5000 is below the minimum 0.7000."]
    text = _subtitle(d, "rejected", SimpleNamespace(reasons=reasons, metrics={}))
    said = text.replace("\n", " ")
    assert "fell by only 6.4%" in said and "1 more reason in the report." in said
    assert "curves show why" not in text
    assert max(len(line) for line in text.splitlines()) <= SUBTITLE_WIDTH  # wrapped to the figure's width


def test_a_refused_fix_of_a_reported_render_says_it_was_not_published(clips):
    """qa19: a guided fix of a clean render, refused, ends report_only with its "after" curves drawn;
    the plot said nowhere that this fix was not published, nor why."""
    from flickerd.report import _subtitle

    d = run(clips["texture"])
    refused = SimpleNamespace(accepted=False, reasons=["the fix does not reduce flicker: fell by only 0.1%."], metrics={})
    said = _subtitle(d, "report_only", refused).replace("\n", " ")
    assert "refused and not published" in said and "fell by only 0.1%" in said
    kept = SimpleNamespace(accepted=True, reasons=[], metrics={})
    assert "not published" not in _subtitle(d, "done", kept)


def test_small_figures_keep_their_trailing_zero():
    from flickerd.figures import fmt

    assert (fmt(0.0007038), fmt(0.00068), fmt(0.5), fmt(0.0)) == ("0.00070", "0.00068", "0.50", "0")


def test_a_score_over_its_threshold_never_prints_as_the_threshold(clips):
    import dataclasses

    from flickerd.diagnose.model import Verdict
    from flickerd.report.measures import verdict_sentence

    d = run(clips["luma"])
    faded = dataclasses.replace(d, verdict=Verdict.INCOHERENT, scores={**d.scores, "fade": 0.044777, "incoherence": 0.007})
    assert round(faded.settings["fade_threshold"], 2) == 0.04  # both would print as 0.04
    assert "cross-faded content 0.0448 frame fraction is over its threshold of 0.0385" in verdict_sentence(faded)
    near = dataclasses.replace(faded, scores={**faded.scores, "fade": 0.039})  # review 17 #1: "0.0390 … 0.04"
    assert "cross-faded content 0.0390 frame fraction is over its threshold of 0.0385" in verdict_sentence(near)


def test_a_pair_never_prints_alike():
    from flickerd.figures import fmt_pair

    assert fmt_pair(0.61, 0.614) == ("0.610", "0.614")
    assert fmt_pair(0.0449, 0.045) == ("0.0449", "0.0450")
    assert fmt_pair(2.5, 0.59) == ("2.50", "0.59")
    assert fmt_pair(0.1500000001, 0.15) == ("just over 0.150000", "0.150000")


def test_a_mixed_verdict_subtitle_is_wrapped_to_the_figure(clips):
    import dataclasses

    from flickerd.diagnose.model import Verdict
    from flickerd.report import SUBTITLE_WIDTH, _subtitle
    from flickerd.report.measures import verdict_sentence

    d = run(clips["texture"])
    mixed = dataclasses.replace(d, verdict=Verdict.MIXED, scores={**d.scores, "banding": 0.08})
    assert len(verdict_sentence(mixed)) > SUBTITLE_WIDTH  # SEINE's: two measures, 160 characters
    text = _subtitle(mixed, "rejected", SimpleNamespace(reasons=["x"], metrics={}))
    assert max(len(line) for line in text.splitlines()) <= SUBTITLE_WIDTH


def test_replaced_content_is_shaded_where_the_diagnosis_found_it(clips):
    """A needs-attention clip's plot shows where content was replaced (review: the fade's place was in no panel)."""
    import dataclasses

    from flickerd.diagnose.model import Segment, Verdict

    d = run(clips["luma"])
    faded = dataclasses.replace(d, verdict=Verdict.INCOHERENT, segments=(Segment(17, 26, "incoherent", 0.06),))
    fig = figure(before=faded, verification=None, title="t")
    for ax in fig.axes:
        spans = [p for p in ax.patches if p.get_label() == "content replaced (incoherent)"]
        assert len(spans) == 1, [p.get_label() for p in ax.patches]
        x0, x1 = spans[0].get_x(), spans[0].get_x() + spans[0].get_width()
        assert (x0, x1) == (16.5, 26.5)
    plain = figure(before=d, verification=None, title="t")
    assert not any(p.get_label() == "content replaced (incoherent)" for ax in plain.axes for p in ax.patches)


def test_unmeasured_inner_frames_are_named_and_plain_means_claim_no_flow(clips):
    # qa17 F17: hunyuan's texture panel missed 20 of 115 inner frames without a word (a line
    # bridged them); and the luma panel of plain frame means said "measured with the input's optical flow"
    d = run(clips["texture"])
    n = d.frames
    gap = [None if i in (5, 6, 7, 12) else 0.002 for i in range(n)]
    gap[0] = None
    verification = SimpleNamespace(series={"warp_error_before": gap, "warp_error_after": gap,
                                           "luma_flicker_before": [None] + [0.5] * (n - 2) + [None],
                                           "luma_flicker_after": [None] + [0.2] * (n - 2) + [None]},
                                   after=d, mode="fix", metrics={})
    warp, luma = panels(d, verification)[:2]
    assert not warp.sampled
    assert f"Before and after: frames 5–7, 12 not measured (4 of {n - 2} inner frames)" in warp.note
    assert luma.note == ""  # only the ends, which a triple never has
    assert "optical flow" in warp.title and "plain frame means" in luma.title
    assert "no optical flow" in luma.title and "input's optical flow" not in luma.title


def test_a_long_title_is_broken_at_its_parts(tmp_path, monkeypatch):
    # the Great Train Robbery's title (135 characters) ran off the figure's left edge
    from flickerd import report
    from flickerd.report import TITLE_WIDTH, title_lines

    seen = {}
    monkeypatch.setattr("flickerd.report.plot.write_plot", lambda path, **kw: seen.update(kw))
    v = SimpleNamespace(metrics={"headline_measure": "luma_flicker", "headline_reduction": 0.808,
                                 "flicker_reduction": 0.44, "ssim": 0.996})
    name = "mountln__RRTN-old-film-restoration__the_great_train_robbery.mp4"
    assert report._plot(str(tmp_path / "p.png"), name, "done", None, None, v) == ""
    lines = seen["title"].splitlines()
    assert len(lines) == 2 and max(map(len, lines)) <= TITLE_WIDTH, lines
    assert lines[0] == f"{name} — fixed" and lines[1] == "luma flicker -81%, warping error -44%, SSIM 0.996"
    assert title_lines("short — title") == "short — title"


def test_a_panel_of_the_headlines_kind_gives_the_headlines_figures(clips):
    # MagicTime: the luma panel drew the diagnoses' 1.48 -> 0.01 under a title "luma flicker -85%"
    d = run(clips["luma"])
    metrics = {"luma_flicker_before": 1.648, "luma_flicker_after": 0.2127, "luma_flicker_reduction": 0.8483,
               "headline_measure": "luma_flicker", "headline_reduction": 0.8483}
    verification = SimpleNamespace(series={}, after=d, mode="fix", metrics=metrics)
    luma = [p for p in panels(d, verification) if p.title.startswith("Global luma flicker — ")]
    assert luma, [p.title for p in panels(d, verification)]
    assert ('The title\'s "luma flicker -85%" is verification\'s luma flicker, every frame of both files: '
            "1.65 → 0.21 grey levels") in luma[0].note
    other = SimpleNamespace(series={}, after=d, mode="fix", metrics={**metrics, "headline_measure": "warp_error"})
    assert "The title's" not in " ".join(p.note for p in panels(d, other))


def test_a_legend_keeps_off_the_note(clips):
    d = run(clips["luma"], DiagnoseSettings(max_pairs=8, every_pair_up_to=0))  # a sampling note on the luma panel
    fig = figure(before=d, verification=None, title="t")
    ax = fig.axes[1]
    assert ax.get_legend() is not None and ax.get_legend()._loc == 1  # upper right; the note is top left


def test_a_fall_under_its_noise_floor_says_the_title_does_not_count_it(clips):
    """qa19, SEINE: the luma panel drew 0.22 → 0.09 (−59%) under a title "local flicker -11%"."""
    d = run(clips["texture"])
    metrics = {"luma_flicker_before": 0.216356, "luma_flicker_after": 0.0910993, "luma_flicker_reduction": 0.0,
               "local_flicker_before": 0.9676, "local_flicker_after": 0.8635, "local_flicker_reduction": 0.1077,
               "headline_measure": "local_flicker", "headline_reduction": 0.1077}
    series = {"luma_flicker_before": [0.3, 0.1, 0.25], "luma_flicker_after": [0.1, 0.05, 0.12]}

    def luma_note(m):
        v = SimpleNamespace(series=series, after=d, mode="fix", metrics=m)
        return next(p.note for p in panels(d, v) if p.title.startswith("Global luma flicker of plain frame means"))

    assert "luma flicker, 0.22 → 0.09 grey levels, stays under its noise floor of 0.25" in luma_note(metrics)
    over = {**metrics, "luma_flicker_before": 0.4, "luma_flicker_reduction": 0.0}  # counted: no such note
    assert "noise floor" not in luma_note(over)
    small = {**metrics, "luma_flicker_before": 0.13, "luma_flicker_after": 0.12}  # −8%: no one reads it as a fix
    assert "noise floor" not in luma_note(small)
    warp = {**metrics, "warp_error_before": 9.89e-05, "warp_error_after": 9.88e-05, "warp_error_reduction": 0.001,
            "headline_measure": "warp_error", "headline_reduction": 0.001}
    v = SimpleNamespace(series={**series, "warp_error_before": [1e-4], "warp_error_after": [1e-4]}, after=d, mode="fix",
                        metrics=warp)
    assert not panels(d, v)[0].note  # the panel is the title's own figure: no note repeating it


def test_a_refused_fix_is_not_called_fixed_in_the_legends(clips):
    """qa19: a rejected fix's and a refused guided fix's curves read "after (fixed)"."""
    d = run(clips["texture"])
    series = {"warp_error_before": [0.002] * d.frames, "warp_error_after": [0.001] * d.frames}
    refused = SimpleNamespace(series=series, after=d, mode="fix", metrics={}, accepted=False)
    labels = [c.label for p in panels(d, refused) for c in p.curves if c.label.startswith("after")]
    assert labels and all("refused fix" in x and "fixed" not in x for x in labels), labels
    kept = SimpleNamespace(series=series, after=d, mode="fix", metrics={}, accepted=True)
    assert all("(fixed" in c.label for p in panels(d, kept) for c in p.curves if c.label.startswith("after"))


def test_the_warping_error_means_one_quantity_on_every_plot(clips):
    # a report-only plot drew the diagnosis's sum of R, G, B, a fixed one verification's mean of
    # them, both titled "Flow-compensated warping error": 3× apart in one batch (qa19 #10)
    from flickerd.report.measures import WARP_UNIT_VERIFIED

    d = run(clips["texture"])
    reported = panels(d, None)[0]
    n = d.frames
    verification = SimpleNamespace(series={"warp_error_before": [None] + [0.002] * (n - 1),
                                           "warp_error_after": [None] + [0.001] * (n - 1)},
                                   after=d, mode="fix", metrics={})
    fixed = panels(d, verification)[0]
    assert reported.title.split(" — ")[0] == fixed.title.split(" — ")[0]
    assert reported.ylabel == fixed.ylabel == WARP_UNIT_VERIFIED
    sums = [p.warp_error for p in d.timeline if p.warp_error is not None and not math.isnan(p.warp_error)]
    assert _finite(reported.curves[0].values) == pytest.approx([v / 3 for v in sums])
    # the JSON's score is still the sum: the note says how the two relate
    assert 3 * reported.curves[0].statistic() == pytest.approx(d.scores["warp_error"], rel=1e-6)
    assert "3× these values" in reported.note and "diagnosis.scores.warp_error" in reported.note


def test_a_cross_fade_verdict_is_shaded_and_drawn_by_what_decided_it(clips):
    # Vchitect s0_seed3 (qa19 #11): decided by the fade look (0.0448 over 0.0385), no panel showed
    # it, and the shading said "content replaced"
    import dataclasses

    from flickerd.diagnose.model import Segment, Verdict

    d = run(clips["luma"])
    faded = dataclasses.replace(d, verdict=Verdict.INCOHERENT, scores={**d.scores, "fade": 0.0448, "incoherence": 0.007},
                                segments=(Segment(17, 26, "incoherent", 0.0517),))
    fade = [p for p in panels(faded, None) if p.title.startswith("Cross-faded content — decided the verdict")]
    assert len(fade) == 1 and "0.0448" in fade[0].title and fade[0].threshold == faded.settings["fade_threshold"]
    # the legend's threshold as the title prints it (0.0385, not 0.04)
    assert fade[0].threshold_label == f"verdict threshold {fade[0].title.split('threshold ')[1].split(' ')[0]}"
    drawn = fade[0].curves[0].values
    assert [t for t, v in enumerate(drawn) if not math.isnan(v)] == list(range(17, 27)) and drawn[20] == 0.0517
    fig = figure(before=faded, verification=None, title="t")
    labels = {p.get_label() for ax in fig.axes for p in ax.patches}
    assert "content cross-faded (incoherent)" in labels and "content replaced (incoherent)" not in labels
    # replaced pairs over their own threshold keep their words
    both = dataclasses.replace(faded, scores={**faded.scores, "incoherence": 1.0})
    labels = {p.get_label() for ax in figure(before=both, verification=None, title="t").axes for p in ax.patches}
    assert "content replaced or cross-faded (incoherent)" in labels
    # ... and fade, the larger margin, decided: its panel is drawn all the same (review20 #1: none was)
    decided = [p for p in panels(dataclasses.replace(faded, scores={**faded.scores, "incoherence":
                                                                  1.05 * faded.settings["incoherence_threshold"]}), None)
               if p.title.startswith("Cross-faded content — decided the verdict")]
    assert len(decided) == 1 and "may be replaced content rather than a cross-fade" in decided[0].note
    assert "may be replaced" not in fade[0].note


def test_repeated_frames_are_marked_and_their_zeros_said(clips):
    # Open-Sora's 16x240 GIF (qa19 #9): frames 2, 7, 12, 17 repeat the one before; the warp and
    # texture panels drew unmarked dips to 0 that their legends' statistics counted
    import dataclasses

    d = run(clips["texture"])
    held = {5, 11}
    timeline = tuple(dataclasses.replace(p, mean_diff=0.0, warp_error=0.0, texture_flicker=0.0) if p.index in held else p
                     for p in d.timeline)
    gif = dataclasses.replace(d, timeline=timeline)
    warp = panels(gif, None)[0]
    texture = [p for p in panels(gif, None) if p.title.startswith("Regenerated texture")][0]
    assert warp.repeats == texture.repeats == (5, 11)
    values = [v for v in warp.curves[0].values if not math.isnan(v)]
    without = [v for t, v in enumerate(warp.curves[0].values) if not math.isnan(v) and t not in held]
    assert "Frames 5, 11 repeat the frame before (exactly; dotted grey): the input's pairs there measure 0" in warp.note
    from flickerd.figures import significant, significant_digits
    a = warp.legends()[0].split("mean ")[1].split(" ")[0]  # "with" is the legend's text (review20 #4)
    assert float(a) == pytest.approx(sum(values) / len(values), rel=0.05)
    b = significant(sum(without) / len(without), max(2, significant_digits(a)))
    assert f"its mean counts them: {a} with, {b} without." in warp.note
    assert "its median counts them" in texture.note
    # luma's second difference is no pair measure: a 0 at a repeat is said nowhere (Market Street's frame 12)
    timeline = tuple(dataclasses.replace(p, luma_flicker=0.0) if p.index in held else p for p in timeline)
    luma = panels(dataclasses.replace(gif, timeline=timeline), None)[1]
    assert luma.repeats == (5, 11) and "repeat" not in luma.note
    fig = figure(before=gif, verification=None, title="t")
    assert all(any(ln.get_label() == "repeated frame" for ln in ax.lines) for ax in fig.axes)
    # a render without repeats has no such marks
    assert not any(p.repeats for p in panels(d, None))
    # a film's coded duplicates differ by coding noise (Market Street: 0.03-0.10 grey levels, its median 10.9)
    noisy = tuple(dataclasses.replace(p, mean_diff=0.05, warp_error=p.warp_error * 1e-3) if p.index in held else
                  dataclasses.replace(p, mean_diff=10.0) if p.mean_diff is not None else p for p in d.timeline)
    film = panels(dataclasses.replace(d, timeline=noisy), None)[0]
    assert film.repeats == (5, 11) and "(up to coding noise; dotted grey)" in film.note and "almost nothing" in film.note


def test_repeats_come_from_every_pair_where_verification_has_them_else_the_sample_is_said(clips):
    # Allegro, Open-Sora-Plan: the diagnosis sampled 31 of 175 and 255 pairs; verification's panels
    # draw every frame, and kept unmarked dips at the unsampled repeats (review20 #2)
    import dataclasses

    d = run(clips["luma"], DiagnoseSettings(max_pairs=8, every_pair_up_to=0))
    sampled = {p.index for p in d.timeline if p.mean_diff is not None and p.index > 0}
    held = next(t for t in range(2, d.frames) if t not in sampled)
    diffs = [None] + [0.0 if t == held else 8.0 for t in range(1, d.frames)]
    verification = SimpleNamespace(series={"mean_diff_before": diffs}, after=None, mode="fix", metrics={})
    drawn = panels(d, verification)
    assert drawn[0].repeats == (held,) and "pairs the diagnosis sampled" not in drawn[0].note
    # without it: the diagnosis's sample, and the note says so
    timeline = tuple(dataclasses.replace(p, mean_diff=0.0) if p.index == min(sampled) else p for p in d.timeline)
    alone = panels(dataclasses.replace(d, timeline=timeline), None)
    assert alone[0].repeats == (min(sampled),)
    assert f"looked for among the {len(sampled)} pairs the diagnosis sampled." in alone[0].note
    assert sum("the diagnosis sampled." in p.note for p in alone) == 1
    # 8 fps held in 24 fps: most pairs are a repeat's coding noise; the median is of the moving ones
    held3 = [None] + [8.0 if t % 3 == 0 else 0.05 for t in range(1, d.frames)]
    drawn = panels(d, SimpleNamespace(series={"mean_diff_before": held3}, after=None, mode="fix", metrics={}))
    assert drawn[0].repeats == tuple(t for t in range(1, d.frames) if t % 3)


def test_a_repeat_note_says_with_as_the_legend_does():
    # Open-Sora sample_0: legend "mean 0.000307", note "0.00031 with, 0.00039 without"; 16x240:
    # legend "0.00787", note "0.0079 with, 0.010 without" (review20 #4)
    from flickerd.report.plot import AFTER, BEFORE, Curve, Panel, _with_repeats

    before = (math.nan, 0.01, 0.0, 0.0105, 0.0095, 0.0, 0.0101, 0.0099, 0.0, 0.01)
    after = tuple(math.nan if math.isnan(v) else 0.965 * v for v in before)
    panel = Panel("warp", "u", (Curve("before (input)", before, BEFORE), Curve("after (fixed)", after, AFTER)),
                  sampled=False, measure="warp_error", change_places=1)
    noted = _with_repeats(panel, (2, 5, 8))
    legend = noted.legends()[0].split("mean ")[1].split(" ")[0]
    assert legend == "0.006667" and "its mean counts them: 0.006667 with, 0.01000 without." in noted.note


def test_a_headline_no_panel_draws_is_given_on_the_first(clips):
    # SEINE: the title led with "local flicker -11%" over panels of warp, luma, texture and banding
    d = run(clips["texture"])
    metrics = {"local_flicker_before": 0.9676, "local_flicker_after": 0.8635, "local_flicker_reduction": 0.1077,
               "headline_measure": "local_flicker", "headline_reduction": 0.1077, "flicker_reduction": 0.04}
    drawn = panels(d, SimpleNamespace(series={}, after=d, mode="fix", metrics=metrics))
    assert not any(p.measure == "local_flicker" for p in drawn)
    assert ('The title\'s "local flicker -11%" is verification\'s local flicker, every frame of both files: '
            "0.97 → 0.86 grey levels; no panel draws it.") in drawn[0].note
    assert sum("The title's" in p.note for p in drawn) == 1


def test_legends_imply_the_change_the_title_gives():
    # DynamiCrafter: "mean 0.0012" -> "mean 0.0011" (-8% to a reader) beside "warping error -3.0%";
    # then "0.00118 -> 0.00115" (-2.5%) from the real pair 0.00118135 -> 0.0011456 (review20 #3)
    from flickerd.report.plot import AFTER, BEFORE, Curve, Panel

    unit = "RGB² in [0,1], mean of R, G, B"
    curves = (Curve("before (input)", (0.00118135,), BEFORE), Curve("after (fixed)", (0.0011456,), AFTER))
    assert Panel("warp", unit, curves, sampled=False, change_places=1).legends() == [
        f"before (input): mean 0.001181 {unit}", f"after (fixed): mean 0.001146 {unit}"]
    # a change no title gives: within a percentage point (-2.5% for -3.0%)
    assert Panel("warp", unit, curves, sampled=False).legends()[1] == f"after (fixed): mean 0.00115 {unit}"
    far = (Curve("before (input)", (0.0018,), BEFORE), Curve("after (fixed)", (0.0011,), AFTER))
    assert Panel("warp", unit, far, sampled=False).legends()[1] == f"after (fixed): mean 0.0011 {unit}"
    # a plot's panel takes its decimals from the title: a rejected fix's "-3.0%"
    from flickerd.report.headline import change_texts

    verification = SimpleNamespace(series={"warp_error_before": [None, 0.00118135], "warp_error_after": [None, 0.0011456]},
                                   after=None, mode="fix", accepted=False,
                                   metrics={"headline_measure": "warp_error", "headline_reduction": 1 - 0.0011456 / 0.00118135,
                                            "flicker_reduction": 1 - 0.0011456 / 0.00118135})
    assert change_texts(verification) == ["warping error -3.0%"]
    warp = panels(None, verification)[0]
    assert warp.legends()[0].startswith("before (input): mean 0.001181 ")


def test_small_figures_are_never_in_e_notation():
    # guided_mochi's warp legends read "mean 9.89e-05" beside other plots' "0.00070"
    from flickerd.figures import fmt, fmt_pair

    assert fmt(9.89e-05) == "0.000099" and fmt(9.996e-05) == "0.00010" and fmt(0.000681) == "0.00068"
    assert fmt_pair(9.89e-05, 9.88e-05) == ("0.0000989", "0.0000988")


def test_a_luma_panel_of_zeros_says_what_zero_means(clips):
    # hunyuan woman_reading, clean and still: "mean 0 grey levels" over a flat line, measured
    import dataclasses

    d = run(clips["texture"])
    flat = dataclasses.replace(d, timeline=tuple(dataclasses.replace(p, luma_flicker=0.0) if p.luma_flicker is not None
                                                 else p for p in d.timeline))
    luma = panels(flat, None)[1]
    assert luma.title.startswith("Global luma flicker (motion-compensated, the score)")
    assert ("a whole-level change of one channel reads at least 0.06 grey levels, of all three 0.50; 0 means no "
            "such change.") in luma.note
    # with non-zero readings, the curve's own smallest one (review20 #6: astronaut_egg's only one was 0.5)
    steps = iter((0.5, 0.0, 0.0, 0.0356, 0.0) * 10)
    stepped = dataclasses.replace(d, timeline=tuple(dataclasses.replace(p, luma_flicker=next(steps))
                                                    if p.luma_flicker is not None else p for p in d.timeline))
    luma = panels(stepped, None)[1]
    assert "its smallest non-zero reading here is 0.036 grey levels, and 0 means no such step." in luma.note, luma.note

"""``NAME.flicker.png``: what was measured per frame, before and after the fix, scene cuts marked.

Panels: the warping error and the global luma flicker (always), then the measure that decided
the verdict (texture, local, chroma, codec, incoherence) when it is another one, and the tone
level of the channel that drifts most when the diagnosis found window seams. A curve is
drawn only where it was measured: a diagnosis of a long clip samples spread-out frame
triples, so its points are markers, and each panel says in words what was not measured and
why. ``panels`` (pure) decides all of that; ``write_plot`` only draws it.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flickerd.diagnose.model import Diagnosis
from flickerd.diagnose.verdict import FINE_TEXTURE_FLOOR
from flickerd.figures import fmt, fmt_pair, significant, significant_digits
from flickerd.report.headline import change_figures, change_texts
from flickerd.report.measures import MEASURES, WARP_UNIT_VERIFIED, Deciding, Measure, charted, deciding

WIDTH_IN = 10.0
DPI = 100  # 1000 px wide
PANEL_IN = 2.3  # height of one panel
TITLE_IN = 0.9
BEFORE, AFTER = "#c0392b", "#2471a3"
SAMPLED_SHARE = 0.8  # fewer measured frames than this share of the measurable ones: drawn as points


@dataclass(frozen=True, slots=True)
class Curve:
    label: str
    values: tuple[float, ...]  # NaN where not measured
    colour: str
    summary: str = "mean"  # the statistic the legend gives ("mean" | "median" | "": none, the label says it)

    @property
    def measured(self) -> int:
        return sum(1 for v in self.values if not math.isnan(v))

    def statistic(self) -> float | None:
        finite = sorted(v for v in self.values if not math.isnan(v))
        if not finite:
            return None
        if self.summary == "median":
            mid = len(finite) // 2
            return finite[mid] if len(finite) % 2 else (finite[mid - 1] + finite[mid]) / 2
        return sum(finite) / len(finite)

    def legend(self, unit: str, text: str | None = None) -> str:
        """The legend line: the label, and the curve's statistic (``text``: as printed) with ``unit``."""
        value = self.statistic() if self.summary else None
        return self.label if value is None else f"{self.label}: {self.summary} {text or fmt(value)} {unit}"


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    ylabel: str  # the unit of the plotted values
    curves: tuple[Curve, ...]
    sampled: bool  # draw measured points as markers
    threshold: float | None = None  # a dashed line: the per-frame level the verdict uses
    threshold_label: str = ""
    note: str = ""  # what was not measured and why; empty when everything was
    signed: bool = False  # values below 0 are meaningful (a change of level): the axis is not pinned at 0
    marks: tuple[int, ...] = ()  # frames marked by a dotted line (window seams)
    mark_label: str = ""
    repeats: tuple[int, ...] = ()  # frames that repeat the one before exactly (a GIF's or a film's duplicates)
    measure: str = ""  # the MEASURES key drawn ("" for the tone panel)

    change_places: int | None = None  # the title's decimals for this panel's change, where the title gives it

    def statistic_texts(self) -> list[str | None]:
        """Each curve's statistic as its legend prints it (None: no statistic); a before and an after
        whose statistics differ are printed with digits enough to show it (a title's "-3%" beside
        two legends both "mean 0.0021" reads as a lie)."""
        stats = [c.statistic() if c.summary else None for c in self.curves]
        texts: list[str | None] = [None if v is None else fmt(v) for v in stats]
        given = [k for k, v in enumerate(stats) if v is not None]
        if len(given) == 2:
            i, j = given
            texts[i], texts[j] = _pair_as_changed(stats[i], stats[j], self.change_places)
        return texts

    def legends(self) -> list[str]:
        """Each curve's legend line (``statistic_texts``)."""
        return [c.legend(self.ylabel, t) for c, t in zip(self.curves, self.statistic_texts())]

    def with_note(self, text: str, **changes: Any) -> "Panel":
        """The panel with ``text`` added to its note (and any other ``changes``)."""
        return dataclasses.replace(self, note=" ".join(t for t in (self.note, text) if t), **changes)


MOST_LEGEND_DIGITS = 6
CHANGE_SLACK = 0.01  # a panel whose change no title gives: the printed pair may imply it ±1 percentage point


def _pair_as_changed(before: float, after: float, places: int | None = None) -> tuple[str, str]:
    """``fmt_pair``, with more significant digits until the change the printed pair implies reads as
    the true one: printed at ``places`` decimals (the title's, for a measure the title gives), it is
    the title's text, up to 6 digits: DynamiCrafter's 0.00118135 → 0.0011456 is "warping error -3.0%"
    in the title; "0.0012 → 0.0011" implied -8%, "0.00118 → 0.00115" -2.5%, "0.001181 → 0.001146"
    -3.0% (review20 #3). Without ``places`` (no title gives the change) within a percentage point,
    up to 4 digits."""
    a, b = fmt_pair(before, after)
    if before <= 0 or after < 0:
        return a, b
    true = 1 - after / before
    most = 4 if places is None else MOST_LEGEND_DIGITS
    digits = 2
    while True:
        try:
            implied = 1 - float(b) / float(a)
        except (ValueError, ZeroDivisionError):  # "just over 0.5" and the like: already apart
            return a, b
        same = abs(implied - true) <= CHANGE_SLACK if places is None else \
            f"{-100 * implied:+.{places}f}" == f"{-100 * true:+.{places}f}"
        if same or digits >= most:
            return a, b
        digits += 1
        a, b = significant(before, digits), significant(after, digits)


def _clean(values: Sequence[Any]) -> tuple[float, ...]:
    out = []
    for v in values:
        try:
            f = float(v) if v is not None else math.nan
        except (TypeError, ValueError):
            f = math.nan
        out.append(f if math.isfinite(f) else math.nan)
    return tuple(out)


def _timeline(d: Diagnosis | None, field: str) -> tuple[float, ...]:
    return _clean([getattr(p, field, None) for p in d.timeline]) if d is not None else ()


def _sampling_note(d: Diagnosis | None, counts: Sequence[int], n: int) -> str:
    pairs = d.settings.get("max_pairs") if d is not None else None
    every = d.settings.get("every_pair_up_to") if d is not None else None
    longer = f"clips over {every} frames (diagnose.every_pair_up_to) get " if every else ""
    why = (f"{longer}at most {pairs} frame pairs, spread over the clip (diagnose.max_pairs)"
           if pairs else "the diagnosis sampled frame pairs")
    measured = " and ".join(str(c) for c in dict.fromkeys(counts))
    return f"{measured} of {n} frames measured: {why}. Dots are measured frames."


def _missing_note(curve: Curve, frames: int, mode: str) -> str:
    if mode == "interpolate":
        why = "interpolation changes the frame rate, and is never scored as a flicker fix"
    elif frames < 3:
        why = f"the clip has {frames} frame{'s' if frames != 1 else ''}; these measures need 3"
    else:
        why = "every frame pair was a scene cut or could not be followed by optical flow"
    return f"{curve.label}: not measured — {why}."


def _ranges(frames: Sequence[int], most: int = 8) -> str:
    """``14–18, 20, 24–30`` (at most ``most`` runs, then "…")."""
    runs: list[list[int]] = []
    for f in frames:
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    text = ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs[:most])
    return text + (", …" if len(runs) > most else "")


def _gaps_note(curves: Sequence[Curve]) -> list[str]:
    """The inner frames a mostly measured curve lacks (the ends never have a pair or triple):
    hunyuan's texture panel missed 20 of 115 without a word, and a line just bridged them."""
    found: dict[tuple[int, ...], list[str]] = {}  # the same gaps in both curves are said once
    for c in curves:
        gaps = tuple(i for i in range(1, len(c.values) - 1) if math.isnan(c.values[i]))
        if gaps:
            found.setdefault(gaps, []).append(c.label.split(" (")[0])
    notes = []
    for gaps, labels in found.items():
        inner = max(len(c.values) for c in curves) - 2
        notes.append(f"{' and '.join(labels).capitalize()}: frame{'s' if len(gaps) > 1 else ''} {_ranges(gaps)} not "
                     f"measured ({len(gaps)} of {inner} inner frames): a scene cut, or too little there for this "
                     "measure to follow along the motion.")
    return notes


def _panel(title: str, m: Measure, curves: Sequence[Curve], diagnosis: Diagnosis | None, mode: str,
           threshold: float | None = None, threshold_label: str = "", how: str = "", unit: str = "",
           change_places: int | None = None) -> Panel:
    curves = tuple(c for c in curves if c.values)
    missing = [_missing_note(c, len(c.values), mode) for c in curves if c.measured == 0]
    # pair and triple measures skip the clip's ends
    sampled = [c for c in curves if 0 < c.measured < SAMPLED_SHARE * max(1, len(c.values) - 2)]
    notes = missing + ([_sampling_note(diagnosis, [c.measured for c in sampled], len(sampled[0].values))]
                       if sampled else []) + _gaps_note([c for c in curves if c.measured and c not in sampled]) \
        + ([how] if how else [])
    return Panel(title, unit or m.axis_label, curves, bool(sampled), threshold, threshold_label, " ".join(notes),
                 measure=m.key, change_places=change_places)


WARP_SUM_NOTE = ("Drawn as the mean of R, G, B, as on a fixed render's plot; the diagnosis's score "
                 "(report.json diagnosis.scores.warp_error) sums them, 3× these values.")

VERIFIED = "every frame; input and output measured with the input's optical flow"
VERIFIED_GUIDE = "every frame; input and output measured with the guide's optical flow"
PLAIN_MEANS = "every frame of the input and the output, no optical flow"
DIAGNOSED = "the diagnosis of each file"
DIAGNOSED_INPUT = "the input's diagnosis"


def panels(before: Diagnosis | None, verification: Any | None) -> tuple[Panel, ...]:
    """The panels to draw, with their curves and notes (pure).

    Warping error and luma flicker come from verification when there is one (every frame, the
    same flow for both files); a measure that decided the verdict comes from the diagnoses
    (the input's, and the fixed file's re-diagnosis), so its curve sums up to the score the
    verdict used and sits against the verdict's threshold. Legends give each curve's mean (or
    median, for scores that are medians) of exactly what is drawn.
    """
    series = dict(getattr(verification, "series", None) or {})
    after = getattr(verification, "after", None)
    mode = str(getattr(verification, "mode", "fix") or "fix")
    decided = deciding(before) if before is not None else ()
    # a rejected fix, or a refused guided fix of a render reported as it is: nobody gets it (qa19)
    fixed = "fixed" if getattr(verification, "accepted", True) is not False else "refused fix"

    def diagnosed(m: Measure) -> tuple[Curve, Curve]:
        field = m.per_frame or m.key
        def values(d: Diagnosis | None) -> tuple[float, ...]:  # drawn as verification's, the channels' mean
            return tuple(charted(m.key, v) for v in _timeline(d, field))

        return (Curve("before (input)", values(before), BEFORE, m.summary),
                Curve(f"after ({fixed}, re-diagnosed)", values(after), AFTER, m.summary))

    def verified(m: Measure) -> tuple[tuple[Curve, Curve], str]:
        b, a = _clean(series.get(f"{m.key}_before") or ()), _clean(series.get(f"{m.key}_after") or ())
        if b:
            by_guide = bool((getattr(verification, "metrics", None) or {}).get("flow_from_guide"))
            return (Curve("before (input)", b, BEFORE), Curve(f"after ({fixed})", a, AFTER)), \
                VERIFIED_GUIDE if by_guide else VERIFIED
        return diagnosed(m), (DIAGNOSED if after is not None else DIAGNOSED_INPUT)

    # a panel drawing verification's own before and after of a measure the title gives a change of:
    # its legends imply that change at the title's decimals
    title_places = {k: n for k, _, n in change_figures(verification)}
    out: list[Panel] = []
    for key, name in (("warp_error", "Flow-compensated warping error (Lai et al.)"),
                      ("luma_flicker", "Global luma flicker")):
        m = MEASURES[key]
        x = next((x for x in decided if x.measure.key == key), None)
        if x is not None:
            out.append(_deciding_panel(x, diagnosed(m), before, mode, after is not None,
                                       _headline_note(key, verification)))
        else:
            curves, source = verified(m)
            by_verification = source.startswith("every frame")
            # the warping error is drawn as the mean of R, G, B on every plot: the diagnosis sums the
            # channels, so a report-only plot read 3× a fixed one's under the same title (qa19 #10);
            # verification's luma flicker is of plain frame means, the diagnosis's (the score) motion-compensated
            unit = WARP_UNIT_VERIFIED if key == "warp_error" else ""
            how = _floor_note(key, verification) if by_verification else \
                WARP_SUM_NOTE if key == "warp_error" and any(c.measured for c in curves) else ""
            if key == "luma_flicker":
                name += " of plain frame means" if by_verification else " (motion-compensated, the score)"
                if by_verification:  # a frame's mean needs no flow: "measured with the input's optical flow" was wrong
                    source = PLAIN_MEANS
                else:
                    how = _luma_step_note(curves[0])
            places = title_places.get(HEADLINE_OF[key]) if by_verification else None
            out.append(_panel(f"{name} — {source}", m, curves, before, mode, how=how, unit=unit, change_places=places))
    for x in decided:
        if x.measure.key not in ("luma_flicker", "warp_error") and x.measure.per_frame is not None:
            out.append(_deciding_panel(x, diagnosed(x.measure), before, mode, after is not None,
                                       _headline_note(x.measure.key, verification)))
        elif x.measure.key == "fade" and before is not None and replaced_cause(before) in ("fade", "both"):
            # also when replaced pairs fire too: fade's larger margin decides, and no other panel drew it (review20 #1)
            out.append(_fade_panel(x, before, replaced_cause(before) == "both"))
    if before is not None and before.seams:
        out.append(_drift_panel(before, after, fixed))
    unshown = _unshown_headline_note(verification, {HEADLINE_OF.get(p.measure) for p in out})
    if unshown and out:
        out[0] = out[0].with_note(unshown)
    repeats = repeated_frames(before, verification)
    if not repeats:
        return tuple(out)
    out = [_with_repeats(p, repeats) for p in out]
    sample = repeat_sample(before, verification)
    if sample is not None and out:  # repeats between unsampled pairs are not marked: said once (review20 #2)
        out[0] = out[0].with_note(f"Repeated frames (dotted grey) are looked for among the {sample} pairs the diagnosis sampled.")
    return tuple(out)


# A repeated frame: its mean |F_t − F_{t−1}| is under this share of the clip's median pair and
# under REPEAT_MOST grey levels. On the 27 real renders: GIF repeats read 0, a film's coded duplicates
# 0.03–0.10 (0.3–0.9% of its median 10.9); the lowest other pair of any render is 14% of its median.
REPEAT_SHARE = 0.02
REPEAT_MOST = 0.5


def repeated_frames(d: Diagnosis | None, verification: Any | None = None) -> tuple[int, ...]:
    """Frames t whose picture repeats frame t − 1's (a GIF's held frames exactly, a film's telecine
    duplicates up to coding noise). Their pair measures are (about) 0 by construction, and were
    drawn as unmarked dips (qa18 F13, qa19 #9: Open-Sora 16x240 frames 2, 7, 12, 17; Market Street
    2, 12, 19, 29, 48, 55). From verification's every pair of the input where it has them, else
    from the pairs the diagnosis sampled (``repeat_sample``)."""
    every = _every_pair_diffs(verification)
    if every is not None:
        diffs = every
    elif d is not None:
        diffs = _sampled_diffs(d)
    else:
        return ()
    if len(diffs) < 3:
        return ()
    # the median of the pairs that are no repeats: with 8 fps held in 24 fps most pairs are a
    # repeat's coding noise, and a share of their median marked none (review20 #2)
    moving = sorted(v for _, v in diffs if v > REPEAT_MOST) or sorted(v for _, v in diffs)
    median = moving[len(moving) // 2]
    return tuple(t for t, v in diffs if v <= min(REPEAT_MOST, REPEAT_SHARE * median))


def _every_pair_diffs(verification: Any | None) -> list[tuple[int, float]] | None:
    """Verification's mean |F_t − F_{t−1}| of the input for every pair (None where it has none)."""
    values = (getattr(verification, "series", None) or {}).get("mean_diff_before") or ()
    diffs = [(t, float(v)) for t, v in enumerate(values) if t > 0 and isinstance(v, (int, float))
             and math.isfinite(v)]
    return diffs if values and len(diffs) == len(values) - 1 else None


def repeat_sample(d: Diagnosis | None, verification: Any | None) -> int | None:
    """How many pairs repeats were looked for among when the diagnosis sampled them (None: every pair)."""
    if d is None or _every_pair_diffs(verification) is not None:
        return None
    n = len(_sampled_diffs(d))
    return n if n < d.frames - 1 else None


def _sampled_diffs(d: Diagnosis) -> list[tuple[int, float]]:
    """The diagnosis's mean |F_t − F_{t−1}| of each pair it sampled."""
    return [(p.index, p.mean_diff) for p in d.timeline
            if p.mean_diff is not None and math.isfinite(p.mean_diff) and p.index > 0]


REPEAT_LABEL = "repeated frame"
PAIR_MEASURES = frozenset({"warp_error", "texture_flicker", "local_flicker", "incoherence"})  # of frames t − 1, t


def _median(values: Sequence[float]) -> float | None:
    finite = sorted(v for v in values if not math.isnan(v))
    return finite[len(finite) // 2] if finite else None


def _like(v: float, text: str) -> str:
    """``v`` with as many significant digits as ``text`` has (at least 2)."""
    return significant(v, max(2, significant_digits(text)))


def _with_repeats(panel: Panel, repeats: tuple[int, ...]) -> Panel:
    """The panel with its repeated frames marked, and a note where the input's curve reads 0 there:
    what its legend's statistic is with and without them (the score counts them; no score changes)."""
    inside = tuple(t for t in repeats if any(t < len(c.values) for c in panel.curves))
    if not inside or panel.signed:
        return panel
    first = panel.curves[0]
    # where the input's curve reads (about) nothing at the repeats: pair measures only (luma's second
    # difference of a triple is not 0 at a repeat; a 0 there is a coincidence: Market Street's frame 12)
    low = [t for t in inside if t < len(first.values) and not math.isnan(first.values[t])
           and first.values[t] <= REPEAT_SHARE * (_median(first.values) or 0.0)] if panel.measure in PAIR_MEASURES else []
    note = ""
    if low and first.summary:
        kept = Curve(first.label, tuple(math.nan if t in low else v for t, v in enumerate(first.values)),
                     first.colour, first.summary)
        with_, without = first.statistic(), kept.statistic()
        # "with" is the legend's own text; "without" has its significant digits (review20 #4: legend
        # "mean 0.000307" beside a note "0.00031 with, 0.00039 without")
        a = panel.statistic_texts()[0] if with_ is not None else None
        b = _like(without, a) if without is not None and a is not None else None
        if a is not None and b is not None and a != b:
            n = len(low)
            exact = all(first.values[t] == 0 for t in low)
            note = (f"Frame{'s' if n > 1 else ''} {_ranges(low)} repeat{'s' if n == 1 else ''} the frame before "
                    f"({'exactly' if exact else 'up to coding noise'}; dotted grey): the input's pair"
                    f"{'s' if n > 1 else ''} there measure{'s' if n == 1 else ''} {'0' if exact else 'almost nothing'}, "
                    f"and its {first.summary} counts {'them' if n > 1 else 'it'}: {a} with, {b} without.")
    return panel.with_note(note, repeats=inside)


TONE = (("tone_y", "Y"), ("tone_cb", "Cb"), ("tone_cr", "Cr"))


def _seam_steps(values: Sequence[float], seams: Sequence[int]) -> float:
    """The level change one channel makes over the seams, summed (``diagnose.drift.steps``: a flash
    at a join and the local trend left out), grey levels; 0 when nothing was measured."""
    import numpy as np

    from flickerd.diagnose.drift import steps

    v = np.array(values, np.float64).reshape(-1, 1)
    if not np.isfinite(v).any():
        return 0.0
    return float(steps(v, seams).sum())


def _drift_panel(before: Diagnosis, after: Diagnosis | None, fixed: str = "fixed") -> Panel:
    """The tone level of the channel that steps most at the input's seams, before and after, as a
    change since the input's first frame (the same reference for both curves). Legends give the
    drawn channel's own summed step at those seams, so they agree with the curves."""
    seams = tuple(before.seams)
    field, name, values = max(((f, n, _timeline(before, f)) for f, n in TONE),
                              key=lambda c: abs(_seam_steps(c[2], seams)))
    ref = next((v for v in values if not math.isnan(v)), 0.0)

    def curve(label: str, vals: tuple[float, ...], colour: str) -> Curve:
        step = _seam_steps(vals, seams)
        per_100 = 100.0 * step / max(1, len(vals))
        return Curve(f"{label}: {fmt(step)} grey levels over the seams ({fmt(per_100)} per 100 frames)",
                     tuple(v - ref for v in vals), colour, summary="")

    curves = [curve("before (input)", values, BEFORE)]
    if after is not None:
        curves.append(curve(f"after ({fixed}, re-diagnosed)", _timeline(after, field), AFTER))
    where = ", ".join(str(s) for s in seams[:8]) + (" …" if len(seams) > 8 else "")
    title = (f"Tone level {name} (motion-compensated) — {len(seams)} window seam{'s' if len(seams) > 1 else ''} "
             f"at frame{'s' if len(seams) > 1 else ''} {where} ({DIAGNOSED_INPUT}); the channel that steps most")
    note = "" if after is not None else "The fixed file was not re-diagnosed: no curve after."
    return Panel(title, f"grey levels of {name}, change since frame 0", tuple(curves), False, note=note,
                 signed=True, marks=seams, mark_label="window seam")


def replaced_cause(d: Diagnosis) -> str:
    """What made the diagnosis's ``incoherent`` segments, by the rule that made them
    (``diagnose.verdict``): "pairs" (content replaced between two frames), "fade" (a cross-fade
    found by the long look), "both", or "" (none)."""
    scores, settings = d.scores, d.settings

    def over(key: str, threshold: str) -> bool:
        v, t = scores.get(key), settings.get(threshold)
        return isinstance(v, (int, float)) and isinstance(t, (int, float)) and v > t

    pairs = over("incoherence", "incoherence_threshold")
    fade = bool(settings.get("fade_look")) and over("fade", "fade_threshold")
    return "both" if pairs and fade else "pairs" if pairs else "fade" if fade else ""


REPLACED_LABELS = {"pairs": "content replaced (incoherent)", "fade": "content cross-faded (incoherent)",
                   "both": "content replaced or cross-faded (incoherent)", "": "content replaced (incoherent)"}


def _fade_panel(x: Deciding, before: Diagnosis, both: bool = False) -> Panel:
    """A verdict decided by the cross-fade look had no panel, and its shading said "content
    replaced" (qa19 #11, Vchitect s0_seed3). The timeline keeps no per-look series: each
    cross-faded stretch is drawn as a bar at its highest look, against the threshold."""
    m = x.measure
    values = [math.nan] * before.frames
    for g in before.segments:
        if g.kind == "incoherent":
            for t in range(max(0, g.start), min(before.frames, g.end + 1)):
                values[t] = g.score
    score, threshold = x.shown()
    look = before.settings.get("fade_look")
    title = f"{m.label.capitalize()} — decided the verdict: {score} {m.unit}, threshold {threshold} ({DIAGNOSED_INPUT})"
    note = (f"A look compares frames {look} pairs apart through the flow; the score is the largest area "
            "that three consecutive looks find cross-faded (the smallest of the three). No per-frame series is "
            "kept: each bar spans a cross-faded stretch at its highest look.")
    if both:  # the pairs' own rule fired too: its segments are joined with the fade's
        note += (" Replaced pairs are over their own threshold too, so a stretch may be replaced content "
                 "rather than a cross-fade, its bar that stretch's score.")
    curve = Curve("before (input): highest look over each cross-faded stretch", tuple(values), BEFORE, summary="")
    return Panel(title, m.unit, (curve,), False, x.threshold, f"verdict threshold {threshold}", note, measure=m.key)


def _deciding_panel(x: Deciding, curves: Sequence[Curve], before: Diagnosis | None, mode: str,
                    with_after: bool, headline: str = "") -> Panel:
    m = x.measure
    verb = "decided the verdict" if x.over else "closest to its threshold"
    source = DIAGNOSED if with_after else DIAGNOSED_INPUT
    score, threshold = x.shown()
    title = f"{m.label.capitalize()} — {verb}: {score} {m.unit}, threshold {threshold} ({source})"
    line = x.threshold * m.run_factor if m.run_factor else None
    label = ""
    if line is not None:
        # as the title prints it: "0.0448 …, threshold 0.0385" over a legend "verdict threshold 0.04" disagreed
        label = (f"verdict threshold {threshold}" if m.run_factor == 1 else
                 f"segment level {fmt(line)} ({m.run_factor:g}× threshold)")
    # texture's finest-band rule is said only where it set the threshold (SEINE's 0.88 over 0.43 showed it)
    how = "" if m.key == "texture_flicker" and x.threshold != FINE_TEXTURE_FLOOR else m.how
    return _panel(title, m, curves, before, mode, line, label, " ".join(t for t in (how, headline) if t))


# the verification measure a diagnosis panel shows the kind of (the title's headline may be it)
HEADLINE_OF = {"warp_error": "warp_error", "luma_flicker": "luma_flicker", "local_flicker": "local_flicker",
               "chroma_flicker": "chroma_flicker", "texture_flicker": "detail_flicker"}
HEADLINE_UNITS = {"warp_error": WARP_UNIT_VERIFIED, "luma_flicker": "grey levels", "local_flicker": "grey levels",
                  "chroma_flicker": "grey levels", "detail_flicker": "grey levels RMS"}


def _headline_said(verification: Any | None, measure: str | None) -> str:
    """The title's headline as verification's figures of ``measure``, "" unless it is the headline:
    'The title's "luma flicker -85%" is verification's luma flicker, every frame of both files: 1.65 → 0.21 grey levels'."""
    from flickerd.verify import HEADLINE_MEASURES

    metrics = getattr(verification, "metrics", None) or {}
    b, a = metrics.get(f"{measure}_before"), metrics.get(f"{measure}_after")
    if measure not in HEADLINE_UNITS or metrics.get("headline_measure") != measure or None in (b, a):
        return ""
    texts = change_texts(verification)
    if not texts:
        return ""
    before, after = fmt_pair(b, a)
    return (f"The title's \"{texts[0]}\" is verification's {HEADLINE_MEASURES[measure]}, every frame of both files: "
            f"{before} → {after} {HEADLINE_UNITS[measure]}")


def _headline_note(key: str, verification: Any | None) -> str:
    """Where a panel draws the diagnoses' measure of the kind the title's headline is, the headline's
    own figures: MagicTime's luma panel drew 1.48 → 0.01 (motion-compensated, −99%) under a title
    saying "luma flicker -85%" (verification's plain frame means, 1.65 → 0.21, from a 0.25 floor)."""
    said = _headline_said(verification, HEADLINE_OF.get(key))
    metrics = getattr(verification, "metrics", None) or {}
    if not said or metrics.get(f"{HEADLINE_OF[key]}_reduction") is None:
        return ""
    return said + " (a change under its noise floor counts as none)."


def _unshown_headline_note(verification: Any | None, drawn: set[str | None]) -> str:
    """The title's headline figures where no panel draws that measure's kind: SEINE's title led with
    "local flicker -11%" over panels of warping error, luma, texture and banding."""
    measure = (getattr(verification, "metrics", None) or {}).get("headline_measure")
    said = "" if measure in drawn else _headline_said(verification, measure)
    return said + "; no panel draws it." if said else ""


def _luma_step_note(curve: Curve) -> str:
    """The diagnosis's luma flicker moves in steps (each pair's offset is a median of whole RGB
    levels): a clean still render's panel was a flat "mean 0 grey levels", which reads as unmeasured
    or as perfect. Said where most measured values are 0."""
    from flickerd.diagnose.global_flicker import YCC

    measured = [v for v in curve.values if not math.isnan(v)]
    if not measured or sum(1 for v in measured if v == 0) * 2 <= len(measured):
        return ""
    # a step is not one size: |Δoffset_Y| / 2 of mixed channels (s0_seed3 read 0.0355; R, G, B moving
    # together step by 0.5: TurboWan astronaut_egg), so the curve's own smallest reading is said (review20 #6)
    lowest = min((v for v in measured if v > 0), default=None)
    if lowest is not None:
        return (f"Each pair's tone offset is a median of whole RGB levels, so this measure moves in steps: its "
                f"smallest non-zero reading here is {significant(lowest, 2)} grey levels, and 0 means no such step.")
    one, three = float(min(abs(YCC[0]))) / 2, float(sum(YCC[0])) / 2
    return (f"Each pair's tone offset is a median of whole RGB levels, so this measure moves in steps: a "
            f"whole-level change of one channel reads at least {fmt(one)} grey levels, of all three {fmt(three)}; "
            "0 means no such change.")


NOTED_CHANGE = 0.1  # a change under a floor is noted from 10% of its input: acceptance's bar for a fix


def _floor_note(key: str, verification: Any | None) -> str:
    """Where a panel draws verification's own measure, which moved but stayed under its noise floor:
    SEINE's luma panel drew 0.22 → 0.09 (−59%) under a title of "local flicker -11%"; the headline
    and acceptance count no change under the floor (qa19)."""
    from flickerd.verify import FLOORS, HEADLINE_MEASURES

    metrics = getattr(verification, "metrics", None) or {}
    b, a = metrics.get(f"{key}_before"), metrics.get(f"{key}_after")
    if key == "warp_error" or key not in FLOORS or None in (b, a) or max(b, a) > FLOORS[key]:
        return ""
    if abs(b - a) < NOTED_CHANGE * b:  # DynamiCrafter's 0.13 → 0.12 reads as no fix anyway
        return ""
    before, after = fmt_pair(b, a)
    return (f"Verification's {HEADLINE_MEASURES[key]}, {before} → {after} {HEADLINE_UNITS[key]}, stays under its "
            f"noise floor of {fmt(FLOORS[key])}: the title's figure counts no change in it.")


def write_plot(path: str, *, before: Diagnosis | None, verification: Any | None, title: str,
               subtitle: str = "") -> str:
    """Draw ``panels`` and write the PNG via a temp name; returns ``path``."""
    fig = figure(before=before, verification=verification, title=title, subtitle=subtitle)
    tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.tmp")
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def figure(*, before: Diagnosis | None, verification: Any | None, title: str, subtitle: str = "") -> Any:
    """The matplotlib ``Figure`` of ``panels`` (one axes per panel, top to bottom)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # no pyplot: no global state, safe in worker threads
    from matplotlib.ticker import MaxNLocator

    drawn = panels(before, verification)
    fps = before.fps if before is not None and before.fps else 0.0
    cuts = list(before.cuts) if before is not None else []
    replaced = [(g.start, g.end) for g in before.segments if g.kind == "incoherent"] if before is not None else []
    replaced_label = REPLACED_LABELS[replaced_cause(before)] if before is not None else ""
    frames = max((len(c.values) for p in drawn for c in p.curves), default=0)
    fig = Figure(figsize=(WIDTH_IN, TITLE_IN + PANEL_IN * len(drawn)), dpi=DPI, layout="constrained")
    axes = fig.subplots(len(drawn), 1, sharex=True, squeeze=False)[:, 0]
    for ax, panel in zip(axes, drawn):
        _draw(ax, panel, cuts, replaced, replaced_label)
    axes[-1].set_xlabel(f"frame{f' ({fps:.3g} fps)' if fps else ''}")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))  # frames are whole: no tick at frame 2.5
    if frames > 1:
        axes[-1].set_xlim(-0.5, frames - 0.5)
    fig.suptitle(title + (f"\n{subtitle}" if subtitle else ""), fontsize=11)
    return fig


def _draw(ax: Any, panel: Panel, cuts: Sequence[int], replaced: Sequence[tuple[int, int]] = (),
          replaced_label: str = REPLACED_LABELS["pairs"]) -> None:
    drew = False
    for i, (start, end) in enumerate(replaced):  # where the diagnosis saw content replaced or cross-faded
        ax.axvspan(start - 0.5, end + 0.5, color="#f5b041", alpha=0.18, lw=0,
                   label=replaced_label if i == 0 else None)
    for c, legend in zip(panel.curves, panel.legends()):
        points = [(i, v) for i, v in enumerate(c.values) if not math.isnan(v)]
        if not points:
            continue
        drew = True
        if panel.sampled:
            xs, ys = zip(*points)
            ax.plot(xs, ys, color=c.colour, lw=0.7, ls=":", alpha=0.6)
            ax.plot(xs, ys, color=c.colour, ls="none", marker="o", ms=4, label=legend)
        else:
            ax.plot(range(len(c.values)), c.values, color=c.colour, lw=1.4, label=legend)
            lone = [(i, v) for i, v in points if _isolated(c.values, i)]
            if lone:  # a measured frame between unmeasured ones would vanish from a line
                ax.plot(*zip(*lone), color=c.colour, ls="none", marker="o", ms=3)
    if panel.threshold is not None:
        ax.axhline(panel.threshold, color="0.35", ls="--", lw=1, label=panel.threshold_label)
    for i, c in enumerate(cuts):
        ax.axvline(c, color="0.4", ls="-.", lw=1, label="scene cut" if i == 0 else None)
    for i, m in enumerate(panel.marks):
        ax.axvline(m - 0.5, color="#7d3c98", ls=":", lw=1.2, label=panel.mark_label if i == 0 else None)
    for i, t in enumerate(panel.repeats):  # on the frame whose pair is a repeat: where the dip is
        ax.axvline(t, color="0.55", ls=(0, (1, 2)), lw=1.0, label=REPEAT_LABEL if i == 0 else None)
    ax.set_title(panel.title, fontsize=10, loc="left")
    ax.set_ylabel(panel.ylabel, fontsize=8)
    ax.grid(alpha=0.3)
    bottom, top = ax.get_ylim()
    if panel.threshold is not None:
        top = max(top, 1.15 * panel.threshold)  # the threshold is in view: a clean clip plots low and flat
    if panel.signed:  # a change of level: at least ±2 grey levels in view, so noise is not blown up
        bottom, top = min(bottom, -2.0), max(top, 2.0)
    if panel.note or panel.repeats:  # headroom: the note (top left) and the legend (top right) sit above the data, never on it
        entries = (sum(1 for c in panel.curves if c.measured) + (panel.threshold is not None) + bool(cuts)
                   + bool(panel.marks) + bool(panel.repeats) + bool(replaced))
        legend = min(0.6, 0.05 + 0.1 * entries)  # share of the axes' height, 8 pt lines
        room = max(0.25 + 0.13 * _wrap(panel.note).count("\n") if panel.note else 0.0, legend / (1 - legend))
        top += (top - (bottom if panel.signed else 0.0)) * room
    ax.set_ylim(bottom if panel.signed else 0, top)  # magnitudes stay honest: no zoom onto noise
    if drew or panel.threshold is not None:
        # "best" weighs the curves only, not the note (top left): LaVie's legend sat on its note
        ax.legend(loc="upper right" if panel.note or panel.repeats else "best", fontsize=8)
    if panel.note:
        ax.text(0.005, 0.97, _wrap(panel.note), transform=ax.transAxes, va="top", ha="left", fontsize=7.5,
                color="0.25", bbox={"boxstyle": "round", "fc": "white", "ec": "0.8", "alpha": 0.85})


def _isolated(values: Sequence[float], i: int) -> bool:
    left = i == 0 or math.isnan(values[i - 1])
    right = i == len(values) - 1 or math.isnan(values[i + 1])
    return left and right


def _wrap(text: str, width: int = 95) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))

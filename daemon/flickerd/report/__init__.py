"""Reports next to each output: ``STEM.report.json``, ``STEM.flicker.png``, ``STEM.compare.mp4``.

``write_reports`` writes each file through a temp name and ``os.replace``, so a reader never
sees half a file; the daemon then publishes them atomically, ``flickerd fix`` uses them as is.
Outcomes without a video (clean, needs attention, failed) get the JSON and the plot only.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from flickerd.diagnose.model import Diagnosis
from flickerd.report.headline import flicker_change_text
from flickerd.report.json_report import build, write_json
from flickerd.report.measures import verdict_sentence
from flickerd.report.settings import ReportSettings
from flickerd.routes.base import ChainResult
from flickerd.rules import Decision

JSON_SUFFIX = ".report.json"
PLOT_SUFFIX = ".flicker.png"
COMPARE_SUFFIX = ".compare.mp4"


@dataclass(frozen=True, slots=True)
class ReportPaths:
    json: str
    plot: str | None = None
    compare: str | None = None

    def all(self) -> tuple[str, ...]:
        return tuple(p for p in (self.json, self.plot, self.compare) if p)

    def __iter__(self):  # the service publishes ``for path in outcome.reports``
        return iter(self.all())


def write_reports(
    out_dir: str,
    stem: str,
    *,
    source: str,
    fixed: str | None,
    before: Diagnosis | None,
    decision: Decision | None,
    chain: ChainResult | None,
    verification: Any | None,
    status: str = "",
    reason: str = "",
    failure: str | None = None,
    source_info: Mapping[str, Any] | None = None,
    timings: Mapping[str, float] | None = None,
    notes: Sequence[str] = (),
    compare: bool = True,
    settings: ReportSettings = ReportSettings(),
    progress: Callable[[float], None] | None = None,
    guide: Mapping[str, Any] | None = None,
    frames: Callable[[], Any] | None = None,
) -> ReportPaths:
    """Write the reports for one job into ``out_dir``; the compare clip only when ``fixed`` exists.

    ``status`` defaults to ``done``/``rejected`` from the verification, else ``report_only``.
    A failing plot or compare clip is noted in the JSON rather than losing the whole report.
    ``frames``: the decoded (source, fixed) frame pairs verification kept (``compare.write_compare``).
    """
    os.makedirs(out_dir, exist_ok=True)
    if not status:
        status = ("done" if verification.accepted else "rejected") if verification is not None else "report_only"
    notes = list(notes)
    plot_path: str | None = os.path.join(out_dir, stem + PLOT_SUFFIX)
    compare_path: str | None = None
    # The plot (matplotlib, mostly Python) is drawn on a thread while the side-by-side clip
    # (decoding, resizing, encoding: C code that releases the GIL) is made here.
    plot_note_at = len(notes)  # the plot's note, if any, comes before the clip's as it always did
    with ThreadPoolExecutor(1, thread_name_prefix="flickerd-plot") as pool:
        plot = pool.submit(_plot, plot_path, source, status, decision, before, verification, chain)
        if compare and settings.compare and fixed and os.path.exists(fixed):
            from flickerd.errors import FlickerdError
            from flickerd.report.compare import write_compare

            compare_path = os.path.join(out_dir, stem + COMPARE_SUFFIX)
            try:
                write_compare(compare_path, source, fixed, labels=("original", FIX_LABELS.get(status, "fix")),
                              speed=settings.compare_speed,
                              max_width=settings.compare_max_width, zoom=settings.compare_zoom, progress=progress,
                              change=getattr(verification, "change_map", None), frames=frames)
            except (FlickerdError, OSError) as exc:
                compare_path = None
                notes.append(f"the side-by-side clip could not be written: {exc}")
            except BaseException:
                plot.cancel()
                raise
        problem = plot.result()
    if problem:
        plot_path = None
        notes.insert(plot_note_at, problem)
    document = build(source=source, fixed=fixed, before=before, decision=decision, chain=chain,
                     verification=verification, status=status, reason=reason, failure=failure, source_info=source_info,
                     timings=timings, notes=notes, guide=guide)
    document["reports"] = {"plot": _name(plot_path), "compare": _name(compare_path)}
    json_path = write_json(os.path.join(out_dir, stem + JSON_SUFFIX), document)
    return ReportPaths(json_path, plot_path, compare_path)


def _plot(path: str, source: str, status: str, decision: Decision | None, before: Diagnosis | None,
          verification: Any | None, chain: ChainResult | None = None) -> str:
    """Draw the flicker plot; returns the note to add when it could not be drawn ("" when it was)."""
    try:
        from flickerd.report.plot import write_plot

        write_plot(path, before=before, verification=verification,
                   title=title_lines(_title(source, status, decision, verification, chain)),
                   subtitle=_subtitle(before, status, verification, decision))
    except (OSError, ValueError, RuntimeError) as exc:
        return f"the flicker plot could not be drawn: {exc}"
    return ""


# The compare clip's right half. A rejected fix, or a refused guided fix of a render that ends
# report_only (its clip sits in the output folder beside no video), was labelled "fixed" (qa19).
FIX_LABELS = {"done": "fixed", "review": "candidate", "rejected": "rejected fix", "report_only": "refused fix"}


STATUS_WORDS = {
    "done": "fixed", "report_only": "report only", "needs_attention": "needs attention", "review": "review candidate",
    "rejected": "rejected", "failed": "failed",
}


def route_text(decision: Decision | None, chain: ChainResult | None) -> str:
    """The rules' route, or "B, the fallback of A" when the fallback ``B`` ran instead of ``A``."""
    route = decision.route if decision is not None else "none"
    ran = fallback_route(decision, chain)
    return f"{ran}, the fallback of {route}" if ran else route


def fallback_route(decision: Decision | None, chain: ChainResult | None) -> str | None:
    """The chain that ran when it is not the one the rules chose first (their fallback), else None."""
    if decision is None or chain is None or not chain.steps or chain.routes == decision.route:
        return None
    return chain.routes


def _title(source: str, status: str, decision: Decision | None, verification: Any | None,
           chain: ChainResult | None = None) -> str:
    title = f"{os.path.basename(source)} — {STATUS_WORDS.get(status, status)}"
    if decision is not None and decision.steps:
        title += f" ({route_text(decision, chain)})"
    figures = figures_text(verification)
    if figures and status not in PUBLISHED:  # as ``flickerd fix`` says it: nobody got this fix
        figures = unpublished(status, figures)
    return title + (" — " + figures if figures else "")


PUBLISHED = ("done", "review")  # the statuses whose fix is written out


def unpublished(status: str, figures: str) -> str:
    """A fix nobody got, with its figures: "the rejected fix, not published: luma flicker -2.8%, …"."""
    return f"the {FIX_LABELS.get(status, 'fix')}, not published: {figures}"


def figures_text(verification: Any | None) -> str:
    """The fix's figures as the title, the CLI and a fixed job's ``reason`` give them:
    "luma flicker -85%, warping error -3%, SSIM 0.995" ("" without a verification)."""
    figures = [f for f in (flicker_change_text(verification),) if f]
    metrics = getattr(verification, "metrics", None) or {}
    if metrics.get("ssim") is not None:
        figures.append(f"SSIM {metrics['ssim']:.3f}")
    return ", ".join(figures)


def fixed_how(decision: Decision | None, chain: ChainResult | None) -> str:
    """``fixed_reason``'s rule part, without the figures: "fixed by rule generative with normalize"."""
    route = route_text(decision, chain)
    rule = getattr(decision, "rule", None)
    return (f"fixed with {route}, the route given by hand" if rule == "override"
            else f"fixed by rule {rule} with {route}" if rule else f"fixed with {route}")


def fixed_reason(decision: Decision | None, chain: ChainResult | None, verification: Any | None) -> str:
    """A published fix's ``reason`` (it was "" though the README calls it a sentence for people):
    the rule, what ran and the title's figures, "fixed by rule generative with normalize: luma
    flicker -85%, warping error -3%, SSIM 0.995."."""
    how = fixed_how(decision, chain)
    figures = figures_text(verification)
    return f"{how}: {figures}." if figures else f"{how}."


SUBTITLE_WIDTH = 120  # characters of a plot subtitle line: about 880 of the figure's 1000 px at 11 pt


TITLE_WIDTH = 100  # characters of a title line: a 124-character title of file-name capitals and "_" ran off both edges


def title_lines(title: str) -> str:
    """The title in lines of at most ``TITLE_WIDTH`` characters, broken at its " — " parts where
    it can: a film's 63-character name with "luma flicker -81%, warping error -44%" ran off the left edge."""
    lines: list[str] = []
    for part in title.split(" — "):
        if lines and len(lines[-1]) + 3 + len(part) <= TITLE_WIDTH:
            lines[-1] += " — " + part
        else:
            lines.extend(textwrap.wrap(part, TITLE_WIDTH) or [""])
    return "\n".join(lines)


def _subtitle(before: Diagnosis | None, status: str, verification: Any | None, decision: Decision | None = None) -> str:
    # wrapped to the figure's width: a mixed verdict's two measures ran off both edges, centred
    lines = textwrap.wrap(verdict_sentence(before), SUBTITLE_WIDTH) if before is not None else []
    if verification is None and decision is not None and decision.note:
        # the rule's reason (e.g. flicker too faint to correct), wrapped to the figure's width
        lines.extend(textwrap.wrap(f"No fix was made: {decision.note} Only the input is shown.", SUBTITLE_WIDTH))
    elif verification is None:
        lines.append("No fix was made, so only the input is shown.")
    elif status == "rejected" or (status != "done" and not getattr(verification, "accepted", True)):
        # the reason, not "the curves show why": the measure that failed (fine-detail flicker,
        # SSIM, ...) is often none of the panels, and a falling curve read as a success. A refused
        # guided fix of a render the rules only report ends report_only: its "after" curves are of
        # a fix nobody gets, which the plot said nowhere (qa19)
        reasons = list(getattr(verification, "reasons", None) or ())
        more = len(reasons) - 1
        why = f" Why: {reasons[0]}" + (f" {more} more reason{'s' if more > 1 else ''} in the report." if more else "")
        what = ("The fix was rejected and not published." if status == "rejected"
                else "The fix was refused and not published; the render is reported as it is.")
        lines.extend(textwrap.wrap(f"{what}{why if reasons else ''}", SUBTITLE_WIDTH))
    return "\n".join(lines)


def _name(path: str | None) -> str | None:
    return os.path.basename(path) if path else None


__all__ = ["ReportPaths", "write_reports", "route_text", "fixed_reason", "figures_text", "fallback_route", "JSON_SUFFIX", "PLOT_SUFFIX", "COMPARE_SUFFIX"]

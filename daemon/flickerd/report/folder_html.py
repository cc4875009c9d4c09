"""One self-contained HTML page for a folder of diagnoses (``flickerd diagnose DIR --report``).

No scripts, no external assets: charts are inline SVG, thumbnails inline JPEG, so the page opens
anywhere, offline. Pure: diagnoses (and thumbnails already made) in, a string out.

Per clip: the verdict in one sentence naming the measure that decided it and its threshold,
the flickering segments (the diagnosis's, which agree with the verdict), the scene cuts, a
strip of thumbnails (first, worst and last frame) and one small chart per measure. Each
measure's charts share one labelled scale across every clip on the page, so a clean clip
looks as flat as it is next to a flickering one.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from flickerd.diagnose.model import Diagnosis, Verdict
from flickerd.figures import fmt
from flickerd.report.measures import MEASURES, WARP_UNIT_VERIFIED, charted, deciding, verdict_sentence

VERDICT_COLOURS = {
    "clean": "#2e7d32",
    "generative_flicker": "#e65100",
    "codec_artifacts": "#1565c0",
    "mixed": "#6a1b9a",
    "incoherent": "#b71c1c",
}
TABLE_SCORES = ("luma_flicker", "chroma_flicker", "local_flicker", "texture_flicker", "warp_error", "banding", "blocking")
CHART_SCORES = ("luma_flicker", "chroma_flicker", "local_flicker", "texture_flicker", "warp_error")
CHART_W, CHART_H = 212, 108
LEFT, RIGHT, TOP, BOTTOM = 36, 6, 30, 16  # px around the plot area: y ticks, title and unit, x ticks
# A scale's top: this quantile of all clips' values pooled, so one flickering clip cannot flatten
# every other; values above it are drawn at the top and counted.
SCALE_QUANTILE = 0.95
THRESHOLD_HEADROOM = 1.25  # the verdict threshold always shows, with this much room above it
SAMPLED_SHARE = 0.8  # fewer measured frames than this share: drawn as dots

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1150px}
table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:right}
th{vertical-align:bottom}
th small{font-weight:normal;color:#666}
th:first-child,td:first-child,td.v{text-align:left}
td:first-child{overflow-wrap:anywhere;min-width:18em}
.badge{color:#fff;border-radius:3px;padding:1px 6px;font-size:12px}
section{margin:2em 0;border-top:2px solid #eee;padding-top:1em}
.err{color:#b71c1c}
.sentence{font-size:15px}
.thumbs{display:flex;gap:8px;margin:.6em 0}
.thumbs figure{margin:0;font-size:12px;color:#555}
.thumbs img{display:block;max-height:120px;border:1px solid #ccc}
.charts{display:flex;flex-wrap:wrap;gap:6px}
svg.chart{background:#fafafa;border:1px solid #ddd}
.legend{color:#555;font-size:13px}
"""


@dataclass(frozen=True, slots=True)
class Scale:
    """One y axis for a measure across every clip on the page."""

    key: str
    top: float
    threshold: float | None  # the per-frame level the verdict uses (None: none drawn)


def _values(d: Diagnosis, key: str) -> list[float | None]:
    """The per-frame values charted; the warping error as the mean of R, G, B, as on the plots (the
    diagnosis sums the channels: the folder page drew 3× a fixed plot's, review20 #8)."""
    field = MEASURES[key].per_frame or key
    out: list[float | None] = []
    for p in d.timeline:
        v = getattr(p, field, None)
        out.append(charted(key, float(v)) if isinstance(v, (int, float)) and math.isfinite(v) else None)
    return out


def _unit(key: str) -> str:
    """The unit of ``_values``: the table keeps the diagnosis's score (the sum), labelled so."""
    m = MEASURES[key]
    return WARP_UNIT_VERIFIED if key == "warp_error" else m.per_frame_unit or m.unit


def _quantile(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))] if s else 0.0


def _nice(x: float) -> float:
    """The smallest 1/2/2.5/5 × 10^k at or above ``x``: tick values people can read."""
    if x <= 0:
        return 1.0
    k = math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10 ** k >= x * (1 - 1e-9):
            return m * 10 ** k
    return 10 ** (k + 1)


def scales(diagnoses: Sequence[Diagnosis]) -> dict[str, Scale]:
    """A shared scale per charted measure: its top covers nearly every clip's values and the threshold."""
    out = {}
    for key in CHART_SCORES:
        m = MEASURES[key]
        pooled = [v for d in diagnoses for v in _values(d, key) if v is not None]
        threshold = next((m.threshold(d) for d in diagnoses if m.threshold(d) is not None), None)
        line = threshold * m.run_factor if threshold is not None and m.run_factor else None
        top = max([_quantile(pooled, SCALE_QUANTILE)] + ([line * THRESHOLD_HEADROOM] if line else []) + [1e-12])
        out[key] = Scale(key, _nice(top), line)
    return out


def chart_svg(d: Diagnosis, scale: Scale) -> str:
    """A small chart of one measure for one clip on the page's shared scale, with its axes labelled."""
    m = MEASURES[scale.key]
    values = _values(d, scale.key)
    n = len(values)
    pw, ph = CHART_W - LEFT - RIGHT, CHART_H - TOP - BOTTOM
    x = lambda i: LEFT + pw * (i / max(1, n - 1))  # noqa: E731
    y = lambda v: TOP + ph * (1 - min(v, scale.top) / scale.top)  # noqa: E731
    unit = _unit(scale.key)
    label = f"{m.label} ({unit})"
    parts = [f'<svg class="chart" role="img" data-measure="{scale.key}" data-ymax="{scale.top:g}" '
             f'aria-label="{html.escape(label)} per frame, 0 to {scale.top:g}" width="{CHART_W}" height="{CHART_H}" '
             f'viewBox="0 0 {CHART_W} {CHART_H}" xmlns="http://www.w3.org/2000/svg">',
             f'<text class="title" x="3" y="12" font-size="11">{html.escape(m.label)}</text>',
             f'<text class="unit" x="3" y="24" font-size="9.5" fill="#555">{html.escape(unit)}</text>',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + ph}" stroke="#999"/>',
             f'<line x1="{LEFT}" y1="{TOP + ph}" x2="{LEFT + pw}" y2="{TOP + ph}" stroke="#999"/>',
             f'<text class="axis-y" x="{LEFT - 3}" y="{TOP + 4}" font-size="9.5" text-anchor="end">{scale.top:g}</text>',
             f'<text class="axis-y" x="{LEFT - 3}" y="{TOP + ph}" font-size="9.5" text-anchor="end">0</text>',
             f'<text class="axis-x" x="{LEFT}" y="{CHART_H - 3}" font-size="9.5">frame 0</text>',
             f'<text class="axis-x" x="{LEFT + pw}" y="{CHART_H - 3}" font-size="9.5" text-anchor="end">{max(0, n - 1)}</text>']
    for c in d.cuts:
        parts.append(f'<line x1="{x(c):.1f}" y1="{TOP}" x2="{x(c):.1f}" y2="{TOP + ph}" stroke="#d32f2f" '
                     'stroke-dasharray="2,2"/>')
    if scale.threshold is not None:
        parts.append(f'<line class="threshold" x1="{LEFT}" y1="{y(scale.threshold):.1f}" x2="{LEFT + pw}" '
                     f'y2="{y(scale.threshold):.1f}" stroke="#555" stroke-dasharray="4,3"/>')
    measured = [(i, v) for i, v in enumerate(values) if v is not None]
    if not measured:
        parts.append(f'<text x="{LEFT + pw / 2}" y="{TOP + ph / 2}" font-size="10" text-anchor="middle" '
                     'fill="#777">not measured</text>')
    elif len(measured) < SAMPLED_SHARE * max(1, n - 2):
        parts += [f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="1.8" fill="#e65100"/>' for i, v in measured]
    else:
        runs, run = [], []
        for i, v in enumerate(values):
            if v is None:
                runs, run = runs + [run] if run else runs, []
            else:
                run.append(f"{x(i):.1f},{y(v):.1f}")
        for r in runs + ([run] if run else []):
            parts.append(f'<polyline fill="none" stroke="#e65100" stroke-width="1.3" points="{" ".join(r)}"/>'
                         if len(r) > 1 else f'<circle cx="{r[0].split(",")[0]}" cy="{r[0].split(",")[1]}" r="1.8" '
                                            'fill="#e65100"/>')
    clipped = sum(1 for _, v in measured if v > scale.top)
    if clipped:
        parts.append(f'<text x="{CHART_W - 3}" y="12" font-size="9" text-anchor="end" fill="#b71c1c">'
                     f'{clipped} above {scale.top:g} ▲</text>')
    parts.append("</svg>")
    return "".join(parts)


def worst_frame(d: Diagnosis) -> tuple[int, str] | None:
    """The frame where the deciding measure (else the warping error) peaks, and a caption."""
    keys = [x.measure.key for x in deciding(d) if x.measure.per_frame] + ["warp_error"]
    for key in keys:
        measured = [(v, i) for i, v in enumerate(_values(d, key)) if v is not None]
        if measured:
            v, i = max(measured)
            m = MEASURES[key]
            return i, f"worst: frame {i} ({m.label} {fmt(v)} {_unit(key)})"
    return None


def thumbnail_frames(d: Diagnosis) -> list[tuple[int, str]]:
    """(frame, caption) for the strip: first, worst, last."""
    if d.frames <= 0:
        return []
    out = [(0, "first: frame 0")]
    worst = worst_frame(d)
    if worst is not None:
        out.append(worst)
    out.append((d.frames - 1, f"last: frame {d.frames - 1}"))
    return out


def _segment_text(s) -> str:
    m = MEASURES.get(_SEGMENT_SCORE.get(s.kind, ""))
    if m is None:
        return f"{s.kind} frames {s.start}–{s.end}"
    return f"{s.kind} frames {s.start}–{s.end} (mean {fmt(s.score)} {m.per_frame_unit or m.unit})"


def _segments_text(d: Diagnosis) -> str:
    if d.segments:
        return "flickering segments: " + ", ".join(_segment_text(s) for s in d.segments)
    if d.verdict in (Verdict.CLEAN, Verdict.CODEC_ARTIFACTS):
        return "no flickering segments"
    return "no flickering segments were found"


_SEGMENT_SCORE = {"luma": "luma_flicker", "chroma": "chroma_flicker", "local": "local_flicker",
                  "texture": "texture_flicker", "incoherent": "incoherence"}


def _cuts_text(d: Diagnosis) -> str:
    if not d.cuts:
        return "no scene cuts"
    return f"scene cut{'s' if len(d.cuts) > 1 else ''} at frame{'s' if len(d.cuts) > 1 else ''} " + \
        ", ".join(map(str, d.cuts))


def _table_cell(d: Diagnosis, key: str) -> str:
    v = d.scores.get(key)
    if not isinstance(v, (int, float)) or math.isnan(v):
        return "<td>–</td>"
    return f"<td>{fmt(float(v))}</td>"


def render(diagnoses: Sequence[Diagnosis], errors: Sequence[tuple[str, str]] = (), *, title: str = "flickerd report",
           thumbnails: Mapping[str, Mapping[int, str]] | None = None) -> str:
    """The page: a summary table, then one section per clip; ``errors`` lists (file, message);
    ``thumbnails`` maps a clip's file to {frame index: image URI} (see ``thumbnail_frames``)."""
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    thumbnails = thumbnails or {}
    shared = scales(diagnoses)
    rows = []
    for i, d in enumerate(diagnoses):
        colour = VERDICT_COLOURS.get(d.verdict.value, "#555")
        cells = "".join(_table_cell(d, k) for k in TABLE_SCORES)
        rows.append(
            f'<tr><td><a href="#clip{i}">{html.escape(os.path.basename(d.file))}</a></td>'
            f'<td class="v"><span class="badge" style="background:{colour}">{html.escape(d.verdict.value)}</span></td>'
            f"<td>{d.confidence:.2f}</td><td>{d.frames}</td><td>{d.fps:.3g}</td>{cells}</tr>"
        )
    for path, message in errors:
        rows.append(f'<tr><td>{html.escape(os.path.basename(path))}</td><td class="v err" colspan="{4 + len(TABLE_SCORES)}">'
                    f"{html.escape(message)}</td></tr>")
    sections = []
    for i, d in enumerate(diagnoses):
        thumbs = thumbnails.get(d.file, {})
        strip = "".join(f'<figure><img alt="frame {f}" src="{html.escape(thumbs[f])}"><figcaption>{html.escape(c)}'
                        f"</figcaption></figure>" for f, c in thumbnail_frames(d) if f in thumbs)
        charts = "".join(chart_svg(d, shared[k]) for k in CHART_SCORES)
        sections.append(
            f'<section id="clip{i}"><h2>{html.escape(os.path.basename(d.file))}</h2>'
            f'<p class="sentence">{html.escape(verdict_sentence(d))} (confidence {d.confidence:.2f})</p>'
            f"<p>{d.width}×{d.height} · {d.frames} frames at {d.fps:.3g} fps ({d.duration_s:.2f} s) · "
            f"{html.escape(_cuts_text(d))} · {html.escape(_segments_text(d))}</p>"
            + (f'<div class="thumbs">{strip}</div>' if strip else "")
            + f'<div class="charts">{charts}</div></section>'
        )
    head = "".join(f"<th>{html.escape(MEASURES[k].label)}<br><small>{html.escape(MEASURES[k].unit)}</small></th>"
                   for k in TABLE_SCORES)
    legend = ("Charts: one per measure and clip. Each measure's charts share one scale across every clip on this "
              "page (its top is the label on the axis), so a clean clip looks as flat as it is. Dashed line: the "
              "per-frame level of the verdict's threshold; red dashes: scene cuts; dots: frames a long clip's "
              "diagnosis sampled (the others were not measured). The warping error's charts and worst-frame "
              "captions are the mean of R, G, B, as on the plots; its table column is the diagnosis's score, "
              "their sum (3×).")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{len(diagnoses)} clips diagnosed, {len(errors)} could not be read · {when}</p>"
        f"<table><thead><tr><th>clip</th><th>verdict</th><th>confidence<br><small>0–1</small></th><th>frames</th>"
        f"<th>fps</th>{head}</tr></thead>"
        f'<tbody>{"".join(rows)}</tbody></table><p class="legend">{html.escape(legend)}</p>{"".join(sections)}'
        f"</body></html>\n"
    )

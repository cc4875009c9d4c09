"""One self-contained HTML page for a folder of diagnoses: a table and a flicker plot per clip.

No scripts, no external assets: plots are inline SVG, so the page opens anywhere, offline.
Pure: diagnoses in, a string out.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from datetime import datetime, timezone

from flickerd.diagnose.model import Diagnosis

VERDICT_COLOURS = {
    "clean": "#2e7d32",
    "generative_flicker": "#e65100",
    "codec_artifacts": "#1565c0",
    "mixed": "#6a1b9a",
    "incoherent": "#b71c1c",
}
TABLE_SCORES = ("luma_flicker", "chroma_flicker", "local_flicker", "texture_flicker", "warp_error", "banding", "blocking")
PLOT_W, PLOT_H, PAD = 640, 150, 30
# Each curve is scaled to its own maximum, but never below a level that is clearly visible
# flicker, so a clean clip plots flat instead of magnifying noise.
PLOT_FLOOR = {"luma_flicker": 2.0, "warp_error": 0.01}

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:right}
th:first-child,td:first-child,td.v{text-align:left}
.badge{color:#fff;border-radius:3px;padding:1px 6px;font-size:12px}
section{margin:2em 0;border-top:2px solid #eee;padding-top:1em}
.err{color:#b71c1c}
svg{background:#fafafa;border:1px solid #ddd}
"""


def _num(v: object) -> str:
    if isinstance(v, float):
        return "–" if math.isnan(v) else f"{v:.3g}"
    return html.escape(str(v))


def _series(d: Diagnosis, key: str) -> list[float | None]:
    return [getattr(p, key) for p in d.timeline]


def flicker_svg(d: Diagnosis) -> str:
    """Per-frame luma flicker and warping error (each scaled to its max or ``PLOT_FLOOR``), cuts as red lines."""
    n = len(d.timeline)
    if n < 2:
        return "<p>Too few frames to plot.</p>"
    x = lambda i: PAD + (PLOT_W - 2 * PAD) * i / (n - 1)  # noqa: E731
    parts = [f'<svg role="img" aria-label="flicker per frame" width="{PLOT_W}" height="{PLOT_H}" '
             f'viewBox="0 0 {PLOT_W} {PLOT_H}" xmlns="http://www.w3.org/2000/svg">']
    for i, p in enumerate(d.timeline):
        if p.cut:
            parts.append(f'<line x1="{x(i):.1f}" y1="{PAD/2}" x2="{x(i):.1f}" y2="{PLOT_H-PAD}" stroke="#d32f2f" stroke-dasharray="3,3"/>')
    for key, colour in (("luma_flicker", "#e65100"), ("warp_error", "#1565c0")):
        values = _series(d, key)
        finite = [v for v in values if v is not None and not math.isnan(v)]
        top = max(max(finite, default=0.0), PLOT_FLOOR[key])
        pts = " ".join(f"{x(i):.1f},{PLOT_H - PAD - (PLOT_H - 1.5 * PAD) * v / top:.1f}"
                       for i, v in enumerate(values) if v is not None and not math.isnan(v))
        if pts:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{pts}"/>')
    parts.append(f'<line x1="{PAD}" y1="{PLOT_H-PAD}" x2="{PLOT_W-PAD}" y2="{PLOT_H-PAD}" stroke="#999"/>')
    parts.append(f'<text x="{PAD}" y="{PLOT_H-8}" font-size="11">frame 0</text>')
    parts.append(f'<text x="{PLOT_W-PAD}" y="{PLOT_H-8}" font-size="11" text-anchor="end">frame {n-1}</text>')
    parts.append(f'<text x="{PAD}" y="14" font-size="11" fill="#e65100">luma flicker</text>')
    parts.append(f'<text x="{PAD+90}" y="14" font-size="11" fill="#1565c0">warping error</text>')
    parts.append(f'<text x="{PAD+190}" y="14" font-size="11" fill="#d32f2f">scene cut</text>')
    parts.append("</svg>")
    return "".join(parts)


def render(diagnoses: Sequence[Diagnosis], errors: Sequence[tuple[str, str]] = (), *, title: str = "flickerd report") -> str:
    """The page: a summary table, then one section per clip; ``errors`` lists (file, message)."""
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    for i, d in enumerate(diagnoses):
        colour = VERDICT_COLOURS.get(d.verdict.value, "#555")
        cells = "".join(f"<td>{_num(d.scores.get(k, float('nan')))}</td>" for k in TABLE_SCORES)
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
        segs = ", ".join(f"{s.kind} {s.start}–{s.end}" for s in d.segments) or "none"
        sections.append(
            f'<section id="clip{i}"><h2>{html.escape(os.path.basename(d.file))}</h2>'
            f"<p>{html.escape(d.verdict.value)} (confidence {d.confidence:.2f}) · {d.width}×{d.height} · "
            f"{d.frames} frames at {d.fps:.3g} fps · cuts at {', '.join(map(str, d.cuts)) or 'none'} · "
            f"flickering segments: {html.escape(segs)}</p>{flicker_svg(d)}</section>"
        )
    head = "".join(f"<th>{html.escape(k.replace('_', ' '))}</th>" for k in TABLE_SCORES)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{len(diagnoses)} clips diagnosed, {len(errors)} could not be read · {when}</p>"
        f"<table><thead><tr><th>clip</th><th>verdict</th><th>confidence</th><th>frames</th><th>fps</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{''.join(sections)}</body></html>\n"
    )

"""``NAME.flicker.png``: per-frame flicker before and after the fix, scene cuts marked."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from flickerd.diagnose.model import Diagnosis

FIG_SIZE_IN = (10.0, 5.6)
DPI = 100  # 1000 × 560 px


def _clean(values: Sequence[Any]) -> list[float]:
    return [float(v) if v is not None and math.isfinite(float(v)) else math.nan for v in values]


def _from_timeline(d: Diagnosis | None, key: str) -> list[float]:
    if d is None:
        return []
    return _clean([getattr(p, key) for p in d.timeline])


def series(before: Diagnosis | None, verification: Any | None) -> dict[str, list[float]]:
    """The curves to draw: verification's (input and output under the input's flow) or the diagnosis's."""
    s = dict(getattr(verification, "series", None) or {})
    after = getattr(verification, "after", None)
    out = {
        "warp_before": _clean(s.get("warp_error_before") or ()) or _from_timeline(before, "warp_error"),
        "warp_after": _clean(s.get("warp_error_after") or ()) or _from_timeline(after, "warp_error"),
        "luma_before": _clean(s.get("luma_flicker_before") or ()) or _from_timeline(before, "luma_flicker"),
        "luma_after": _clean(s.get("luma_flicker_after") or ()) or _from_timeline(after, "luma_flicker"),
    }
    return out


def write_plot(path: str, *, before: Diagnosis | None, verification: Any | None, title: str) -> str:
    """Draw the two panels (warping error, luma flicker) and write the PNG via a temp name."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # no pyplot: no global state, safe in worker threads

    curves = series(before, verification)
    fps = before.fps if before is not None and before.fps else 0.0
    cuts = list(before.cuts) if before is not None else []
    fig = Figure(figsize=FIG_SIZE_IN, dpi=DPI, layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    panels = (
        (axes[0], "warp", "Flow-compensated warping error", "error (RGB, [0,1]²)"),
        (axes[1], "luma", "Global luma flicker", "|Y − mean(neighbours)| (levels)"),
    )
    for ax, key, name, ylabel in panels:
        b, a = curves[f"{key}_before"], curves[f"{key}_after"]
        if b:
            ax.plot(range(len(b)), b, color="#c0392b", lw=1.4, label="before (input)")
        if a:
            ax.plot(range(len(a)), a, color="#2471a3", lw=1.4, label="after (fixed)")
        for i, c in enumerate(cuts):
            ax.axvline(c, color="0.4", ls="--", lw=1, label="scene cut" if i == 0 else None)
        ax.set_title(name, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(alpha=0.3)
        if not b and not a:
            ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes, color="0.5")
        else:
            ax.legend(loc="upper right", fontsize=8)
    axes[1].set_xlabel(f"frame{f' ({fps:.3g} fps)' if fps else ''}")
    fig.suptitle(title, fontsize=11)
    tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.tmp")
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path

"""Whether a render has files of its own that shape its output: a sidecar, a guide.

Equal bytes under equal rules give an equal output only without them, so a job with any is no
copy of an earlier one, nor does an earlier one with any stand for a copy (``daemon._launch``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flickerd.media.guide import has_guide
from flickerd.media.sequence import sidecar_paths
from flickerd.routes.regenerate.sidecar import sidecar_path

REPORT_MAX_BYTES = 4 << 20  # our own report; larger is not one


def own_inputs(path: str, guides_dir: str | os.PathLike | None = None, report: str | None = None) -> bool:
    """Whether ``path`` has a sidecar or a guide now, or its published ``report`` says it used a
    guide (``on_success = "move"`` takes a done job's source and sidecar away)."""
    src = Path(path)
    if src.is_dir():  # an image sequence: its sidecar may set the frame rate
        return any(os.path.exists(p) for p in sidecar_paths(src))
    return sidecar_path(src).exists() or has_guide(src, guides_dir) or _reported_guide(report)


def _reported_guide(report: str | None) -> bool:
    if not report:
        return False
    try:
        with open(report, "rb") as f:
            doc = json.loads(f.read(REPORT_MAX_BYTES))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and bool(doc.get("guide"))

"""The ``NAME.report.json`` document (schema 1): everything needed to judge or reproduce a job.

Top-level keys: ``schema``, ``kind``, ``flickerd``, ``created``, ``status``, ``reason``,
``source`` (path + probe), ``output``, ``decision`` (rule, action, route, steps, fallback),
``diagnosis`` (``before``/``after``), ``chain`` (per step: route, version, backend, params,
exact commands, seconds), ``verification`` (accepted, reasons, metrics, thresholds, series),
``timings`` (seconds per stage) and ``notes``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from flickerd import __version__
from flickerd.diagnose.model import Diagnosis
from flickerd.routes.base import ChainResult, Step
from flickerd.rules import Decision

SCHEMA_VERSION = 1
KIND = "flickerd.report"


def _steps(steps: Sequence[Step]) -> list[dict]:
    return [{"route": s.route, "params": dict(s.params)} for s in steps]


def decision_json(decision: Decision | None) -> dict | None:
    if decision is None:
        return None
    return {
        "rule": decision.rule,
        "action": decision.action.value,
        "route": decision.route,
        "steps": _steps(decision.steps),
        "fallback": _steps(decision.fallback),
    }


def build(
    *,
    source: str,
    fixed: str | None,
    before: Diagnosis | None,
    decision: Decision | None,
    chain: ChainResult | None,
    verification: Any | None,
    status: str,
    reason: str = "",
    source_info: Mapping[str, Any] | None = None,
    timings: Mapping[str, float] | None = None,
    notes: Sequence[str] = (),
) -> dict:
    """The report as plain JSON data (pure)."""
    after = getattr(verification, "after", None)
    return {
        "schema": SCHEMA_VERSION,
        "kind": KIND,
        "flickerd": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "status": status,
        "reason": reason,
        "source": {"path": os.fspath(source), "probe": dict(source_info) if source_info else None},
        "output": os.fspath(fixed) if fixed else None,
        "decision": decision_json(decision),
        "diagnosis": {
            "before": before.to_json() if before is not None else None,
            "after": after.to_json() if after is not None else None,
        },
        "chain": chain.to_dict() if chain is not None else None,
        # the re-diagnosis is under diagnosis.after; not repeated here
        "verification": verification.to_json(include_after=False) if verification is not None else None,
        "timings": {k: round(v, 3) for k, v in (timings or {}).items()},
        "notes": list(notes),
    }


def write_json(path: str, document: Mapping[str, Any]) -> str:
    """Write ``document`` to ``path`` via a temp name and ``os.replace`` (never half a file)."""
    tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(document, fh, indent=2, default=_default, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _default(value: Any) -> Any:
    if hasattr(value, "to_json"):
        return value.to_json()
    if hasattr(value, "value"):  # enums
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)

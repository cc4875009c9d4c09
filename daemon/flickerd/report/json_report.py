"""The ``NAME.report.json`` document (schema 2): everything needed to judge or reproduce a job.

Every report flickerd writes has this one shape, whatever happened to the job (fixed, report
only, needs attention, review, rejected, failed, quarantined, a duplicate of earlier content);
``report.schema.json`` beside this module is its JSON Schema. Top-level keys: ``schema``,
``kind``, ``flickerd``, ``created``, ``status``, ``reason`` (a sentence for people),
``failure`` (the reason label), ``source`` (path + probe), ``output`` (the published video, its
place under ``_review/``, or null), ``key`` (the journal's idempotence key: the source's
``sha256``, ``rules_hash``, ``route_versions``), ``job`` (journal id and attempts; null under
``flickerd fix``), ``decision``, ``diagnosis`` (``before``/``after``), ``chain``,
``verification``, ``timings``, ``notes``, ``reports`` (the plot's and the clip's published
names) and ``duplicate_of``.

A report is built in the job's workdir, before anyone knows where its files will land;
``placement.place`` fills in ``output``, ``key``, ``job`` and ``reports`` as they are published.
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

SCHEMA_VERSION = 3
KIND = "flickerd.report"
SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "report.schema.json")
STATUSES = ("done", "rejected", "report_only", "needs_attention", "review", "failed", "quarantined", "duplicate")


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


GUIDED_FLOWS = "+guide"  # a step whose flows came from the job's guide: its output is not the blind one's


def route_versions(chain: ChainResult | None) -> str | None:
    """``normalize=3,detail=2``: the routes a job ran, as the journal keys it (None: no route ran);
    a step that followed the guide's flows reads ``normalize=3+guide``."""
    if chain is None or not chain.steps:
        return None
    return ",".join(f"{s.route}={s.version}{GUIDED_FLOWS if 'flow_from_guide' in s.extra else ''}"
                    for s in chain.steps)


def _chain_json(chain: ChainResult | None) -> dict | None:
    if chain is None:
        return None
    data = chain.to_dict()
    for step in data["steps"]:
        step.pop("output", None)  # a file in the job's workdir, gone once the job ends
    return data


def _skeleton(status: str, source: str, reason: str, failure: str | None) -> dict:
    if status not in STATUSES:
        raise ValueError(f"unknown report status {status!r}; expected one of {', '.join(STATUSES)}")
    return {
        "schema": SCHEMA_VERSION,
        "kind": KIND,
        "flickerd": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "status": status,
        "reason": reason,
        "failure": failure,
        "source": {"path": os.path.abspath(os.fspath(source)), "probe": None},
        "output": None,
        "key": {"sha256": None, "rules_hash": None, "route_versions": None},
        "job": None,
        "decision": None,
        "diagnosis": {"before": None, "after": None},
        "chain": None,
        "verification": None,
        "timings": {},
        "notes": [],
        "reports": {"plot": None, "compare": None},
        "duplicate_of": None,
        "guide": None,
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
    failure: str | None = None,
    source_info: Mapping[str, Any] | None = None,
    timings: Mapping[str, float] | None = None,
    notes: Sequence[str] = (),
    guide: Mapping[str, Any] | None = None,
) -> dict:
    """The report of a processed job as plain JSON data (pure).

    ``output`` stays null here: ``fixed`` is a workdir file; the publisher names the real one.
    """
    after = getattr(verification, "after", None)
    doc = _skeleton(status, source, reason, failure)
    after_json = after.to_json() if after is not None else None
    if after_json is not None:
        after_json["file"] = None  # the workdir's candidate; placement names the published file
    doc.update(
        decision=decision_json(decision),
        diagnosis={"before": before.to_json() if before is not None else None, "after": after_json},
        chain=_chain_json(chain),
        # the re-diagnosis is under diagnosis.after; not repeated here
        verification=verification.to_json(include_after=False) if verification is not None else None,
        timings={k: round(v, 3) for k, v in (timings or {}).items()},
        notes=list(notes),
    )
    doc["source"]["probe"] = dict(source_info) if source_info else None
    doc["key"]["route_versions"] = route_versions(chain)
    doc["guide"] = dict(guide) if guide else None
    return doc


def note(
    *,
    status: str,
    source: str,
    reason: str,
    failure: str | None = None,
    output: str | None = None,
    duplicate_of: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> dict:
    """A report for a job that was not processed here (quarantined, failed early, a duplicate):
    the same document with its diagnosis and chain empty (pure)."""
    doc = _skeleton(status, source, reason, failure)
    doc.update(output=output, duplicate_of=dict(duplicate_of) if duplicate_of else None, notes=list(notes))
    return doc


def dumps(document: Mapping[str, Any]) -> bytes:
    """The bytes written for ``document`` (indented UTF-8 JSON, no NaN)."""
    return (json.dumps(document, indent=2, default=_default, allow_nan=False) + "\n").encode()


def write_json(path: str, document: Mapping[str, Any]) -> str:
    """Write ``document`` to ``path`` via a temp name and ``os.replace`` (never half a file)."""
    tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(dumps(document))
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

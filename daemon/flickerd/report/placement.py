"""Where a report's job ended up: the published video, the idempotence key, the published names.

``process_file`` writes a report in the job's workdir; only the publisher (the daemon's worker,
``flickerd fix``, ``flickerd approve``/``reject``) knows the final names. It fills them in with
``place`` (pure) or ``place_file`` (rewrites a workdir report) just before the report is
published, so a published report never names a temp file, and the key it carries
(``sha256`` + ``rules_hash`` + ``route_versions``) lets a lost journal be rebuilt from the
output folders.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flickerd.report.json_report import dumps, write_json


@dataclass(frozen=True, slots=True)
class Key:
    """The journal's idempotence key: the same content under the same rules and routes runs once."""

    sha256: str | None
    rules_hash: str | None
    route_versions: str | None = None  # ``normalize=3,detail=2``; None when no route ran

    def to_json(self) -> dict:
        return {"sha256": self.sha256, "rules_hash": self.rules_hash, "route_versions": self.route_versions}


@dataclass(frozen=True, slots=True)
class Placement:
    """What the publisher knows and the workdir did not."""

    output: str | None  # the published video (or frames folder), its place in _review/, or None
    key: Key
    job: int | None = None  # the journal id; None under ``flickerd fix``
    attempts: int | None = None
    status: str | None = None  # a changed status (``auto_accept``, approve, reject); None keeps it
    reason: str | None = None  # with ``status``: the new sentence
    reports: Mapping[str, str | None] = field(default_factory=dict)  # "plot"/"compare" → published name


def place(document: Mapping[str, Any], placement: Placement) -> dict:
    """``document`` with the placement's names and key filled in (pure)."""
    doc = dict(document)
    doc["output"] = os.fspath(placement.output) if placement.output else None
    key = dict(doc.get("key") or {})
    key.update({k: v for k, v in placement.key.to_json().items() if v is not None or k not in key})
    doc["key"] = key
    doc["job"] = {"id": placement.job, "attempts": placement.attempts} if placement.job is not None else None
    if placement.status:
        doc["status"] = placement.status
        if placement.reason is not None:
            doc["reason"] = placement.reason
    if placement.reports:
        reports = dict(doc.get("reports") or {})
        reports.update({k: (os.path.basename(v) if v else None) for k, v in placement.reports.items()})
        doc["reports"] = reports
    diagnosis = doc.get("diagnosis")
    if isinstance(diagnosis, Mapping) and isinstance(diagnosis.get("after"), Mapping):
        # the re-diagnosed file is the published one (or gone, when nothing was published)
        doc["diagnosis"] = {**diagnosis, "after": {**diagnosis["after"], "file": doc["output"]}}
    return doc


def read(path: str | os.PathLike) -> dict | None:
    """A report file as data; None when it is not a JSON object (a test fake, a foreign file)."""
    try:
        with open(path, "rb") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def place_file(path: str | os.PathLike, placement: Placement) -> bool:
    """Rewrite the workdir report at ``path`` with ``placement``; False if it is not a report."""
    doc = read(path)
    if doc is None:
        return False
    write_json(os.fspath(path), place(doc, placement))
    return True


def placed_bytes(path: str | os.PathLike, placement: Placement) -> bytes | None:
    """The bytes of the report at ``path`` with ``placement`` applied (for an atomic publish elsewhere)."""
    doc = read(path)
    return None if doc is None else dumps(place(doc, placement))

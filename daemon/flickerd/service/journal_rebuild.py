"""The journal's finished jobs, rebuilt from the reports published in the output folders.

A published report names its job (id, attempts), its source and the idempotence key (sha256,
rules hash, route versions): enough for a row the daemon treats as it treated the lost one, so
a file already published is neither processed again nor taken for new. Rows keep their ids
(``flickerd approve ID`` still names the same candidate). A source still of the size its report
probed and not modified since the report was written keeps its size and mtime, so scans skip it
as they skip any known file; any other gets an unknown size and mtime, and the first scan hashes
it once and finds its row by content (the hash cache was lost with the journal).

A report without a content hash (written before the key carried one) cannot stand for its
source: it is named in the result, and that source is processed again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flickerd.errors import FlickerdError
from flickerd.media.guarded import InputKind, read_input
from flickerd.service.journal import Journal, JobState

# a report's status → the journal state its job ended in
STATES: Mapping[str, JobState] = {
    "done": JobState.DONE, "report_only": JobState.DONE, "needs_attention": JobState.DONE,
    "duplicate": JobState.DONE, "review": JobState.REVIEW, "rejected": JobState.REJECTED,
    "failed": JobState.FAILED, "quarantined": JobState.QUARANTINED,
}
UNKNOWN_STAT = -1  # never a real size or mtime: the first scan hashes the source and updates it
CREATED_RESOLUTION_S = 1.0  # a report's ``created`` is in whole seconds
REPORT_SUFFIX = ".report.json"


@dataclass(frozen=True, slots=True)
class Rebuilt:
    jobs: int  # rows written (those the journal had already are left out)
    states: Mapping[str, int]  # rows written, by journal state
    reports: int  # reports read
    without_hash: tuple[str, ...]  # reports that cannot be used: no content hash
    unreadable: tuple[str, ...]  # not JSON, not a flickerd report, a link leading out
    missing: tuple[str, ...]  # output folders that do not exist (an unmounted share?)


def reports_in(output: Path) -> Iterator[Path]:
    """Published reports below an output folder; hidden names (temp files, workdirs) skipped, links not followed."""
    for root, dirs, names in os.walk(output):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.endswith(REPORT_SUFFIX) and not name.startswith("."):
                yield Path(root) / name


def _epoch(created: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(created)).timestamp()
    except ValueError:
        return None


def row(doc: Mapping[str, Any], folder: str, report: Path) -> dict[str, Any] | None:
    """The journal row ``report`` stands for; None when it has no content hash or no known status (pure)."""
    key = doc.get("key") if isinstance(doc.get("key"), Mapping) else {}
    source = doc.get("source") if isinstance(doc.get("source"), Mapping) else {}
    state = STATES.get(str(doc.get("status")))
    if not key.get("sha256") or not source.get("path") or state is None:
        return None
    job = doc.get("job") if isinstance(doc.get("job"), Mapping) else {}
    chain, decision = doc.get("chain") or {}, doc.get("decision") or {}
    duplicate_of = doc.get("duplicate_of") if isinstance(doc.get("duplicate_of"), Mapping) else {}
    when = _epoch(doc.get("created"))
    out = {
        "path": str(source["path"]), "folder": folder, "sha256": str(key["sha256"]),
        "size": UNKNOWN_STAT, "mtime": float(UNKNOWN_STAT), "state": state.value, "outcome": str(doc["status"]),
        "route": decision.get("route") or chain.get("route") or None, "attempts": int(job.get("attempts") or 0),
        "created_at": when or 0.0, "finished_at": when,
        "error": (doc.get("reason") or None) if state is not JobState.DONE else None,
        "reason": doc.get("failure") or None, "report_path": str(report), "output_path": doc.get("output") or None,
        "rules_hash": key.get("rules_hash"), "route_versions": key.get("route_versions"), "progress": 1.0,
        "duplicate_of": duplicate_of.get("job") if doc.get("status") == "duplicate" else None,
    }
    if isinstance(job.get("id"), int):
        out["id"] = job["id"]
    return out


def unchanged_stat(doc: Mapping[str, Any]) -> tuple[int, float] | None:
    """(size, mtime) of the report's source when it is still the file the report describes: a regular file of
    the probed size, last modified before the report was written; else None."""
    source = doc.get("source") or {}
    probe = source.get("probe") if isinstance(source.get("probe"), Mapping) else {}
    created = _epoch(doc.get("created"))
    try:
        st = os.stat(str(source.get("path")), follow_symlinks=False)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode) or created is None or probe.get("size_bytes") != st.st_size \
            or st.st_mtime > created + CREATED_RESOLUTION_S:
        return None
    return st.st_size, st.st_mtime


def _read(report: Path, output: Path) -> Mapping[str, Any] | None:
    try:
        doc = json.loads(read_input(report, InputKind.REPORT, root=output))
    except (OSError, ValueError, FlickerdError):
        return None
    return doc if isinstance(doc, dict) and doc.get("kind") == "flickerd.report" else None


def collect(folders: Sequence[tuple[str, Path]]) -> tuple[list[dict[str, Any]], Rebuilt]:
    """The rows the reports of ``folders`` (name, output folder) stand for, in insertion order, and the tally.

    One row per job id: a job retried after a quarantine has two reports; the newer one is how it ended.
    """
    by_id: dict[int, dict[str, Any]] = {}
    loose: list[dict[str, Any]] = []  # reports of ``flickerd fix`` (no job id)
    read, without_hash, unreadable, missing = 0, [], [], []
    for name, output in folders:
        output = Path(output)
        if not output.is_dir():
            missing.append(str(output))
            continue
        for report in reports_in(output):
            doc = _read(report, output)
            if doc is None:
                unreadable.append(str(report))
                continue
            read += 1
            got = row(doc, name, report)
            if got is not None and (known := unchanged_stat(doc)) is not None:
                got["size"], got["mtime"] = known
            if got is None:
                without_hash.append(str(report))
            elif "id" not in got:
                loose.append(got)
            elif got["id"] not in by_id or (got["created_at"], got["report_path"]) > (
                    by_id[got["id"]]["created_at"], by_id[got["id"]]["report_path"]):
                by_id[got["id"]] = got
    for got in by_id.values():
        original = by_id.get(got["duplicate_of"]) if got["duplicate_of"] is not None else None
        if got["duplicate_of"] is not None and original is None:
            got["duplicate_of"] = None  # its original's report is gone: it stands alone
        elif original is not None:
            got["route"] = got["route"] or original["route"]
    rows = [by_id[i] for i in sorted(by_id)] + loose
    tally = Rebuilt(len(rows), dict(Counter(r["state"] for r in rows)), read, tuple(without_hash),
                    tuple(unreadable), tuple(missing))
    return rows, tally


def rebuild(journal: Journal, folders: Sequence[tuple[str, Path]]) -> Rebuilt:
    """Write the rows the reports of ``folders`` stand for into ``journal``, in one transaction; rows the
    journal has already (same source, same content) are left as they are."""
    rows, tally = collect(folders)
    written = journal.merge(rows)
    return dataclasses.replace(tally, jobs=len(written), states=dict(Counter(r["state"] for r in written)))

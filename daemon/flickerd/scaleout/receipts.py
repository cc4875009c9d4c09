"""Publish receipts: what a job published, kept on shared storage until the daemon has it.

A Ray task writes its job's receipt right after publishing and before returning. If the
result never reaches the journal (the daemon died, or Ray re-ran a task whose node was lost
after it had published), the next attempt finds the receipt and hands back the recorded
``Result`` instead of processing and publishing a second time. The executor removes the
receipt once the daemon has the result, so a later ``flickerd retry`` processes afresh.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from flickerd.service import publish as pub
from flickerd.service.journal import JobState
from flickerd.service.worker import Result

RECEIPTS_DIR = "receipts"


def receipt_path(root: str | os.PathLike, job_id: int) -> Path:
    return Path(root) / RECEIPTS_DIR / f"{job_id}.json"


def write(root: str | os.PathLike, job_id: int, sha256: str | None, result: Result) -> Path:
    """Record ``result`` for this job and content, atomically (the publish path's own rules)."""
    data = dataclasses.asdict(result)
    data["state"] = result.state.value
    payload = {"job_id": job_id, "sha256": sha256, "result": data}
    return pub.publish_bytes(json.dumps(payload).encode() + b"\n", receipt_path(root, job_id))


def read(root: str | os.PathLike, job_id: int, sha256: str | None) -> Result | None:
    """The recorded result for this job and content, or None (absent, unreadable, other content)."""
    try:
        with open(receipt_path(root, job_id), encoding="utf-8") as f:
            payload = json.load(f)
        if payload.get("job_id") != job_id or payload.get("sha256") != sha256:
            return None
        data = dict(payload["result"])
        data["state"] = JobState(data["state"])
        return Result(**data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove(root: str | os.PathLike, job_id: int) -> None:
    try:
        os.unlink(receipt_path(root, job_id))
    except FileNotFoundError:
        pass

"""A stand-in for ``process_file`` with the same signature: copies the source as the "fix".

It leaves a trace next to the source (``NAME.calls``, one line per run, with its pid and GPU
flag) and, while ``NAME.hold`` exists, keeps reporting progress instead of finishing, so a
test can kill the node that runs it mid-way.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

HOLD_MAX_S = 120.0


@dataclass(frozen=True)
class FakeDecision:
    route: str = "copy"


@dataclass(frozen=True)
class FakeOutcome:
    status: str
    output: str | None
    reports: tuple = ()
    decision: FakeDecision = field(default_factory=FakeDecision)
    reason: str = ""
    failure: str | None = None


def copy_processor(src, workdir, *, rules=(), diagnose_settings=None, acceptance=None, gpu=False, sidecar=False,
                   progress=None, **_):
    src = Path(src)
    with open(f"{src}.calls", "a", encoding="utf-8") as f:
        f.write(json.dumps({"pid": os.getpid(), "gpu": gpu,
                            "cuda_visible": os.environ.get("CUDA_VISIBLE_DEVICES")}) + "\n")
    hold = Path(f"{src}.hold")
    deadline = time.monotonic() + HOLD_MAX_S
    fraction = 0.0
    while hold.exists() and time.monotonic() < deadline:
        fraction = min(0.9, fraction + 0.01)
        if progress is not None:
            progress(fraction)
        time.sleep(0.1)
    out = Path(workdir) / f"{src.stem}.fixed{src.suffix}"
    shutil.copyfile(src, out)
    report = Path(workdir) / f"{src.stem}.report.json"
    from flickerd.report import json_report

    report.write_bytes(json_report.dumps(json_report.note(status="done", source=str(src), reason="",
                                                          notes=[f"copied by pid {os.getpid()}"])))
    if progress is not None:
        progress(1.0)
    return FakeOutcome("done", str(out), (str(report),))


def calls(src: str | os.PathLike) -> list[dict]:
    path = Path(f"{src}.calls")
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

"""``flickerd status``: queue, running jobs with progress and ETA, recent jobs — read from the journal."""

from __future__ import annotations

import argparse
import json
import sys
import time

from flickerd.errors import FlickerdError
from flickerd.eta import remaining_s
from flickerd.service.journal import Job, Journal, JobState
from flickerd.service.options import add_config_arguments, state_dir

NAME = "status"
HELP = "Show the queue, running jobs (progress, ETA) and recent jobs from the daemon's journal."
RECENT = 15


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("-n", "--recent", type=int, default=RECENT, metavar="N", help=f"recent jobs shown ({RECENT})")


def eta_s(job: Job, now: float, mean_s: float | None) -> float | None:
    """Seconds left: from the job's progress, the share of its estimated time that has passed
    (``flickerd.eta``: each stage's measured speed); before any, the recent mean duration."""
    if job.started_at is None:
        return None
    elapsed = max(0.0, now - job.started_at)
    if job.progress > 0.0:
        return remaining_s(elapsed, job.progress)
    if mean_s is not None:
        return max(0.0, mean_s - elapsed)
    return None


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "?"
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


OUTCOME_WORDS = {"done": "fixed", "report_only": "report only", "needs_attention": "needs attention"}


def _count(state: str, n: int, outcomes: dict[str, int]) -> str:
    """``done 21 (report only 15, fixed 5, needs attention 1)``: state done holds every job that
    ended as it should, published or not; "done 21" read as 21 fixes."""
    if state != "done" or not n or list(outcomes) in ([], ["done"]):
        return f"{state} {n}"
    return f"{state} {n} (" + ", ".join(f"{OUTCOME_WORDS.get(o, o)} {k}" for o, k in outcomes.items()) + ")"


def snapshot(journal: Journal, recent: int = RECENT) -> dict:
    now = time.time()
    mean_s = journal.mean_seconds()
    running = journal.by_state(JobState.RUNNING, limit=100)
    return {
        "counts": journal.counts(),
        "done_outcomes": journal.done_outcomes(),
        "running": [{**j.to_dict(), "eta_s": eta_s(j, now, mean_s)} for j in running],
        "pending": [j.to_dict() for j in journal.next_pending(20)],
        "recent": [j.to_dict() for j in journal.recent(recent, queued=False)],
    }


def main(args: argparse.Namespace) -> int:
    try:
        journal = Journal.in_state_dir(state_dir(args), readonly=True)
        snap = snapshot(journal, args.recent)
    except FlickerdError as exc:
        print(f"flickerd: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(snap, indent=2))
        return 0
    counts = snap["counts"]
    print("jobs: " + ", ".join(_count(k, v, snap["done_outcomes"]) for k, v in counts.items()
                               if v or k in ("pending", "running")))
    if snap["running"]:
        print("\nrunning:")
        print(_table([[j["id"], f"{j['progress'] * 100:.0f}%", _fmt_s(j["eta_s"]), j["attempts"], j["folder"], j["path"]]
                      for j in snap["running"]], ["JOB", "DONE", "ETA", "TRY", "FOLDER", "FILE"]))
    if snap["pending"]:
        print(f"\nqueue (first {len(snap['pending'])} of {counts['pending']}):")
        print(_table([[j["id"], j["priority"], j["folder"], j["path"]] for j in snap["pending"]],
                     ["JOB", "PRIO", "FOLDER", "FILE"]))
    if snap["recent"]:
        print("\nrecent:")
        print(_table([[j["id"], j["state"], j["outcome"] or "", j["route"] or "", j["attempts"],
                       j["reason"] or "", j["path"]] for j in snap["recent"]],
                     ["JOB", "STATE", "OUTCOME", "ROUTE", "TRY", "REASON", "FILE"]))
    return 0

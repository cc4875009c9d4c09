"""What ``flickerd approve`` and ``flickerd reject`` share: deciding on a candidate waiting under ``OUTPUT/_review/``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from flickerd.errors import FlickerdError, JournalError
from flickerd.service.journal import Journal, JobState
from flickerd.report.placement import Key, Placement, placed_bytes
from flickerd.service.publish import move_published, open_folder, publish_bytes
from flickerd.service.worker import FAILED_DIR, REPORT_KINDS, REVIEW_DIR
from flickerd.service.options import add_config_arguments, state_dir

def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("job", type=int, metavar="JOB", help="the job id (see `flickerd status`)")


def moved(path: Path, to_sub: str | None) -> Path:
    """``OUT/_review/a/x.mp4`` → ``OUT/a/x.mp4`` (approve) or ``OUT/_failed/a/x.mp4`` (reject)."""
    parts = list(path.parts)
    i = len(parts) - 1 - parts[::-1].index(REVIEW_DIR)
    new = parts[:i] + ([to_sub] if to_sub else []) + parts[i + 1:]
    return Path(*new)


def output_root(path: Path) -> Path:
    """``OUT/_review/a/x.mp4`` → ``OUT``: the folder below which no link is followed."""
    parts = list(path.parts)
    return Path(*parts[: len(parts) - 1 - parts[::-1].index(REVIEW_DIR)])


def decide(journal: Journal, job_id: int, approve: bool) -> list[Path]:
    job = journal.get(job_id)
    if job is None:
        raise JournalError(f"job {job_id} does not exist; see `flickerd status`.")
    if job.state is not JobState.REVIEW:
        raise JournalError(f"job {job_id} is {job.state.value}, not waiting for review.")
    anchor = Path(job.output_path or job.report_path or "")
    if REVIEW_DIR not in anchor.parts:
        raise JournalError(f"job {job_id} has no files under {REVIEW_DIR}/; retry it with `flickerd retry {job_id}`.")
    sub = None if approve else FAILED_DIR
    report = Path(job.report_path or "")
    # the published stem: the source's, or the full name when another input had claimed it
    stem = report.name[: -len(".report.json")] if report.name.endswith(".report.json") else Path(job.path).stem
    files = [anchor] if job.output_path else []
    files += [anchor.with_name(stem + kind) for kind in REPORT_KINDS]
    output = str(moved(Path(job.output_path), sub)) if job.output_path and approve else None
    root = output_root(anchor)
    os.close(open_folder(anchor.parent, root))  # _review/ swapped for a link: refused before anything is read
    done = []
    for f in files:
        if not f.exists():
            continue
        if f.name.endswith(".report.json"):
            done.append(_move_report(f, moved(f, sub), job, output, approve, root))
        else:
            done.append(move_published(f, moved(f, sub), root=root))
    report = moved(Path(job.report_path), sub) if job.report_path else None
    journal.transition(
        job_id, JobState.DONE if approve else JobState.REJECTED, expect=[JobState.REVIEW],
        output_path=output,
        report_path=str(report) if report else None,
        outcome="done" if approve else "rejected", reason=None if approve else "rejected_in_review",
    )
    return done


def _move_report(src: Path, dst: Path, job, output: str | None, approve: bool, root: Path) -> Path:
    """The report goes along, saying the new status and where the video is now (nowhere, when rejected)."""
    data = placed_bytes(src, Placement(
        output, Key(job.sha256, job.rules_hash, job.route_versions), job.id, job.attempts,
        status="done" if approve else "rejected",
        reason="approved in review." if approve else "rejected in review: the candidate was not published."))
    if data is None:  # not a report flickerd wrote: move it as it is
        return move_published(src, dst, root=root)
    publish_bytes(data, dst, root=root)
    src.unlink()
    return dst


def main(args: argparse.Namespace, *, approve: bool) -> int:
    try:
        files = decide(Journal.in_state_dir(state_dir(args)), args.job, approve)
    except (FlickerdError, OSError) as exc:
        print(f"flickerd: {exc}", file=sys.stderr)
        return 1
    print(f"job {args.job} {'approved' if approve else 'rejected'}; moved {len(files)} file(s)")
    return 0

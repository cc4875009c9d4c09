"""``flickerd retry``: put finished jobs back in the queue (the running daemon picks them up)."""

from __future__ import annotations

import argparse
import sys

from flickerd.errors import FlickerdError, JournalError
from flickerd.service.journal import Journal, JobState
from flickerd.service.options import add_config_arguments, state_dir

NAME = "retry"
HELP = "Queue a job again: one JOB, every failed/quarantined one (--failed), or every finished one (--all)."

FAILED = (JobState.FAILED, JobState.QUARANTINED, JobState.REJECTED, JobState.CANCELLED)
FINISHED = (*FAILED, JobState.DONE, JobState.REVIEW)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("job", nargs="?", type=int, metavar="JOB", help="the job id (see `flickerd status`)")
    which.add_argument("--failed", action="store_true", help="every failed, quarantined, rejected or cancelled job")
    which.add_argument("--all", action="store_true", help="every finished job (e.g. after editing the rules)")


def main(args: argparse.Namespace) -> int:
    try:
        journal = Journal.in_state_dir(state_dir(args))
        if args.job is not None:
            job = journal.get(args.job)
            if job is None:
                raise JournalError(f"job {args.job} does not exist; see `flickerd status`.")
            if job.state not in FINISHED:
                raise JournalError(f"job {args.job} is {job.state.value}; only finished jobs can be retried.")
            ids = [job.id]
        else:
            ids = [j.id for j in journal.by_state(*(FAILED if args.failed else FINISHED), limit=10**9)]
        for job_id in ids:
            journal.transition(job_id, JobState.PENDING, expect=FINISHED, attempts=0, progress=0.0,
                               error=None, reason=None, started_at=None, finished_at=None)
    except FlickerdError as exc:
        print(f"flickerd: {exc}", file=sys.stderr)
        return 1
    print(f"queued {len(ids)} job(s) again")
    return 0

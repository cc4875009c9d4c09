"""``flickerd cancel``: drop a queued job, or ask the daemon to stop a running one."""

from __future__ import annotations

import argparse
import sys

from flickerd.errors import FlickerdError, JournalError
from flickerd.service.journal import Journal, JobState
from flickerd.service.options import add_config_arguments, state_dir

NAME = "cancel"
HELP = "Cancel a pending job, or ask the daemon to stop a running one."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("job", type=int, metavar="JOB", help="the job id (see `flickerd status`)")


def main(args: argparse.Namespace) -> int:
    try:
        journal = Journal.in_state_dir(state_dir(args))
        job = journal.get(args.job)
        if job is None:
            raise JournalError(f"job {args.job} does not exist; see `flickerd status`.")
        if job.state is JobState.PENDING:
            journal.transition(job.id, JobState.CANCELLED, expect=[JobState.PENDING], outcome="cancelled",
                               reason="cancelled")
            print(f"job {job.id} cancelled")
        elif job.state is JobState.RUNNING:
            journal.update(job.id, cancel_requested=1)
            print(f"job {job.id} is running; the daemon will stop it within a second or two")
        else:
            raise JournalError(f"job {job.id} is already {job.state.value}; nothing to cancel.")
    except FlickerdError as exc:
        print(f"flickerd: {exc}", file=sys.stderr)
        return 1
    return 0

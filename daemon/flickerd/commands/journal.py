"""``flickerd journal recover``: set a broken journal aside and rebuild it from the published reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flickerd.errors import FlickerdError
from flickerd.service.options import add_config_arguments, load_config

NAME = "journal"
HELP = "Repair the daemon's journal: `flickerd journal recover` rebuilds a lost or broken one from the reports."
SHOWN = 20  # reports named one per line; more are counted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    recover = sub.add_parser(
        "recover", help="move a broken journal aside and rebuild the finished jobs from the reports",
        description="Stop the daemon first. A broken journal is renamed to journal.sqlite3.broken-TIME; a new one "
                    "(also for a missing one) is built from the reports in every configured output folder, so "
                    "nothing already published is processed again. A healthy journal is left alone.")
    add_config_arguments(recover)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _names(title: str, paths: tuple[str, ...]) -> list[str]:
    if not paths:
        return []
    return [title, *(f"  {p}" for p in paths[:SHOWN])] + ([f"  ... and {len(paths) - SHOWN} more"]
                                                           if len(paths) > SHOWN else [])


def main(args: argparse.Namespace) -> int:
    from flickerd.service.journal_recovery import recover

    try:
        cfg = load_config(args)
        done = recover(Path(cfg.state_dir), [(f.name, Path(f.output)) for f in cfg.folders])
    except FlickerdError as exc:
        print(f"flickerd: {exc}", file=sys.stderr)
        return 1
    if done.rebuilt is None:
        print(f"the journal {done.journal} is healthy ({_plural(done.jobs_before, 'job')}); nothing to recover.")
        return 0
    r = done.rebuilt
    lines = [f"moved the broken journal aside: {done.set_aside}" if done.set_aside else f"no journal at {done.journal}"]
    states = ", ".join(f"{n} {state}" for state, n in sorted(r.states.items()))
    lines.append(f"rebuilt {_plural(r.jobs, 'job')} from {_plural(r.reports, 'report')} in "
                 f"{_plural(len(cfg.folders), 'output folder')}" + (f": {states}" if states else ""))
    lines += _names(f"{_plural(len(r.without_hash), 'report')} without a content hash (written before reports "
                    "carried key.sha256) cannot be used; their sources will be processed again:", r.without_hash)
    lines += _names(f"{_plural(len(r.unreadable), 'file')} named *.report.json could not be read as a report:",
                    r.unreadable)
    lines += _names("output folders that do not exist (mount them and run this again if they hold reports):",
                    r.missing)
    print("\n".join(lines))
    return 0

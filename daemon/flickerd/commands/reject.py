"""``flickerd reject JOB``: refuse a candidate waiting under ``OUTPUT/_review/``."""

from __future__ import annotations

import argparse

from flickerd.commands import review

NAME = "reject"
HELP = ("Refuse a candidate waiting for review: move its files from OUTPUT/_review/ to OUTPUT/_failed/; "
        "nothing is published (the job ends rejected).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    review.add_arguments(parser)


def main(args: argparse.Namespace) -> int:
    return review.main(args, approve=False)

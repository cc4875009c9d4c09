"""``flickerd approve JOB``: publish a candidate waiting under ``OUTPUT/_review/``."""

from __future__ import annotations

import argparse

from flickerd.commands import review

NAME = "approve"
HELP = ("Publish a candidate waiting for review: move it and its reports from OUTPUT/_review/ into the "
        "output folder (the job ends done).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    review.add_arguments(parser)


def main(args: argparse.Namespace) -> int:
    return review.main(args, approve=True)

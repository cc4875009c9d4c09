"""The ``flickerd`` command: one sub-command per module in ``flickerd.commands``.

Each command module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``main(args) -> int``.
Modules are imported lazily so ``flickerd diagnose`` never pays for torch or the daemon.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from flickerd import __version__

# sub-command name -> module under flickerd.commands
COMMANDS: dict[str, str] = {
    "run": "run",
    "status": "status",
    "retry": "retry",
    "cancel": "cancel",
    "approve": "approve",
    "reject": "reject",
    "diagnose": "diagnose",
    "sample": "sample",
    "fix": "fix",
    "check-config": "check_config",
    "journal": "journal",
}


def _build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with ``only`` just that sub-command (its module alone is imported)."""
    parser = argparse.ArgumentParser(
        prog="flickerd",
        description="Diagnose and repair temporal flicker in AI-generated video.",
    )
    parser.add_argument("--version", action="version", version=f"flickerd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        if only is not None and name != only:
            continue
        module = importlib.import_module(f"flickerd.commands.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_main=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    first = (sys.argv[1:] if argv is None else argv)[:1]
    # a named sub-command needs only its own module: `flickerd diagnose` starts without the daemon's
    parser = _build_parser(first[0] if first and first[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "_main", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args._main(args) or 0)
    except KeyboardInterrupt:
        print("flickerd: interrupted", file=sys.stderr)
        return 130


def console() -> None:
    """The installed ``flickerd`` script: ``main``, then exit.

    Commands that set ``FAST_EXIT`` (they leave no thread, open file or pending write
    behind) skip the interpreter's teardown: unloading numpy, OpenCV and PyAV takes
    longer than a short diagnosis' last frame.
    """
    argv = sys.argv[1:]
    try:
        code = main(argv)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (``flickerd diagnose --json ... | head``): not an error to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    command = argv[0] if argv else None
    module = COMMANDS.get(command or "")
    if module and getattr(sys.modules.get(f"flickerd.commands.{module}"), "FAST_EXIT", False):
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)

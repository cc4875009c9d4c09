"""``flickerd check-config [FILE] [--unit-paths]``: validate a config file, or print the
systemd path lines its folders need (and a longer stop timeout when its shutdown needs one).

Exit status: 0 valid, 1 invalid (every error printed with its key path or line).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from flickerd.service.shutdown import stop_budget_s

NAME = "check-config"
HELP = "Validate a config file; print each error with its key path (or line, for TOML syntax)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", metavar="FILE", help="the config file (default: the embedded default)")
    parser.add_argument(
        "--unit-paths",
        action="store_true",
        help="print a systemd drop-in with the ReadOnlyPaths=/ReadWritePaths= lines the folders need",
    )


def main(args: argparse.Namespace) -> int:
    from flickerd import config as cfgmod
    from flickerd.errors import ConfigError

    label = args.file or "embedded default"
    try:
        config = cfgmod.load(args.file) if args.file else cfgmod.default()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    ok = f"{label}: OK ({_count(len(config.folders), 'folder')}, {_count(rule_count(config), 'rule')})"
    if not args.unit_paths:
        print(ok)
        return 0
    print(ok, file=sys.stderr)  # stdout stays a clean drop-in file
    print("\n".join(unit_path_lines(config, exists=os.path.exists)))
    return 0


def rule_count(config) -> int:
    """Rules in effect: the shared table once (if any folder uses it) plus each folder's own."""
    from flickerd.config_rules import rules_hash

    tables: dict[str, int] = {}
    shared = rules_hash(config.rules)
    if not config.folders or any(f.rules_hash == shared for f in config.folders):
        tables[shared] = len(config.rules)
    for f in config.folders:
        tables.setdefault(f.rules_hash, len(f.rules))
    return sum(tables.values())


UNIT_TIMEOUT_STOP_S = 60  # TimeoutStopSec= of systemd/flickerd.service
STOP_MARGIN_S = 15


def unit_path_lines(config, *, exists=lambda path: True) -> list[str]:
    """A systemd drop-in (``systemctl edit flickerd``) granting exactly the folders' paths.

    Inputs are read-only (writable when ``on_success = "move"`` takes files out of them) and
    may be missing at start (an unmounted share: the ``-`` prefix); outputs, archives and
    the state dir must be writable and must exist, so missing ones are listed to create.
    """
    read_only: list[Path] = []
    read_write: list[Path] = []
    for f in config.folders:
        (read_write if f.on_success == "move" else read_only).append(f.path)
    for f in config.folders:
        read_write.append(f.output)
        if f.archive is not None:
            read_write.append(f.archive)
    read_write.append(config.state_dir)
    read_write = _unique(read_write)
    read_only = [p for p in _unique(read_only) if p not in read_write]
    lines = [
        f"# systemd drop-in for flickerd.service from {config.source} (flickerd check-config --unit-paths)",
        "[Service]",
    ]
    lines += [f"ReadOnlyPaths={systemd_path(p, '-')}" for p in read_only]
    lines += [f"ReadWritePaths={systemd_path(p)}" for p in read_write]
    budget = stop_budget_s(float(config.shutdown_timeout_s))
    if budget > UNIT_TIMEOUT_STOP_S:  # systemd would SIGKILL a stop that is still finishing a job
        lines.append(f"# shutdown_timeout_s = {config.shutdown_timeout_s:g}: a stop can take {budget:g} s")
        lines.append(f"TimeoutStopSec={math.ceil(budget) + STOP_MARGIN_S}")
    missing = [p for p in read_write if not exists(p)]
    if missing:
        lines.append("# Create these before starting the service (systemd refuses a missing ReadWritePaths= path):")
        lines += [f"#   mkdir -p {_shell_quote(p)}" for p in missing]
    return lines


def systemd_path(path: Path, prefix: str = "") -> str:
    """One path as a systemd unit-file word: ``%`` doubled, quoted and C-escaped if needed."""
    text = prefix + str(path).replace("%", "%%")
    if not any(c.isspace() or c in '"\'\\' or not c.isprintable() for c in text):
        return text
    escaped = []
    for c in text:
        if c in '"\\':
            escaped.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            escaped.append(f"\\x{ord(c):02x}")
        else:
            escaped.append(c)
    return '"' + "".join(escaped) + '"'


def _shell_quote(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))


def _unique(paths: Iterable[Path]) -> list[Path]:
    seen: dict[Path, None] = {}
    for p in paths:
        seen.setdefault(p, None)
    return list(seen)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

"""Command-line options → a ``Config`` (the one place the service commands resolve settings).

``-c FILE`` loads that file; ``--watch DIR ...`` swaps its folders for DIRs (quick start);
neither → the embedded default. ``--state-dir`` and ``--metrics-address`` override the file.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any


def add_config_arguments(parser: argparse.ArgumentParser, *, state_dir: bool = True) -> None:
    parser.add_argument("-c", "--config", metavar="FILE", help="the config file (default: the embedded default)")
    if state_dir:
        parser.add_argument("--state-dir", metavar="DIR", help="the journal and workdirs (overrides the config)")


def load_config(args: argparse.Namespace) -> Any:
    """The effective config; raises ``ConfigError`` with a one-line message."""
    from flickerd import config as cfgmod

    cfg = cfgmod.load(args.config) if getattr(args, "config", None) else cfgmod.default()
    watch = [d for group in (getattr(args, "watch", None) or []) for d in group]
    if watch:
        cfg = cfgmod.with_watch_dirs(cfg, watch)
    changes: dict[str, Any] = {}
    if getattr(args, "state_dir", None):
        changes["state_dir"] = Path(args.state_dir).absolute()
    if getattr(args, "metrics_address", None) is not None:
        changes["metrics_address"] = args.metrics_address
    return dataclasses.replace(cfg, **changes) if changes else cfg


def creates_folders(args: argparse.Namespace) -> bool:
    """Quick starts (embedded default, ``--watch``) create their folders; a config file's must exist
    (a missing one may be an unmounted share: the daemon pauses it instead of creating it)."""
    return not getattr(args, "config", None) or bool(getattr(args, "watch", None))


def state_dir(args: argparse.Namespace) -> Path:
    if getattr(args, "state_dir", None):
        return Path(args.state_dir).absolute()
    return Path(load_config(args).state_dir)

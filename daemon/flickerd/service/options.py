"""Command-line options → a ``Config`` (the one place the service commands resolve settings).

``-c FILE`` loads that file; ``--watch DIR ...`` swaps its folders for DIRs (quick start);
neither → the embedded default. ``--state-dir`` and ``--metrics-address`` override the file.
Without ``-c``, ``--watch`` keeps its state in the first folder's output
(``DIR.fixed/.flickerd-state``), never in the current directory.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from flickerd.errors import ConfigError

WATCH_STATE_DIR = ".flickerd-state"  # --watch without -c: DIR.fixed/.flickerd-state of the first DIR


def add_config_arguments(parser: argparse.ArgumentParser, *, state_dir: bool = True) -> None:
    parser.add_argument("-c", "--config", metavar="FILE", help="the config file (default: the embedded default)")
    if state_dir:
        parser.add_argument("--state-dir", metavar="DIR", help="the journal and workdirs (overrides the config)")


def load_config(args: argparse.Namespace) -> Any:
    """The effective config; raises ``ConfigError`` with a one-line message."""
    from flickerd import config as cfgmod

    cfg = cfgmod.load(args.config) if getattr(args, "config", None) else cfgmod.default()
    watch = [d for group in (getattr(args, "watch", None) or []) for d in group]
    changes: dict[str, Any] = {}
    if watch:
        cfg = cfgmod.with_watch_dirs(cfg, watch)
        if not getattr(args, "config", None):  # the embedded default's ./hotfolder state is `make run`'s
            changes["state_dir"] = cfg.folders[0].output / WATCH_STATE_DIR
    if getattr(args, "state_dir", None):
        changes["state_dir"] = Path(args.state_dir).absolute()
    if getattr(args, "metrics_address", None) is not None:
        changes["metrics_address"] = args.metrics_address
    return dataclasses.replace(cfg, **changes) if changes else cfg


def creates_folders(args: argparse.Namespace) -> bool:
    """The embedded default creates its folders, ``--watch`` only with ``--create``; a config file's
    must exist (a missing one may be an unmounted share: the daemon pauses it instead of creating it)."""
    if getattr(args, "watch", None):
        return bool(getattr(args, "create", False))
    return not getattr(args, "config", None)


def check_watch_dirs(args: argparse.Namespace, cfg: Any) -> None:
    """``--watch`` names folders to watch now: a missing one is a typo until ``--create`` says otherwise."""
    if getattr(args, "create", False) and not getattr(args, "watch", None):
        raise ConfigError("--create makes missing --watch folders; give the folders with --watch DIR.")
    if not getattr(args, "watch", None) or getattr(args, "create", False):
        return
    for f in cfg.folders:
        if not Path(f.path).is_dir():
            what = "is not a folder" if Path(f.path).exists() else "no such folder"
            raise ConfigError(f"--watch {f.path}: {what}; check the path, or add --create to make it.")


def state_dir(args: argparse.Namespace) -> Path:
    if getattr(args, "state_dir", None):
        return Path(args.state_dir).absolute()
    return Path(load_config(args).state_dir)

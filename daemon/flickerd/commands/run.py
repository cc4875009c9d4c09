"""``flickerd run``: the hot-folder daemon in the foreground, logging to stdout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flickerd.errors import FlickerdError, JournalCorrupt
from flickerd.service.options import add_config_arguments, check_watch_dirs, creates_folders, load_config

NAME = "run"
HELP = "Watch folders and fix every render dropped into them (foreground; logs to stdout)."
# an empty or damaged journal: restarting cannot help, `flickerd journal recover` can (the unit's
# RestartPreventExitStatus= names it)
EXIT_JOURNAL_BROKEN = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--watch", metavar="DIR", nargs="+", action="append",
                        help="watch DIR (it must exist) with the default rules, output to its sibling DIR.fixed "
                             "(no config needed; without -c the state is kept in DIR.fixed/.flickerd-state)")
    parser.add_argument("--create", action="store_true", help="create --watch folders that do not exist")
    parser.add_argument("--metrics-address", metavar="HOST:PORT",
                        help="serve Prometheus metrics here ('off' disables; port 0 picks a free one)")
    parser.add_argument("--once", action="store_true",
                        help="process what is in the folders now, then exit")


def _metrics(cfg):
    """The registry and its HTTP server; ``(None, None)`` when off."""
    address = str(cfg.metrics_address or "")
    if address.lower() in ("", "off", "none"):
        return None, None
    from prometheus_client import CollectorRegistry

    from flickerd.metrics import Metrics, serve
    from flickerd.rules import route_names

    routes = set().union(*(route_names(f.rules) for f in cfg.folders))
    metrics = Metrics(CollectorRegistry(), folders=[f.name for f in cfg.folders], routes=sorted(routes),
                      gpu_slots=int(cfg.gpu_slots))
    metrics.set_output_dirs({f.name: f.output for f in cfg.folders})
    return metrics, serve(metrics, address)


def main(args: argparse.Namespace) -> int:
    from flickerd.service.daemon import Daemon

    try:
        cfg = load_config(args)
        check_watch_dirs(args, cfg)  # before anything is created: a typo makes no folders
    except FlickerdError as exc:
        print(f"flickerd: {exc}", file=sys.stderr)
        return 2
    try:
        from flickerd.logs import configure
    except ImportError:
        pass
    else:
        configure(cfg.log_level)
    if creates_folders(args):
        for f in cfg.folders:
            Path(f.path).mkdir(parents=True, exist_ok=True)

    def reload():
        return load_config(args)

    server = None
    try:
        metrics, server = _metrics(cfg)
        daemon = Daemon(cfg, metrics=metrics, reload_config=reload, once=args.once)
        return daemon.run()
    except FlickerdError as exc:
        print(f"flickerd: {exc}", file=sys.stderr)
        return EXIT_JOURNAL_BROKEN if isinstance(exc, JournalCorrupt) else 2
    finally:
        if server is not None:
            server.shutdown()

"""Daemon idle CPU with 3 watched folders (target: < 1% of one core)."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench._daemon import cpu_seconds, rss_mib, start, stop, wait_log, write_config


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench daemon_idle")
    ap.add_argument("--seconds", type=float, default=30.0, help="idle time measured (after a 3 s warm-up)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cfg = write_config(root, ["a", "b", "c"], rescan_interval_s=10.0)
        proc = start(root, cfg)
        try:
            wait_log(root, "daemon_started")
            time.sleep(3.0)
            c0, t0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(args.seconds)
            c1, t1 = cpu_seconds(proc.pid), time.monotonic()
            rss = rss_mib(proc.pid)
        finally:
            code = stop(proc)
    pct = 100.0 * (c1 - c0) / (t1 - t0)
    print(f"idle CPU over {t1 - t0:.1f} s with 3 folders (rescan every 10 s): {pct:.2f}% of one core "
          f"(target < 1%); RSS {rss:.0f} MiB; exit code {code}")
    return 0 if pct < 1.0 and code == 0 else 1

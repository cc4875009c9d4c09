"""Time from a file settling to its job starting (target: < 1 s), over N clips dropped one by one."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench._daemon import make_clip, query, start, stop, wait_log, write_config


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench daemon_latency")
    ap.add_argument("-n", type=int, default=10, help="clips dropped, one after the other finished")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cfg = write_config(root, ["in"], settle_s=0.5)
        proc = start(root, cfg)
        try:
            wait_log(root, "daemon_started")
            for i in range(args.n):
                staged = make_clip(root / f"clip{i}.mp4", seed=i)
                staged.rename(root / "in" / staged.name)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not query(root, f"SELECT 1 FROM jobs WHERE id = {i + 1} AND "
                                                                      "state NOT IN ('pending', 'running')"):
                    time.sleep(0.05)
            got = query(root, "SELECT started_at - created_at FROM jobs WHERE started_at IS NOT NULL ORDER BY id")
        finally:
            stop(proc)
    lat = [r[0] for r in got]
    if len(lat) != args.n:
        print(f"only {len(lat)} of {args.n} jobs started")
        return 1
    print(f"settle → job start over {len(lat)} jobs: median {statistics.median(lat) * 1000:.0f} ms, "
          f"max {max(lat) * 1000:.0f} ms (target < 1000 ms)")
    return 0 if max(lat) < 1.0 else 1

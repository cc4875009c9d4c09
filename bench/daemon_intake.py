"""1,000 files dropped at once are all journaled, none lost (non-videos → quarantined with a reason)."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench._daemon import query, start, stop, wait_log, write_config


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench daemon_intake")
    ap.add_argument("-n", type=int, default=1000, help="files dropped at once")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cfg = write_config(root, ["in"], settle_s=0.2, settle_max_s=1.0)
        proc = start(root, cfg)
        try:
            wait_log(root, "daemon_started")
            t0 = time.monotonic()
            for i in range(args.n):
                (root / "in" / f"f{i:05d}.mp4").write_text(f"not a video {i}\n")
            deadline = t0 + 600
            while time.monotonic() < deadline:
                n = query(root, "SELECT COUNT(DISTINCT path) FROM jobs WHERE state = 'quarantined'")
                if n and n[0][0] >= args.n:
                    break
                time.sleep(0.5)
            elapsed = time.monotonic() - t0
            got = query(root, "SELECT COUNT(DISTINCT path), COUNT(*) FROM jobs")[0]
            reasons = query(root, "SELECT reason, COUNT(*) FROM jobs GROUP BY reason")
        finally:
            code = stop(proc)
    print(f"{args.n} files dropped: {got[0]} distinct paths journaled ({got[1]} rows) in {elapsed:.1f} s; "
          f"reasons {dict(reasons)}; exit code {code}")
    return 0 if got[0] == args.n == got[1] and code == 0 else 1

"""Daemon RSS and `flickerd status` time with 10,000 finished jobs in the journal."""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from bench._daemon import ENV, FLICKERD, rss_mib, start, stop, wait_log, write_config
from flickerd.service.journal import Journal


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench daemon_rss")
    ap.add_argument("-n", type=int, default=10_000, help="finished jobs put in the journal first")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cfg = write_config(root, ["in"])
        j = Journal.in_state_dir(root / "state")
        now = time.time()
        with j._tx() as db:  # bulk set-up in one transaction; the daemon's own writes are one per transition
            db.executemany(
                "INSERT INTO jobs (path, folder, sha256, size, mtime, state, outcome, route, attempts, created_at, "
                "started_at, finished_at, report_path) VALUES (?, 'in', ?, 1000, ?, 'done', 'done', 'rife', 1, ?, ?, ?, ?)",
                [(f"{root}/in/old{i:06d}.mp4", f"{i:064x}", now - i, now - i, now - i, now - i + 5,
                  f"{root}/in.fixed/old{i:06d}.report.json") for i in range(args.n)],
            )
        j.close()
        proc = start(root, cfg)
        try:
            wait_log(root, "daemon_started")
            time.sleep(2.0)
            rss = rss_mib(proc.pid)
            t0 = time.monotonic()
            st = subprocess.run([FLICKERD, "status", "-c", str(cfg)], capture_output=True, text=True, env=ENV)
            status_s = time.monotonic() - t0
        finally:
            code = stop(proc)
    print(f"{args.n} finished jobs: daemon RSS {rss:.0f} MiB after start; `flickerd status` {status_s * 1000:.0f} ms "
          f"(exit {st.returncode}); daemon exit code {code}")
    return 0 if st.returncode == 0 and code == 0 else 1

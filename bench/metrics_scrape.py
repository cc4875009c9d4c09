"""Metrics cost: /metrics scrape time and size, and the cost of one job's metric updates.

    python -m bench metrics_scrape [--routes N] [--folders N] [--scrapes N]
"""

from __future__ import annotations

import argparse
import statistics
import time
import urllib.request

from prometheus_client import CollectorRegistry

from flickerd.metrics import BASE_ROUTES, Metrics, serve


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench metrics_scrape")
    parser.add_argument("--routes", type=int, default=6, help="chains beyond the 5 base routes")
    parser.add_argument("--folders", type=int, default=4)
    parser.add_argument("--scrapes", type=int, default=50)
    args = parser.parse_args(argv)

    chains = [f"{BASE_ROUTES[1 + i % 4]}+{BASE_ROUTES[1 + (i + 1) % 4]}#{i}" for i in range(args.routes)]
    folders = [f"folder{i}" for i in range(args.folders)]
    m = Metrics(CollectorRegistry(), folders=folders, routes=chains)
    m.set_queue_source(lambda: {"pending": 3, "running": 1})

    n = 10_000
    t0 = time.perf_counter()
    for i in range(n):
        route = chains[i % len(chains)] if chains else "ffmpeg"
        m.file_seen(folders[i % len(folders)])
        m.job_launched()
        m.job_started(route)
        m.verdict("mixed")
        m.flicker(3.0, 1.0)
        m.job_finished(route, "done", 12.0, 1.0)
    per_job_us = (time.perf_counter() - t0) / n * 1e6

    server = serve(m, "127.0.0.1:0")
    try:
        times, size = [], 0
        for _ in range(args.scrapes):
            t0 = time.perf_counter()
            with urllib.request.urlopen(f"http://{server.address}/metrics", timeout=10) as r:
                body = r.read()
            times.append(time.perf_counter() - t0)
            size = len(body)
    finally:
        server.shutdown()
    series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    print(f"routes={len(BASE_ROUTES) + len(chains)} folders={len(folders)} series={series} bytes={size}")
    print(f"scrape median={statistics.median(times) * 1e3:.1f} ms  max={max(times) * 1e3:.1f} ms")
    print(f"metric updates per job={per_job_us:.1f} µs")
    return 0

"""Ray executor overhead vs the local one: a batch of small clips through `flickerd run --once`.

Starts a one-node loopback Ray cluster (``--num-cpus`` = ``--workers``, started and stopped
here, its start-up timed separately), then for each executor runs the real daemon in a fresh
state dir over the same ``--clips`` tiny clips (real diagnosis, normalize route, verification,
reports), alternating local and ray ``--repeats`` times. Also times ``--jobs`` no-op jobs
through each executor alone (scheduling cost without any processing). Prints medians.

    python -m bench ray_overhead [--clips 8] [--frames 16] [--size 96x64] [--workers 2] [--repeats 2] [--jobs 20]
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """
[daemon]
state_dir = "state-{tag}"
metrics_address = "127.0.0.1:0"
cpu_workers = {workers}
gpu_slots = 0
executor = "{executor}"
{address}
rescan_interval_s = 600

[[folders]]
name = "in"
path = "in"
output = "out-{tag}"
settle_s = 0.2

[[folders.rules]]
name = "all"
steps = ["normalize"]
"""


def _clips(folder: Path, n: int, frames: int, width: int, height: int) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from tests.service.helpers import make_clip

    for i in range(n):
        make_clip(folder / f"c{i:03d}.mp4", frames=frames, width=width, height=height, flicker=10, seed=i)


def _daemon_run(root: Path, executor: str, address: str, workers: int, tag: str) -> tuple[float, int]:
    cfg = root / f"{tag}.toml"
    cfg.write_text(CONFIG.format(tag=tag, workers=workers, executor=executor,
                                 address=f'ray_address = "{address}"' if executor == "ray" else ""))
    flickerd = str(Path(sys.executable).with_name("flickerd"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t = time.monotonic()
    proc = subprocess.run([flickerd, "run", "--once", "-c", str(cfg)], cwd=root, env=env, capture_output=True,
                          text=True, timeout=1800)
    wall = time.monotonic() - t
    if proc.returncode != 0:
        raise RuntimeError(f"flickerd run failed ({executor}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    done = sum(1 for p in (root / f"out-{tag}").glob("*.report.json"))
    return wall, done


def _noop_jobs(root: Path, executor, n: int) -> float:
    """Seconds from the first submit to the last result for ``n`` jobs that do almost nothing."""
    from flickerd.service.journal import Journal
    from flickerd.service.worker import Result
    from tests.scaleout.conftest import make_task

    journal = Journal.in_state_dir(root / "state")
    events: queue.Queue = queue.Queue()
    executor.start(events.put)
    tasks = [make_task(root, journal, f"n{i}.bin") for i in range(n)]
    t = time.monotonic()
    for task in tasks:
        executor.submit(task)
    left = {task.job.id for task in tasks}
    while left:
        item = events.get(timeout=120)
        if isinstance(item, Result):
            left.discard(item.job_id)
    wall = time.monotonic() - t
    executor.shutdown()
    journal.close()
    return wall


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench ray_overhead")
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", default="96x64")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=20)
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    sys.path.insert(0, str(Path(__file__).parents[1]))
    import ray

    from flickerd.scaleout.local import ThreadExecutor
    from flickerd.scaleout.ray_executor import RayExecutor
    from tests.scaleout.cluster import Cluster
    from tests.scaleout.fakes import copy_processor

    root = Path(tempfile.mkdtemp(prefix="flickerd-raybench-"))
    cluster = Cluster()
    try:
        _clips(root / "in", args.clips, args.frames, width, height)
        t = time.monotonic()
        cluster.start_head(num_gpus=0)
        if args.workers > 1:  # the head has one CPU; the rest join as one more node
            cluster.add_node("node_b", num_cpus=args.workers - 1)
        start_s = time.monotonic() - t
        walls: dict[str, list[float]] = {"local": [], "ray": []}
        for r in range(args.repeats):
            for executor in ("local", "ray"):
                tag = f"{executor}{r}"
                wall, done = _daemon_run(root, executor, cluster.address, args.workers, tag)
                if done != args.clips:
                    raise RuntimeError(f"{executor}: {done} of {args.clips} clips have a report")
                walls[executor].append(wall)
                shutil.rmtree(root / f"state-{tag}", ignore_errors=True)
        local, remote = statistics.median(walls["local"]), statistics.median(walls["ray"])
        print(f"cluster start (head + {'1 node' if args.workers > 1 else 'no nodes'}): {start_s:.1f} s")
        print(f"{args.clips} clips {width}x{height}x{args.frames}, {args.workers} workers, "
              f"median of {args.repeats} (whole `flickerd run --once`):")
        print(f"  local {local:.2f} s ({local / args.clips:.2f} s/clip)   ray {remote:.2f} s "
              f"({remote / args.clips:.2f} s/clip)   overhead {remote - local:+.2f} s ({(remote / local - 1) * 100:+.0f} %)")
        ray.init(address=cluster.address, log_to_driver=False, logging_level="warning", configure_logging=False)
        ray.cloudpickle.register_pickle_by_value(sys.modules["tests.scaleout.fakes"])
        noop_local = _noop_jobs(root / "noop-local", ThreadExecutor(processor=copy_processor), args.jobs)
        noop_ray = _noop_jobs(root / "noop-ray", RayExecutor(processor=copy_processor), args.jobs)
        print(f"{args.jobs} no-op jobs through the executor alone: local {noop_local:.2f} s, ray {noop_ray:.2f} s "
              f"({(noop_ray - noop_local) / args.jobs * 1000:+.0f} ms per job)")
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0

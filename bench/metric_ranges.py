"""Metric ranges: the values flickerd's histograms observe when a real daemon fixes real renders.

    python -m bench metric_ranges [--renders DIR] [--names A,B,...] [--kinds asis,luma-1,...]
        [--frames 48] [--max-side 832] [--interval 15] [--out FILE]

Each render (default: ``RENDERS`` in ``../shared/real-renders``) as it is and with injected
flicker (``flickerd.synth.real``, seed 0) is encoded into a temporary hot folder, one file every
``--interval`` seconds, while ``flickerd run`` (default rules, one CPU worker) fixes them. The
``job_finished`` log lines carry exactly what the histograms observe: ``duration_s``,
``queue_wait_s``, ``flicker_before``/``flicker_after`` (the verification's warping error with the
input's flow, RGB in [0,1] squared) and ``flicker_reduction``. ``--out`` writes them as JSON with
the command and commit; ``tests/ops/data/metric_observations.json`` is one such file, from which
``tests/ops/test_metric_buckets.py`` checks the buckets. Nothing is written into the renders'
folder or the repository unless ``--out`` says so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench._daemon import start, stop, wait_log
from bench.real_renders import NO_RENDERS, renders_dir

# Two renders from each of three model families, near-static and moving, GIF and mp4.
RENDERS = (
    "Vchitect__Latte__latte_output_b421.mp4",
    "hao-ai-lab__FastVideo__FastMochi_0.mp4",
    "Vchitect__Vchitect-2.0__sample_8_seed0.mp4",
    "hao-ai-lab__FastVideo__Wan2.1-T2V-1.3B__lone_hiker.mp4",
    "Doubiiu__DynamiCrafter__pour_honey.gif",
    "hpcaitech__Open-Sora__sample_0.gif",
)
KINDS = ("asis", "luma-1", "chroma-1", "texture-1", "breathing-1", "codec-1")
FIELDS = ("outcome", "route", "verdict", "duration_s", "queue_wait_s", "flicker_before", "flicker_after",
          "flicker_reduction")

CONFIG = """
[daemon]
state_dir = "state"
metrics_address = "127.0.0.1:0"
cpu_workers = 1
gpu_slots = 0
rescan_interval_s = 600

[[folders]]
name = "renders"
path = "in"
output = "out"
settle_s = 0.5
settle_max_s = 30.0
"""


def make_clip(render: Path, kind: str, frames: int, max_side: int, path: Path) -> Path:
    from flickerd.synth import real

    name, _, strength = kind.partition("-")
    v = real.Variant(render.name, name, float(strength or 1.0), 0)
    imgs, fps = real.load(render, frames, max_side)
    return Path(real.encode(real.frames(v, imgs), path, v.crf, fps))


def commit() -> str:
    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True)
    return proc.stdout.strip()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench metric_ranges")
    p.add_argument("--renders")
    p.add_argument("--names", default=",".join(RENDERS))
    p.add_argument("--kinds", default=",".join(KINDS), help="asis, or KIND-STRENGTH of flickerd.synth.real.INJECTED")
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--max-side", type=int, default=832)
    p.add_argument("--interval", type=float, default=15.0, help="seconds between two files dropped in")
    p.add_argument("--out")
    a = p.parse_args(argv)
    renders = renders_dir(a.renders)
    if renders is None:
        print(NO_RENDERS, file=sys.stderr)
        return 2
    names, kinds = a.names.split(","), a.kinds.split(",")
    root = Path(tempfile.mkdtemp(prefix="flickerd-metric-ranges-"))
    try:
        stage = root / "stage"
        stage.mkdir()
        clips = []
        for name in names:
            for kind in kinds:
                clips.append(make_clip(renders / name, kind, a.frames, a.max_side,
                                       stage / f"{Path(name).stem}.{kind}.mp4"))
        (root / "in").mkdir()
        cfg = root / "flickerd.toml"
        cfg.write_text(CONFIG)
        proc = start(root, cfg)
        try:
            wait_log(root, "daemon_started")
            for clip in clips:
                os.replace(clip, root / "in" / clip.name)
                time.sleep(a.interval)
            rows = wait_finished(root, len(clips))
        finally:
            stop(proc)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    summary = {
        "command": "python -m bench metric_ranges " + " ".join(argv),
        "commit": commit(),
        "date": datetime.now(timezone.utc).date().isoformat(),
        "renders": names, "kinds": kinds, "frames": a.frames, "max_side": a.max_side, "interval_s": a.interval,
        "jobs": rows,
    }
    for key in ("duration_s", "queue_wait_s", "flicker_before", "flicker_after", "flicker_reduction"):
        vals = sorted(r[key] for r in rows if r.get(key) is not None)
        if vals:
            print(f"{key:18s} n={len(vals):3d} min={vals[0]:.4g} median={vals[len(vals) // 2]:.4g} max={vals[-1]:.4g}")
    if a.out:
        Path(a.out).write_text(json.dumps(summary, indent=1) + "\n")
    return 0


def wait_finished(root: Path, n: int, timeout_s: float = 3600.0) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in (root / "daemon.log").read_text().splitlines() if line.startswith("{")]
        done = [{"file": Path(ln["file"]).name, **{k: ln.get(k) for k in FIELDS}}
                for ln in lines if ln.get("event") == "job_finished"]
        if len(done) >= n:
            return done
        time.sleep(1.0)
    raise RuntimeError(f"only {len(done)} of {n} jobs finished in {timeout_s:g} s; see {root / 'daemon.log'}")


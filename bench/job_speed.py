"""One job against its floor: `flickerd fix` wall time, CPU-seconds and peak RSS next to decode + one final encode.

Usage: python -m bench job_speed [--renders DIR] [--repeats 5] [--only wan,easyanimate,hunyuan,rss]
                                 [--routes auto,normalize+detail] [--rss-seconds 10,60] [--rss-fps 8] [--json OUT] [--base DAEMON_DIR]
                                 [--guide]

- **Floor**: the render decoded and encoded once with the final step's x264 settings
  (``flickerd.routes.encode``: crf 16, preset slow, yuv420p), by the ffmpeg binary flickerd uses.
- **Job**: ``python -m flickerd fix SRC --route R -o TMP/`` as a child process; it ends when the
  video (if accepted) and all its reports are written. ``auto`` is what the daemon would do (a clean
  render ends after the diagnosis); ``normalize+detail`` forces the whole path (diagnose, a chain of
  two frame steps, verify, side-by-side clip).
- Floor and jobs alternate, ``--repeats`` times; medians are printed. ``--base DIR`` (another
  checkout's ``daemon`` folder) runs each job with that code too, alternating with this tree's
  (order swapped every repeat), and prints the CPU-seconds change. CPU-seconds and peak RSS come
  from ``wait4`` on each child (its own and its waited-for children's: ffmpeg subprocesses count).
- ``--guide``: every job gets a guide (``--guide`` of ``flickerd fix``), a stand-in for the render's
  source video made once per render: the render itself at half size, blurred (same frame count).
  ``auto`` then runs what the daemon runs for a render with a guide (``normalize`` → ``guided``).
- Per-stage seconds are the job's own ``timings`` (report JSON) and each chain step's ``seconds``.
- **RSS** (``rss`` in ``--only``): the Self-Forcing Wan render scaled to 1920x1080 and looped to
  ``--rss-seconds`` (10 and 60 s at ``--rss-fps``), one job each with ``--rss-route``; the 60 s peak
  should be within 1.2x the 10 s one.

Sizes: 832x480 Self-Forcing Wan (81 frames), 1008x576 EasyAnimate (49), 1280x720 FastHunyuan.
The box is shared: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.real_renders import NO_RENDERS, renders_dir

CASES = {
    "wan": "hao-ai-lab__FastVideo__SFWan2.1-T2V-1.3B__will_smith_noodles.mp4",
    "easyanimate": "aigc-apps__EasyAnimate__1.mp4",
    "hunyuan": "hao-ai-lab__FastVideo__FastHunyuan__will_smith_noodles.mp4",
}
TARGET_RATIO = {"wan": 2.0, "easyanimate": 2.0, "hunyuan": 2.5}
RSS_TARGET = 1.2


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    status: str = ""
    stages: dict[str, float] = field(default_factory=dict)


def _child(cmd: list[str], env: dict[str, str] | None = None) -> Run:
    """Run ``cmd``; wall seconds, CPU-seconds and peak RSS (MiB) of it and its waited-for children."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # communicate() would reap the child itself; read the pipes, then wait4 for its rusage
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):  # 1: verification rejected the fix, still a whole job
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode(errors='replace')[-2000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0,
               status=out.decode(errors="replace").splitlines()[0] if out else "")


def floor(src: str, work: str) -> Run:
    from flickerd.media.ffmpeg import ffmpeg_exe, media_arg
    from flickerd.media.writer import reproducible_args
    from flickerd.routes.encode import DEFAULT_CRF, DEFAULT_PRESET

    out = os.path.join(work, "floor.mp4")
    return _child([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", media_arg(src),
                   "-map", "0:v:0", "-c:v", "libx264", *reproducible_args(), "-crf", str(DEFAULT_CRF), "-preset", DEFAULT_PRESET,
                   "-pix_fmt", "yuv420p", out])


def job(src: str, route: str, work: str, tree: str | None = None, guide: str | None = None) -> Run:
    """One ``flickerd fix`` child; ``tree``: another checkout's ``daemon`` folder to run instead (``--base``);
    ``guide``: the guide it is given."""
    out_dir = os.path.join(work, "job")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    env = dict(os.environ, **({"PYTHONPATH": tree} if tree else {}))
    run = _child([sys.executable, "-m", "flickerd", "fix", src, "--route", route, "-o", out_dir + os.sep]
                 + (["--guide", guide] if guide else []), env=env)
    stem = Path(src).stem
    with open(os.path.join(out_dir, stem + ".report.json")) as fh:
        report = json.load(fh)
    run.stages = {k: float(v) for k, v in (report.get("timings") or {}).items()}
    # the JSON is written before its own stage ends: the rest (start-up, probe, plot, side-by-side clip)
    run.stages["rest (start-up, reports)"] = run.wall - sum(run.stages.values())
    for step in (report.get("chain") or {}).get("steps", []):
        run.stages[f"  step {step['route']}"] = float(step.get("seconds", 0.0))
    run.status = report.get("status", run.status)
    return run


def _median(runs: list[Run], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in runs)


def _stages(runs: list[Run]) -> dict[str, float]:
    keys = [k for k in runs[0].stages]
    return {k: statistics.median(r.stages.get(k, 0.0) for r in runs) for k in keys}


def make_1080p(src: str, seconds: int, fps: int, out: str) -> str:
    """``src`` scaled to 1920x1080, retimed to ``fps`` and looped to ``seconds`` (x264 crf 18)."""
    from flickerd.media.ffmpeg import ffmpeg_exe, media_arg
    from flickerd.media.writer import reproducible_args

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1",
                    "-i", media_arg(src), "-t", str(seconds), "-vf", f"fps={fps},scale=1920:1080",
                    "-c:v", "libx264", *reproducible_args(), "-crf", "18", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-an", out],
                   check=True)
    return out


def make_guide(src: str, out: str) -> str:
    """A stand-in guide for ``src``: the render at half size, blurred (x264 crf 26); same frame count."""
    from flickerd.media.ffmpeg import ffmpeg_exe, media_arg
    from flickerd.media.writer import reproducible_args

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", media_arg(src),
                    "-map", "0:v:0", "-vf", "gblur=sigma=1.5,scale=trunc(iw/4)*2:trunc(ih/4)*2",
                    "-c:v", "libx264", *reproducible_args(), "-crf", "26", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-an", out],
                   check=True)
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench job_speed")
    ap.add_argument("--renders", default=None)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", default="wan,easyanimate,hunyuan,rss")
    ap.add_argument("--routes", default="auto,normalize+detail")
    ap.add_argument("--rss-seconds", default="10,60")
    ap.add_argument("--rss-fps", type=int, default=8)
    ap.add_argument("--rss-route", default="normalize")
    ap.add_argument("--json", default=None, help="write the medians as JSON here")
    ap.add_argument("--base", default=None,
                    help="another checkout's daemon folder: its jobs alternate with this tree's (order swapped every repeat)")
    ap.add_argument("--guide", action="store_true",
                    help="give every job a guide (the render at half size, blurred): auto runs normalize+guided")
    args = ap.parse_args(argv)

    folder = renders_dir(args.renders)
    if folder is None:
        print(NO_RENDERS, file=sys.stderr)
        return 2
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    routes = [x.strip() for x in args.routes.split(",") if x.strip()]
    cases = [c for c in CASES if c in only]
    results: dict = {"repeats": args.repeats, "guide": args.guide, "cases": {}, "rss": {}}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="flickerd-job-speed-") as work:
        floors: dict[str, list[Run]] = {c: [] for c in cases}
        versions: list[tuple[str, str | None]] = [("", None)] + ([("base", args.base)] if args.base else [])
        jobs: dict[tuple[str, str, str], list[Run]] = {(c, r, v): [] for c in cases for r in routes for v, _ in versions}
        guides = {c: make_guide(str(folder / CASES[c]), os.path.join(work, f"{c}.guide.mp4")) if args.guide else None
                  for c in cases}
        for rep in range(args.repeats):
            for case in cases:  # floor and jobs alternate within each repeat
                src = str(folder / CASES[case])
                floors[case].append(floor(src, work))
                print(f"  {case} floor: {floors[case][-1].wall:.2f} s, {floors[case][-1].cpu:.2f} CPU-s", flush=True)
                for route in routes:
                    for version, tree in (versions if rep % 2 == 0 else versions[::-1]):
                        run = job(src, route, work, tree, guides[case])
                        jobs[(case, route, version)].append(run)
                        print(f"  {case} --route {route}{' (' + version + ')' if version else ''}: {run.wall:.2f} s, "
                              f"{run.cpu:.2f} CPU-s, peak {run.rss_mb:.0f} MiB", flush=True)
            print(f"repeat {rep + 1}/{args.repeats} done", flush=True)
        from flickerd.media.probe import probe

        for case in cases:
            info = probe(str(folder / CASES[case]))
            f = floors[case]
            fw, fc = _median(f, "wall"), _median(f, "cpu")
            print(f"\n{case}: {info.width}x{info.height}, {info.frame_count} frames — floor (decode + x264 crf 16 "
                  f"slow) {fw:.2f} s wall, {fc:.2f} CPU-s, peak {_median(f, 'rss_mb'):.0f} MiB")
            entry = {"size": f"{info.width}x{info.height}", "frames": info.frame_count,
                     "floor": {"wall_s": fw, "cpu_s": fc, "rss_mib": _median(f, "rss_mb")},
                     "jobs": {}}
            for route in routes:
                for version, _ in versions:
                    j = jobs[(case, route, version)]
                    jw, jc, jr = _median(j, "wall"), _median(j, "cpu"), _median(j, "rss_mb")
                    ratio = jw / fw
                    target = TARGET_RATIO[case]
                    label = f"{route} ({version})" if version else route
                    print(f"  job --route {label:18s} {jw:6.2f} s wall ({ratio:.2f}x floor, target <= {target}x: "
                          f"{'met' if ratio <= target else 'not met'}), {jc:6.2f} CPU-s, peak {jr:.0f} MiB, "
                          f"status {j[0].status}")
                    stages = _stages(j)
                    print("    stages (s): " + ", ".join(f"{k.strip()} {v:.2f}" for k, v in stages.items()))
                    entry["jobs"][label] = {"wall_s": jw, "ratio": ratio, "cpu_s": jc, "rss_mib": jr,
                                            "status": j[0].status, "stages_s": stages,
                                            "walls_s": [round(r.wall, 3) for r in j],
                                            "cpus_s": [round(r.cpu, 3) for r in j]}
                if args.base:
                    after, base = (_median(jobs[(case, route, v)], "cpu") for v, _ in versions)
                    print(f"  --route {route}: {base:.2f} -> {after:.2f} CPU-s against the base ({after / base - 1:+.1%})")
            results["cases"][case] = entry
        if "rss" in only:
            src = str(folder / CASES["wan"])
            peaks = {}
            for seconds in [int(s) for s in args.rss_seconds.split(",")]:
                clip = make_1080p(src, seconds, args.rss_fps, os.path.join(work, f"hd{seconds}.mp4"))
                run = job(clip, args.rss_route, work)
                peaks[seconds] = run.rss_mb
                print(f"\n1080p {seconds} s at {args.rss_fps} fps ({seconds * args.rss_fps} frames), --route "
                      f"{args.rss_route}: peak {run.rss_mb:.0f} MiB, {run.wall:.1f} s wall, {run.cpu:.1f} CPU-s, "
                      f"status {run.status}", flush=True)
                os.unlink(clip)
            lo, hi = min(peaks), max(peaks)
            ratio = peaks[hi] / peaks[lo]
            print(f"peak RSS {hi} s / {lo} s: {ratio:.2f}x (target <= {RSS_TARGET}x: "
                  f"{'met' if ratio <= RSS_TARGET else 'not met'})")
            results["rss"] = {"fps": args.rss_fps, "route": args.rss_route,
                              "peak_mib": {str(k): v for k, v in peaks.items()}, "ratio": ratio}
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0

"""FFmpeg route overhead: the route's wall time vs the bare ffmpeg command with the same filters.

Both run the seed's graph (deflicker size 5 am + deband 0.02) and x264 crf 16 on the same
clip, alternating, in one run; the route adds probing, staging, the frame-count check and
Python. Goal: ≤ 10 % overhead (median of ``--repeats`` pairs).

    python -m bench ffmpeg_overhead [--width 720] [--height 480] [--frames 96] [--preset slow] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench ffmpeg_overhead")
    ap.add_argument("--width", type=int, default=720)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--preset", default="slow")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    from flickerd.media.ffmpeg import ffmpeg_exe
    from flickerd.media.writer import reproducible_args
    from flickerd.routes.ffmpeg_filters import FfmpegRoute

    exe = ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="flickerd-ffbench-") as work:
        src = os.path.join(work, "src.mp4")
        # A moving test pattern with audio, encoded once up front.
        subprocess.run([exe, "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc2=size={args.width}x{args.height}:rate=24:duration={args.frames / 24}",
                        "-f", "lavfi", "-i", f"sine=frequency=440:duration={args.frames / 24}",
                        "-c:v", "libx264", *reproducible_args(), "-crf", "18", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-shortest", src], check=True)
        route = FfmpegRoute()
        params = {"preset": args.preset}
        probe_run = route.fix(src, os.path.join(work, "warm.mp4"), params, lambda f: None)
        bare = [probe_run.commands[0][0], "-v", "error", "-y", *probe_run.commands[0][1:]]
        bare[-1] = "file:" + os.path.join(work, "bare.mp4")
        route_s, bare_s = [], []
        for _ in range(args.repeats):
            t = time.monotonic()
            subprocess.run(bare, check=True, stdout=subprocess.DEVNULL)
            bare_s.append(time.monotonic() - t)
            t = time.monotonic()
            route.fix(src, os.path.join(work, "route.mp4"), params, lambda f: None)
            route_s.append(time.monotonic() - t)
    r, b = statistics.median(route_s), statistics.median(bare_s)
    print(f"clip {args.width}x{args.height}, {args.frames} frames, preset {args.preset}")
    print(f"bare ffmpeg  median {b:.3f} s  ({', '.join(f'{x:.3f}' for x in bare_s)})")
    print(f"ffmpeg route median {r:.3f} s  ({', '.join(f'{x:.3f}' for x in route_s)})")
    print(f"overhead {100 * (r - b) / b:+.1f} %  (goal ≤ 10 %)")
    return 0

"""Memory: peak RSS of `flickerd diagnose` on 10 s vs 5 min of 1080p (should not grow with length).

``python -m bench diagnose_memory [--long-s 300] [--short-s 10]``. Both clips are made
once in the temp folder by ffmpeg (testsrc2 + noise, x264 ultrafast, 24 fps); each is
diagnosed in its own subprocess, whose peak RSS is read from ``wait4``'s rusage.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def clip(seconds: int) -> str:
    from flickerd.media.ffmpeg import ffmpeg_exe
    from flickerd.media.writer import reproducible_args

    path = os.path.join(tempfile.gettempdir(), f"flickerd-bench-1080p-{seconds}s.mp4")
    if not os.path.exists(path):
        tmp = path + ".tmp.mp4"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc2=size=1920x1080:rate=24:duration={seconds}", "-vf", "noise=alls=8:allf=t",
                        "-c:v", "libx264", *reproducible_args(), "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p", tmp],
                       check=True)
        os.replace(tmp, path)
    return path


def peak_rss(cmd: list[str]) -> tuple[float, float, str]:
    """(peak RSS MiB, wall seconds, stdout) of one subprocess."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} exited {proc.returncode}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start, out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="bench diagnose_memory")
    p.add_argument("--short-s", type=int, default=10)
    p.add_argument("--long-s", type=int, default=300)
    a = p.parse_args(argv)
    flickerd = str(Path(sys.executable).with_name("flickerd"))
    rows = []
    for seconds in (a.short_s, a.long_s):
        path = clip(seconds)
        rss, wall, out = peak_rss([flickerd, "diagnose", "--json", path])
        d = json.loads(out)
        rows.append(rss)
        print(f"{seconds:4d} s of 1080p ({d['frames']} frames): peak RSS {rss:7.1f} MiB, {wall:6.1f} s, verdict {d['verdict']}")
    print(f"ratio long/short: {rows[1] / rows[0]:.2f} (1.0 = independent of length)")
    return 0

"""Speed: `flickerd diagnose` vs the seed's script and a bare ffmpeg decode of the same 720x480 clip, as subprocesses.

``python -m bench diagnose_speed [--frames 300] [--repeat 3] [--ffmpeg-encode]``. The clip is
generated once into the temp folder (a corpus "luma" clip at 720x480; PyAV's libx264 writes
it with two slices per frame). ``--ffmpeg-encode`` times the same pictures re-encoded by the
ffmpeg command line at its defaults (CRF 23, one slice, as ComfyUI's and diffusers' writers produce)
instead. The three alternate, run by run; reports the best and the median wall time of each and
their ratios (target: ≥ 20× the seed, ≤ 1.6× the bare decode ``ffmpeg -i CLIP -f null -``), with each one's user+sys CPU seconds and the load average,
since the box may be shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def clip(frames: int) -> str:
    from flickerd.synth.corpus import ClipSpec, write_clip

    path = os.path.join(tempfile.gettempdir(), f"flickerd-bench-720x480-{frames}.mp4")
    if not os.path.exists(path):
        write_clip(ClipSpec(seed=42, kind="luma", width=720, height=480, frames=frames, scene="pan"), path + ".tmp.mp4")
        os.replace(path + ".tmp.mp4", path)
    return path


def ffmpeg_encoded(path: str) -> str:
    from flickerd.media.ffmpeg import ffmpeg_exe
    from flickerd.media.writer import reproducible_args

    out = path.replace(".mp4", "-ffmpeg.mp4")
    if not os.path.exists(out):
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", path, "-c:v", "libx264", *reproducible_args(),
                        out + ".tmp.mp4"], check=True)
        os.replace(out + ".tmp.mp4", out)
    return out


def timed(cmd: list[str]) -> tuple[float, str, float]:
    """(wall seconds, stdout, user+sys CPU seconds of the process and its children)."""
    before = os.times()
    start = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, r.stdout, cpu


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="bench diagnose_speed")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--ffmpeg-encode", action="store_true", help="time the clip as the ffmpeg CLI encodes it")
    a = p.parse_args(argv)
    # an installed package has its bytecode compiled (pip does it); an editable one may not
    import compileall

    import flickerd

    compileall.compile_dir(os.path.dirname(flickerd.__file__), quiet=1)
    path = clip(a.frames)
    if a.ffmpeg_encode:
        path = ffmpeg_encoded(path)
    from flickerd.media.ffmpeg import ffmpeg_exe

    command = str(Path(sys.executable).with_name("flickerd"))
    ours, seed, bare = [], [], []
    for _ in range(a.repeat):  # alternated, so all see the same state of a shared machine
        ours.append(timed([command, "diagnose", "--json", path]))
        bare.append(timed([ffmpeg_exe(), "-v", "error", "-i", path, "-f", "null", "-"]))
        seed.append(timed([sys.executable, str(HERE / "seed_script.py"), path]))
    t_ours, t_seed = min(t for t, _, _ in ours), min(t for t, _, _ in seed)
    c_ours, c_seed = min(c for _, _, c in ours), min(c for _, _, c in seed)
    import json

    verdict = json.loads(ours[0][1])["verdict"]
    print(f"clip: {path} (720x480, {a.frames} frames)")
    print(f"load average:      {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    med_ours = statistics.median(t for t, _, _ in ours)
    print(f"flickerd diagnose: {t_ours:.3f} s (best of {a.repeat}, median {med_ours:.3f}; {c_ours:.2f} s user+sys CPU), "
          f"verdict {verdict}")
    med_seed = statistics.median(t for t, _, _ in seed)
    print(f"seed script:       {t_seed:.2f} s (best of {a.repeat}, median {med_seed:.2f}; {c_seed:.2f} s user+sys CPU), "
          f"{seed[0][1].strip().split(': ', 1)[-1]}")
    t_bare, med_bare = min(t for t, _, _ in bare), statistics.median(t for t, _, _ in bare)
    print(f"bare decode:       {t_bare:.3f} s (best of {a.repeat}, median {med_bare:.3f}; "
          f"{min(c for _, _, c in bare):.2f} s user+sys CPU): ffmpeg -i CLIP -f null -")
    print(f"diagnose / decode: {t_ours / t_bare:.2f}x best/best, {med_ours / med_bare:.2f}x median/median (target <= 1.6x)")
    print(f"speed-up:          {t_seed / t_ours:.1f}x wall best/best, {med_seed / med_ours:.1f}x median/median "
          f"(target >= 20x), {c_seed / c_ours:.1f}x CPU")
    return 0

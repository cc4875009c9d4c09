"""VMAF through the bundled ffmpeg's libvmaf (optional: None when the binary lacks it).

It is the one measure that runs a process, so it is sampled (``n_subsample``) and off by
default in verification; the other measures are in-process numpy.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile

from flickerd.errors import RouteError
from flickerd.media.ffmpeg import ffmpeg_exe, media_arg, run_ffmpeg

# Score every Nth frame: VMAF's own motion feature still sees neighbours.
DEFAULT_SUBSAMPLE = 5


@functools.lru_cache(maxsize=4)
def has_libvmaf(exe: str | None = None) -> bool:
    try:
        out = subprocess.run([exe or ffmpeg_exe(), "-hide_banner", "-filters"], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError, RouteError):
        return False
    return any(line.split()[1:2] == ["libvmaf"] for line in out.splitlines() if line.strip())


def vmaf(reference: str, distorted: str, width: int, height: int, *, subsample: int = DEFAULT_SUBSAMPLE,
         exe: str | None = None, every_nth_distorted: int = 1) -> float | None:
    """Mean VMAF (0–100) of ``distorted`` against ``reference`` at the reference size; None without libvmaf.

    ``every_nth_distorted`` keeps one distorted frame in N (interpolated output at source timestamps).
    """
    if not has_libvmaf(exe):
        return None
    fd, log_path = tempfile.mkstemp(prefix="flickerd-vmaf-", suffix=".json")
    os.close(fd)
    try:
        pick = f"select='not(mod(n\\,{every_nth_distorted}))'," if every_nth_distorted > 1 else ""
        graph = (
            f"[0:v]{pick}scale={width}:{height}:flags=bicubic,setpts=N[d];[1:v]setpts=N[r];"
            f"[d][r]libvmaf=n_subsample={max(1, subsample)}:n_threads=1:log_fmt=json:log_path={log_path}"
        )
        run_ffmpeg(["-i", media_arg(distorted), "-i", media_arg(reference), "-lavfi", graph, "-f", "null", "-"],
                   exe=exe)
        with open(log_path, encoding="utf-8") as fh:
            return float(json.load(fh)["pooled_metrics"]["vmaf"]["mean"])
    except (RouteError, OSError, KeyError, ValueError):
        return None
    finally:
        os.unlink(log_path)

"""Locate and run the ffmpeg binary, with progress from ``-progress``.

The binary from ``imageio-ffmpeg`` is the default (it carries deflicker, deband, libvmaf,
blockdetect); a configured path wins. Arguments are passed as a list (never a shell), and
input paths go through ``media_arg`` so names starting with a dash stay file names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flickerd.errors import RouteError


# GIF output: one palette for the whole clip and ordered (position-fixed) dithering, so the dither
# stays put where the picture does; the gif encoder's own rgb8 error diffusion re-dithers every frame.
GIF_PALETTEGEN = "palettegen=stats_mode=full"
GIF_PALETTEUSE = "paletteuse=dither=bayer:bayer_scale=4"  # 0 strongest … 5 lightest pattern


def ffmpeg_exe(configured: str | None = None) -> str:
    """The ffmpeg to run: ``configured`` if given, else the one imageio-ffmpeg ships."""
    if configured:
        found = shutil.which(configured) or (configured if os.path.isfile(configured) else None)
        if not found:
            raise RouteError(f"ffmpeg not found at the configured path {configured!r}.")
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as exc:
        found = shutil.which("ffmpeg")
        if found:
            return found
        raise RouteError("No ffmpeg binary: install imageio-ffmpeg or set ffmpeg_path in the config.") from exc


def media_arg(path: str | os.PathLike) -> str:
    """A path ffmpeg reads as a file whatever its name (``-x.mp4``, ``a:b.mp4``)."""
    return "file:" + os.path.abspath(os.fspath(path))


@dataclass(frozen=True, slots=True)
class FfmpegRun:
    command: list[str]
    seconds: float
    stderr_tail: str


def run_ffmpeg(
    args: Sequence[str],
    *,
    exe: str | None = None,
    total_frames: int | None = None,
    progress: Callable[[float], None] | None = None,
    timeout_s: float | None = None,
) -> FfmpegRun:
    """Run ``ffmpeg ARGS``; call ``progress(fraction)`` as frames go by; raise RouteError on failure."""
    cmd = [exe or ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", *args]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
    tail: list[str] = []

    import threading

    def _drain_stderr() -> None:
        for line in proc.stderr:  # keep only the tail: ffmpeg can be chatty
            tail.append(line)
            if len(tail) > 40:
                del tail[:-40]

    t = threading.Thread(target=_drain_stderr, daemon=True)
    t.start()
    try:
        for line in proc.stdout:
            if progress and total_frames and line.startswith("frame="):
                try:
                    progress(min(1.0, int(line.split("=", 1)[1]) / total_frames))
                except ValueError:
                    pass
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                proc.kill()
                raise RouteError(f"ffmpeg timed out after {timeout_s:.0f} s.")
        rc = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        raise RouteError(f"ffmpeg timed out after {timeout_s:.0f} s.") from exc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        t.join(timeout=5)
    seconds = time.monotonic() - start
    stderr_tail = "".join(tail[-15:])
    if rc != 0:
        last = stderr_tail.strip().splitlines()[-1] if stderr_tail.strip() else f"exit code {rc}"
        raise RouteError(f"ffmpeg failed (exit {rc}): {last}")
    return FfmpegRun(command=cmd, seconds=seconds, stderr_tail=stderr_tail)

"""ffmpeg's ``blockdetect`` filter over a clip, in a background process: the reference the own
blocking measure (``codec.blocking``) is checked against. Not on the diagnosis path.
"""

from __future__ import annotations

import subprocess
import threading

from flickerd.diagnose.robust import median
from flickerd.media.ffmpeg import ffmpeg_exe, media_arg


class BlockDetect:
    """``blockdetect`` on every n-th frame in a background ffmpeg; ``result()`` waits for it."""

    def __init__(self, path: str, frames: int, samples: int, exe: str | None = None) -> None:
        step = max(1, frames // max(1, samples))
        vf = f"select='not(mod(n\\,{step}))',blockdetect,metadata=print:key=lavfi.block:file=-"
        cmd = [exe or ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "1",
               "-i", media_arg(path), "-an", "-vf", vf, "-f", "null", "-"]
        self._values: list[float] = []
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.startswith("lavfi.block="):
                try:
                    self._values.append(float(line.split("=", 1)[1]))
                except ValueError:
                    pass

    def result(self, timeout_s: float = 600.0) -> float:
        """Median block score over the sampled frames; NaN if ffmpeg measured nothing."""
        try:
            self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._thread.join(timeout=5)
        return float(median(self._values)) if self._values else float("nan")

    def cancel(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._thread.join(timeout=5)

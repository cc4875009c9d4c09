"""Test support: tiny real clips, config files, and ``flickerd run`` as a real subprocess."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

FLICKERD = [str(Path(sys.executable).with_name("flickerd"))]  # the installed console script
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
ENV.pop("NOTIFY_SOCKET", None)


def make_clip(path: str | os.PathLike, *, frames: int = 8, width: int = 64, height: int = 48, flicker: int = 0,
              seed: int = 0) -> Path:
    """A small H.264 clip: a fixed random texture, optionally alternating brightness by ±``flicker``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 190, (height, width, 3), dtype=np.uint8).astype(np.int16)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=8)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            img = np.clip(base + (flicker if i % 2 else -flicker), 0, 255).astype(np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def daemon_table(address: str = "127.0.0.1:0", extra: str = "") -> str:
    """The ``[daemon]`` table test configs share: state in ``state``, one CPU worker, no GPU, no
    periodic rescans, a short shutdown."""
    return f"""
[daemon]
state_dir = "state"
metrics_address = "{address}"
cpu_workers = 1
gpu_slots = 0
rescan_interval_s = 600
shutdown_timeout_s = 10
{extra}
"""


# Nothing re-encoded passes 1000 dB: every ffmpeg fix is rejected by verification.
REJECT_FFMPEG = """
[acceptance.routes.ffmpeg]
min_psnr = 1000.0
"""


REPORT_RULES = """
[[rules]]
name = "report-all"
action = "report"
"""


def write_config(root: Path, *, folder_extra: str = "", daemon_extra: str = "", rules: str = REPORT_RULES,
                 settle_s: float = 0.3, settle_max_s: float = 2.0, name: str = "cfg.toml") -> Path:
    """A config watching ``root/in`` (created) with a state dir in ``root/state``."""
    (root / "in").mkdir(parents=True, exist_ok=True)
    text = daemon_table(extra=daemon_extra) + f"""
{rules}
[[folders]]
name = "in"
path = "in"
settle_s = {settle_s}
settle_max_s = {settle_max_s}
{folder_extra}
"""
    path = root / name
    path.write_text(text)
    return path


def rows(root: Path, where: str = "1") -> list[dict]:
    """Journal rows (read-only, a fresh connection each call: the daemon is writing)."""
    db = root / "state" / "journal.sqlite3"
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(f"SELECT * FROM jobs WHERE {where} ORDER BY id")]
    except sqlite3.OperationalError:  # table not created yet
        return []
    finally:
        con.close()


def wait_for(cond: Callable[[], object], timeout: float = 30.0, interval: float = 0.05, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or cond}")


# ``Daemon.wait_while_moving``: a daemon whose log and jobs stand still this long is hung (the
# longest silent stretch before a fix, at load 29 on 2 cores, was 3.9 s); the whole wait is bounded too.
STALL_S = 30.0
MOVING_LIMIT_S = 150.0


class Daemon:
    """``flickerd run`` in a subprocess, logging to a file we can search."""

    def __init__(self, root: Path, *args: str, config: Path | None = None, env: dict | None = None,
                 preexec_fn: Callable[[], None] | None = None) -> None:
        self.root = root
        self.log_path = root / f"daemon-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")
        cmd = [*FLICKERD, "run", *(["-c", str(config)] if config else []), *args]
        self.proc = subprocess.Popen(cmd, cwd=root, stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**ENV, **(env or {})}, preexec_fn=preexec_fn)

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_log(self, text: str, timeout: float = 30.0) -> None:
        wait_for(lambda: text in self.log() or self.proc.poll() is not None, timeout, what=text)
        assert text in self.log(), f"daemon exited ({self.proc.returncode}) before logging {text!r}:\n{self.log()}"

    def wait_while_moving(self, cond: Callable[[], object], what: str, *, stall_s: float = STALL_S,
                          limit_s: float = MOVING_LIMIT_S, interval: float = 0.1) -> object:
        """Wait for ``cond`` while the daemon makes headway: its log grows, or a job's state or
        progress (the journal's) moves. Fails at once when the daemon exits, after ``stall_s``
        without headway (a hang), and after ``limit_s`` in all. A fixed 30 s on the whole wait
        failed under load (25 on 2 cores) while the job's diagnosis was still moving."""
        start = last = time.monotonic()
        seen: tuple | None = None
        while True:
            got = cond()
            if got:
                return got
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}) before {what}:\n{self.log()}")
            now = time.monotonic()
            mark = (self.log_path.stat().st_size, tuple((r["state"], r["progress"]) for r in rows(self.root)))
            if mark != seen:
                seen, last = mark, now
            if now - last > stall_s:
                raise AssertionError(f"no headway for {stall_s:.0f} s waiting for {what} (jobs: {mark[1]}):\n"
                                     f"{self.log()}")
            if now - start > limit_s:
                raise AssertionError(f"still waiting for {what} after {limit_s:.0f} s (jobs: {mark[1]})")
            time.sleep(interval)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    def kill(self) -> None:
        self.proc.kill()
        self.wait()


def scrape(d: Daemon) -> str:
    """The running daemon's /metrics text (its address is in the ``metrics_served`` log line)."""
    import re
    import urllib.request

    address = re.search(r'"address": "([^"]+)", "event": "metrics_served"', d.log()).group(1)
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as resp:
        return resp.read().decode()


def metric(text: str, name: str, **labels: str) -> float | None:
    """One sample's value from a /metrics text, or None."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def run_cli(root: Path, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([*FLICKERD, *args], cwd=root, capture_output=True, text=True, env=ENV, timeout=timeout)

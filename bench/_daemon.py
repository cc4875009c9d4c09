"""Shared helpers of the daemon benchmarks: a config, a daemon subprocess, /proc readings."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from flickerd.media.writer import reproducible

FLICKERD = str(Path(sys.executable).with_name("flickerd"))
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
ENV.pop("NOTIFY_SOCKET", None)
CLK_TCK = os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def work_root(keep: str | None) -> Iterator[Path]:
    """The folder a loop runs in: ``keep`` (``--keep DIR``: made if missing, and kept), else a
    temporary one, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(keep) if keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        yield root


def write_config(root: Path, folders: list[str], *, settle_s: float = 0.5, settle_max_s: float = 2.0,
                 rescan_interval_s: float = 60.0) -> Path:
    parts = [f"""
[daemon]
state_dir = "state"
metrics_address = "127.0.0.1:0"
cpu_workers = 1
gpu_slots = 0
rescan_interval_s = {rescan_interval_s}

[[rules]]
name = "report-all"
action = "report"
"""]
    for name in folders:
        (root / name).mkdir(parents=True, exist_ok=True)
        parts.append(f'[[folders]]\nname = "{name}"\npath = "{name}"\nsettle_s = {settle_s}\n'
                     f"settle_max_s = {settle_max_s}\n")
    cfg = root / "flickerd.toml"
    cfg.write_text("\n".join(parts))
    return cfg


def start(root: Path, cfg: Path) -> subprocess.Popen:
    log = open(root / "daemon.log", "w")
    return subprocess.Popen([FLICKERD, "run", "-c", str(cfg)], cwd=root, stdout=log, stderr=subprocess.STDOUT, env=ENV)


def wait_log(root: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in (root / "daemon.log").read_text():
            return
        time.sleep(0.05)
    raise RuntimeError(f"daemon did not log {text!r}; see {root / 'daemon.log'}")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(60)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def query(root: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(f"file:{root / 'state' / 'journal.sqlite3'}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def make_clip(path: Path, *, frames: int = 8, width: int = 64, height: int = 48, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=8)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = reproducible("libx264", {})
        for _ in range(frames):
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path

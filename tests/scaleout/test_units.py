"""systemd/ray-head.service and ray-worker.service: systemd-analyze verify, and what the farm relies on."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ("ray-head", "ray-worker")


def _exec_start(text: str) -> str:
    joined = text.replace("\\\n", " ")
    return next(line for line in joined.splitlines() if line.startswith("ExecStart="))


@pytest.mark.parametrize("name", UNITS)
def test_ray_unit_verifies(name, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (apt-get install -y systemd)")
    text = (ROOT / "systemd" / f"{name}.service").read_text()
    exe = tmp_path / "opt/flickerd/bin/ray"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (tmp_path / "srv/flickerd").mkdir(parents=True)
    for path in ("/opt/flickerd/", "/srv/flickerd"):
        text = text.replace(path, f"{tmp_path}{path}")
    copy = tmp_path / f"{name}.service"
    copy.write_text(text)
    proc = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=120)
    ours = [line for line in (proc.stdout + proc.stderr).splitlines() if name in line]
    assert proc.returncode == 0 and not ours, proc.stdout + proc.stderr
    exe.unlink()  # the check can fail
    proc = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "not executable" in proc.stderr


@pytest.mark.parametrize("name", UNITS)
def test_ray_unit_runs_a_supervised_node_that_exports_metrics(name):
    text = (ROOT / "systemd" / f"{name}.service").read_text()
    start = _exec_start(text)
    assert "ray start" in start and "--block" in start  # systemd supervises the node, not a detached daemon
    assert "--metrics-export-port=" in start and "--disable-usage-stats" in start
    assert ("--head" in start) == (name == "ray-head")
    assert "User=flickerd" in text  # the same user as the daemon: outputs on shared storage stay writable
    assert "ExecStop=/opt/flickerd/bin/ray stop" in text

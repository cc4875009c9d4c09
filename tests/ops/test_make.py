"""The README's two setup commands: `make run` installs what running needs, `make test` adds the
test tools, and every install step says what it installs in one line (no silent pip)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def dry_run(target: str, tmp_path: Path) -> list[str]:
    """The commands ``make TARGET`` would run for a machine without a virtualenv (``make -n``)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(["make", "-n", target, f"VENV={tmp_path}/venv"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def installs(lines: list[str]) -> list[str]:
    return [line for line in lines if re.search(r"\bpip\b.* install\b", line)]


def test_run_installs_only_what_running_needs(tmp_path):
    pips = installs(dry_run("run", tmp_path))
    assert pips and any("torch==" in p for p in pips) and any(p.endswith("-e .") for p in pips)
    for p in pips:
        what = p.split(" install ", 1)[1]  # the temp path of the venv may hold any word
        assert not re.search(r"\[.*(dev|ray).*\]|pytest|hypothesis|scikit-video", what), p


def test_test_adds_the_test_tools(tmp_path):
    pips = installs(dry_run("test", tmp_path))
    assert any("dev" in p and "ray" in p for p in pips), pips


@pytest.mark.parametrize("target", ["run", "test"])
def test_every_install_step_says_what_it_installs(tmp_path, target):
    lines = dry_run(target, tmp_path)
    steps = [i for i, line in enumerate(lines) if re.search(r"\bpip\b.* install\b|-m venv\b", line)]
    assert steps
    for i in steps:
        assert lines[i - 1].startswith("echo "), (lines[i - 1], lines[i])
    said = [line for line in lines if line.startswith("echo ")]
    assert len(said) == len(steps)  # one line per step, not a page of pip

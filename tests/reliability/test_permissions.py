"""Permissions, with the daemon as an unprivileged user (root ignores file modes).

An unreadable input and an unwritable output folder each get a clear error, a journal row and a
failure metric, while the other folders carry on; a state dir it cannot write stops it at start
with one sentence instead of a traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.reliability.helpers import ENV, FLICKERD, make_clip, rows, temp_leftovers, write_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

NOBODY = 65534
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture
def world():
    """A root-owned, world-traversable folder (pytest's tmp dirs are mode 700, closed to nobody)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run the daemon as another user")
    root = Path(tempfile.mkdtemp(prefix="flickerd-perm-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def as_nobody(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*AS_NOBODY, *FLICKERD, *args], cwd=root, capture_output=True, text=True,
                          env={**ENV, "HOME": str(root)}, timeout=timeout)


def test_unreadable_input_and_unwritable_output_do_not_stop_other_folders(world):
    cfg = write_config(world, settle_s=0.2, settle_max_s=1.0, daemon_extra="max_attempts = 2", folder_extra="""
[[folders]]
name = "locked"
path = "locked"
settle_s = 0.2
settle_max_s = 1.0

[[folders]]
name = "open"
path = "open"
settle_s = 0.2
""")
    for name in ("state", "in.fixed", "open.fixed", "in", "locked", "open"):
        (world / name).mkdir(exist_ok=True)
    for name in ("state", "in.fixed", "open.fixed"):
        os.chown(world / name, NOBODY, NOBODY)
    (world / "locked.fixed").mkdir(mode=0o755)  # root's: nobody cannot publish here
    secret = make_clip(world / "in" / "secret.mp4")
    secret.chmod(0o000)
    make_clip(world / "in" / "ok.mp4", seed=1)
    make_clip(world / "locked" / "stuck.mp4", seed=2)
    make_clip(world / "open" / "fine.mp4", seed=3)
    cfg.chmod(0o644)

    res = as_nobody(world, "run", "-c", str(cfg), "--once")
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    assert "Traceback" not in log, log[-4000:]
    jobs = {Path(r["path"]).name: r for r in rows(world)}
    assert set(jobs) == {"secret.mp4", "ok.mp4", "stuck.mp4", "fine.mp4"}
    # the other folders' files went through
    assert jobs["ok.mp4"]["state"] == "done" and jobs["fine.mp4"]["state"] == "done", log[-3000:]
    assert (world / "open.fixed" / "fine.report.json").exists()
    # unreadable input: one quarantined row that says what to do; its failure note is published
    s = jobs["secret.mp4"]
    assert (s["state"], s["reason"], s["attempts"]) == ("quarantined", "permission", 0), s
    assert "cannot be read by the daemon's user" in s["error"] and "flickerd retry" in s["error"]
    assert (world / "in.fixed" / "_failed" / "secret.report.json").exists()
    # unwritable output: retried, then quarantined as a permission failure naming the folder
    k = jobs["stuck.mp4"]
    assert (k["state"], k["reason"], k["attempts"]) == ("quarantined", "permission", 2), k
    assert "Permission denied" in k["error"] and str(world / "locked.fixed") in k["error"]
    assert list((world / "locked.fixed").iterdir()) == []  # not even a temp file
    assert '"reason": "permission"' in log
    for out in ("in.fixed", "open.fixed"):
        assert temp_leftovers(world / out) == []


def test_state_dir_it_cannot_write_stops_it_with_one_sentence(world):
    cfg = write_config(world)
    (world / "state").mkdir(mode=0o755)  # root's
    os.chown(world / "in", NOBODY, NOBODY)
    cfg.chmod(0o644)
    res = as_nobody(world, "run", "-c", str(cfg), "--once", timeout=60)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "state dir" in lines[0] and "not writable" in lines[0], res.stderr
    assert "Traceback" not in res.stderr + res.stdout

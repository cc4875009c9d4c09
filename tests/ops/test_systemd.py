"""systemd/flickerd.service: systemd-analyze verify and security, and the settings the issue requires."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "flickerd.service"
SYSUSERS = ROOT / "systemd" / "flickerd.conf"
MAX_EXPOSURE = 2.5


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("systemd-analyze is missing; .ci/run installs it with `apt-get install systemd`.")
    pytest.skip("systemd-analyze is not installed; run `apt-get install -y systemd` to run this test.")


def directives(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) in file order; systemd allows a key more than once."""
    out, section = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def values(key: str) -> list[str]:
    return [v for s, k, v in directives(UNIT.read_text()) if k == key]


def test_unit_has_the_required_settings():
    one = {k: v for s, k, v in directives(UNIT.read_text())}
    assert one["Type"] == "notify" and one["NotifyAccess"] == "main"
    assert int(one["WatchdogSec"]) > 0
    assert one["Restart"] == "on-failure" and int(one["StartLimitBurst"]) > 0
    assert one["KillMode"] == "mixed"
    assert "-HUP" in one["ExecReload"] and "$MAINPID" in one["ExecReload"]
    assert one["User"] == "flickerd" and one["StateDirectory"] == "flickerd"
    assert one["ProtectSystem"] == "strict" and one["NoNewPrivileges"] == "yes" and one["PrivateTmp"] == "yes"
    assert one["ReadWritePaths"] and one["CapabilityBoundingSet"] == ""
    # hardening that would hide the GPU or break torch's JIT must stay off
    assert "PrivateDevices" not in one and "MemoryDenyWriteExecute" not in one
    assert one.get("ProcSubset") != "pid"  # CUDA reads /proc/driver/nvidia
    allowed = " ".join(values("DeviceAllow"))
    for dev in ("/dev/nvidiactl", "/dev/nvidia-uvm", "char-nvidia-frontend"):
        assert dev in allowed


def test_unit_bounds_descriptors_and_memory_and_does_not_restart_into_a_broken_journal():
    from flickerd.commands.run import EXIT_JOURNAL_BROKEN

    one = {k: v for s, k, v in directives(UNIT.read_text())}
    # one number (soft = hard): far above what the daemon holds (/metrics is bounded to a few connections),
    # far below what a leak could take from the machine
    assert one["LimitNOFILE"].isdigit() and 4096 <= int(one["LimitNOFILE"]) <= 65536, one.get("LimitNOFILE")
    m = re.fullmatch(r"(\d+)([KMGT])", one["MemoryMax"])
    assert m and 8 * 2**30 <= int(m.group(1)) * 2 ** (10 * "KMGT".index(m.group(2)) + 10) <= 128 * 2**30, one["MemoryMax"]
    assert str(EXIT_JOURNAL_BROKEN) in one["RestartPreventExitStatus"].split()


def test_systemd_analyze_verify_passes(tmp_path):
    """Verify a copy whose absolute paths point into a temp root where they exist."""
    analyze = systemd_analyze()
    text = UNIT.read_text()
    exe = tmp_path / "opt/flickerd/bin/flickerd"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (tmp_path / "etc/flickerd").mkdir(parents=True)
    (tmp_path / "etc/flickerd/flickerd.toml").write_text("")
    (tmp_path / "srv/flickerd").mkdir(parents=True)
    for path in ("/opt/flickerd/", "/etc/flickerd/", "/srv/flickerd"):
        assert path in text
        text = text.replace(path, f"{tmp_path}{path}")
    copy = tmp_path / "flickerd.service"
    copy.write_text(text)
    proc = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=120)
    ours = [l for l in (proc.stdout + proc.stderr).splitlines() if "flickerd" in l]
    assert proc.returncode == 0 and not ours, proc.stdout + proc.stderr

    # the check can fail: a missing executable is reported
    exe.unlink()
    proc = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "not executable" in proc.stderr


def test_security_exposure_is_at_most_2_5():
    analyze = systemd_analyze()
    proc = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", str(UNIT)],
                          capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for flickerd\.service: (\d+(?:\.\d+)?)", proc.stdout)
    assert m, proc.stdout[-2000:] + proc.stderr
    score = float(m.group(1))
    print(f"systemd-analyze security exposure: {score}")
    assert score <= MAX_EXPOSURE, proc.stdout


def test_sysusers_file_creates_the_service_user():
    sysusers = shutil.which("systemd-sysusers")
    if not sysusers:
        pytest.skip("systemd-sysusers is not installed (package systemd).")
    proc = subprocess.run([sysusers, "--dry-run", str(SYSUSERS)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    if "flickerd" not in (proc.stdout + proc.stderr):  # the user may already exist on this machine
        assert subprocess.run(["getent", "passwd", "flickerd"], capture_output=True).returncode == 0


def test_stop_timeout_fits_the_daemons_shutdown():
    """systemd must not SIGKILL a stop that is finishing a job within shutdown_timeout_s, nor wait far longer."""
    from flickerd.commands.check_config import UNIT_TIMEOUT_STOP_S
    from flickerd.config import DEFAULT_SHUTDOWN_TIMEOUT_S
    from flickerd.service.shutdown import stop_budget_s

    (stop,) = values("TimeoutStopSec")
    budget = stop_budget_s(DEFAULT_SHUTDOWN_TIMEOUT_S)
    assert budget <= int(stop) <= budget + 30
    assert int(stop) == UNIT_TIMEOUT_STOP_S  # what check-config --unit-paths compares a config with


def test_check_config_asks_for_a_longer_stop_timeout_when_the_shutdown_needs_it(tmp_path):
    from flickerd import config
    from flickerd.commands.check_config import unit_path_lines

    short = config.loads("[daemon]\nshutdown_timeout_s = 30\n", base_dir=tmp_path)
    assert not any(line.startswith("TimeoutStopSec=") for line in unit_path_lines(short))
    long = config.loads("[daemon]\nshutdown_timeout_s = 300\n", base_dir=tmp_path)
    assert "TimeoutStopSec=330" in unit_path_lines(long)

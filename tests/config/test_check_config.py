"""``flickerd check-config``: the real command as a subprocess, and its systemd drop-in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flickerd import config
from flickerd.commands.check_config import rule_count, systemd_path, unit_path_lines
from flickerd.rules import DEFAULT_RULES

REPO = Path(__file__).resolve().parents[2]
FLICKERD = Path(sys.executable).with_name("flickerd")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(FLICKERD), "check-config", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def test_valid_file_exits_0_with_a_summary(tmp_path):
    example = REPO / "config" / "flickerd.toml"
    done = run(str(example))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{example}: OK (1 folder, {len(DEFAULT_RULES)} rules)\n"


def test_embedded_default_without_a_file(tmp_path):
    done = run(cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"embedded default: OK (1 folder, {len(DEFAULT_RULES)} rules)\n"


def test_invalid_file_exits_1_with_every_error_and_its_key_path(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[folders]]\npath = "a"\n[[folders]]\npath = "b"\n[[folders.rules]]\nname = "x"\n'
                    'steps = [{ route = "rif" }]\nactoin = "fix"\n')
    done = run(str(path))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"{path}: 2 errors:\n")
    assert "folders[1].rules[0].steps[0].route: unknown route 'rif'; did you mean 'rife'?" in done.stderr
    assert "folders[1].rules[0].actoin: unknown key; did you mean 'action'?" in done.stderr


def test_syntax_error_exits_1_with_the_line(tmp_path):
    path = tmp_path / "syntax.toml"
    path.write_text("[daemon]\nlog_level = info\n")
    done = run(str(path))
    assert done.returncode == 1
    assert done.stderr.startswith(f"{path}, line 2, column ") and ": invalid TOML: " in done.stderr


def test_missing_file_exits_1(tmp_path):
    done = run(str(tmp_path / "nope.toml"))
    assert done.returncode == 1 and "cannot be read" in done.stderr


def _two_folders(tmp_path: Path) -> config.Config:
    (tmp_path / "in put").mkdir()
    (tmp_path / "in put.fixed").mkdir()
    text = f'''
[daemon]
state_dir = "{tmp_path}/state"
[[folders]]
path = "in put"
[[folders]]
path = "nas%1"
output = "/srv/out"
on_success = "move"
archive = "done"
[[folders.rules]]
name = "r"
steps = ["rife"]
'''
    path = tmp_path / "two.toml"
    path.write_text(text)
    return config.load(path)


def test_unit_path_lines(tmp_path):
    cfg = _two_folders(tmp_path)
    lines = unit_path_lines(cfg, exists=os.path.exists)
    assert lines[1] == "[Service]"
    assert f'ReadOnlyPaths="-{tmp_path}/in put"' in lines
    assert f"ReadWritePaths={tmp_path}/nas%%1" in lines  # files are moved out of it
    assert f'ReadWritePaths="{tmp_path}/in put.fixed"' in lines
    assert "ReadWritePaths=/srv/out" in lines
    assert f"ReadWritePaths={tmp_path}/done" in lines
    assert f"ReadWritePaths={tmp_path}/state" in lines
    assert not any(line.startswith("ReadOnlyPaths=") and "nas" in line for line in lines)
    missing = [line for line in lines if line.startswith("#   mkdir -p ")]
    assert f"#   mkdir -p {tmp_path}/state" in missing and "#   mkdir -p /srv/out" in missing
    assert not any("in put.fixed" in line for line in missing)
    assert rule_count(cfg) == 1 + len(DEFAULT_RULES)  # the folder's own rule + the shared defaults of the other


def test_systemd_path_quoting():
    assert systemd_path(Path("/a/b")) == "/a/b"
    assert systemd_path(Path("/a/b"), "-") == "-/a/b"
    assert systemd_path(Path("/a b/100%")) == '"/a b/100%%"'
    assert systemd_path(Path('/q"\\\n')) == '"/q\\"\\\\\\x0a"'


def test_unit_paths_command_output_is_a_clean_drop_in(tmp_path):
    _two_folders(tmp_path)
    done = run("--unit-paths", str(tmp_path / "two.toml"))
    assert done.returncode == 0, done.stderr
    assert f"OK (2 folders, {1 + len(DEFAULT_RULES)} rules)" in done.stderr  # the summary stays off stdout
    body = [line for line in done.stdout.splitlines() if not line.startswith("#")]
    assert body[0] == "[Service]"
    assert all(line.startswith(("ReadOnlyPaths=", "ReadWritePaths=")) for line in body[1:])
    assert len(body) == 1 + 1 + 5  # header; one read-only input; the moved input, 2 outputs, archive, state


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_drop_in(tmp_path):
    _two_folders(tmp_path)
    done = run("--unit-paths", str(tmp_path / "two.toml"))
    unit = tmp_path / "flickerd-check.service"
    unit.write_text("[Unit]\nDescription=check\n[Service]\nType=simple\nExecStart=/bin/true\nProtectSystem=strict\n")
    dropin = tmp_path / "flickerd-check.service.d"
    dropin.mkdir()
    (dropin / "paths.conf").write_text(done.stdout)
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in verify.stderr.splitlines() if "paths.conf" in line]
    assert complaints == []
    # and the check can fail: a path systemd cannot parse is reported
    (dropin / "paths.conf").write_text('[Service]\nReadWritePaths="/unterminated\n')
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert any("paths.conf" in line for line in verify.stderr.splitlines())

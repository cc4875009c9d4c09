"""``flickerd run --watch``: a folder that is not there is a typo, and the state never lands in the cwd."""

from __future__ import annotations

import pytest

from tests.service.helpers import run_cli, write_config

pytestmark = pytest.mark.timeout(60)


def test_watch_of_a_missing_folder_is_an_error_that_creates_nothing(tmp_path):
    done = run_cli(tmp_path, "run", "--watch", "typo/renders", "--once")
    assert done.returncode == 2
    assert done.stderr.strip() == (f"flickerd: --watch {tmp_path}/typo/renders: no such folder; check the path, "
                                   "or add --create to make it.")
    assert list(tmp_path.iterdir()) == []  # no folder, no .fixed sibling, no ./hotfolder state


def test_watch_create_makes_the_folder_and_keeps_state_beside_its_output(tmp_path):
    done = run_cli(tmp_path, "run", "--watch", "renders", "--create", "--once", "--metrics-address", "off")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["renders", "renders.fixed"]
    assert (tmp_path / "renders.fixed" / ".flickerd-state" / "journal.sqlite3").is_file()
    status = run_cli(tmp_path, "status", "--state-dir", "renders.fixed/.flickerd-state")
    assert status.returncode == 0 and "jobs:" in status.stdout


def test_create_needs_watch(tmp_path):
    done = run_cli(tmp_path, "run", "--create", "--once")
    assert done.returncode == 2 and "--create makes missing --watch folders" in done.stderr


def test_a_config_files_missing_folder_still_pauses(tmp_path):
    cfg = write_config(tmp_path, folder_extra='[[folders]]\nname = "share"\npath = "mnt/share"\n')
    done = run_cli(tmp_path, "run", "-c", str(cfg), "--once", "--metrics-address", "off")
    assert done.returncode == 0, done.stderr
    assert '"why": "missing"' in done.stdout and '"event": "folder_paused"' in done.stdout
    assert not (tmp_path / "mnt" / "share").exists()  # paused, not created (its output is made as before)

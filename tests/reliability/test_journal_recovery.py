"""A lost or broken journal: refused with the way out, and rebuilt from the published reports, so that
nothing already published is processed again (real ``flickerd run`` and ``flickerd journal recover``)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.reliability.helpers import FFMPEG_RULES, make_clip, rows, run_cli, write_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

EXIT_JOURNAL_BROKEN = 4


def journal(root: Path) -> Path:
    return root / "state" / "journal.sqlite3"


def processed(root: Path, cfg: Path) -> dict[str, dict]:
    """Drop three inputs (a fix, a copy of it, a file that is not a video), run ``--once``; rows by name."""
    make_clip(root / "in" / "a.mp4", flicker=12)
    shutil.copy(root / "in" / "a.mp4", root / "in" / "copy.mp4")
    (root / "in" / "bad.mp4").write_text("not a video\n")
    done = run_cli(root, "run", "-c", str(cfg), "--once", timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    got = {Path(r["path"]).name: r for r in rows(root)}
    assert {n: r["state"] for n, r in got.items()} == {"a.mp4": "done", "copy.mp4": "done", "bad.mp4": "quarantined"}
    return got


def damage(db: Path, how: str) -> None:
    for side in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        side.unlink(missing_ok=True)
    if how == "zero_bytes":
        db.write_bytes(b"")
    elif how == "not_sqlite":
        db.write_bytes(os.urandom(8192))
    else:  # a valid header, a page of the jobs table overwritten
        con = sqlite3.connect(db)
        page = con.execute("PRAGMA page_size").fetchone()[0]
        root_page = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'jobs'").fetchone()[0]
        con.close()
        with open(db, "r+b") as f:
            f.seek((root_page - 1) * page)
            f.write(b"\xa5" * page)


@pytest.mark.parametrize("how", ["zero_bytes", "not_sqlite", "damaged_page"])
def test_a_broken_journal_is_refused_with_the_recovery_command(tmp_path, how):
    cfg = write_config(tmp_path, settle_s=0.1)
    make_clip(tmp_path / "in" / "a.mp4")
    assert run_cli(tmp_path, "run", "-c", str(cfg), "--once").returncode == 0
    report = tmp_path / "in.fixed" / "a.report.json"
    published = report.stat().st_mtime_ns
    damage(journal(tmp_path), how)
    before = journal(tmp_path).read_bytes()

    got = run_cli(tmp_path, "run", "-c", str(cfg), "--once")
    assert got.returncode == EXIT_JOURNAL_BROKEN, got.stdout[-2000:] + got.stderr
    assert "flickerd journal recover" in got.stderr and "permissions" not in got.stderr, got.stderr
    assert journal(tmp_path).read_bytes() == before, "the broken journal was changed"
    assert report.stat().st_mtime_ns == published, "a.mp4 was processed again"
    status = run_cli(tmp_path, "status", "-c", str(cfg))
    assert status.returncode != 0 and "flickerd journal recover" in status.stderr, status.stderr


def test_journal_recover_rebuilds_what_was_published_and_nothing_runs_again(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.1, rules=FFMPEG_RULES, folder_extra="auto_accept = true")
    before = processed(tmp_path, cfg)
    out = tmp_path / "in.fixed"
    published = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    # a report from before the key carried the content hash: it cannot stand for its source
    make_clip(tmp_path / "in" / "old.mp4", seed=5)
    old = json.loads((out / "a.report.json").read_text())
    old.update(source={"path": str(tmp_path / "in" / "old.mp4"), "probe": None}, job={"id": 90, "attempts": 1},
               key={"sha256": None, "rules_hash": None, "route_versions": None}, output=None)
    (out / "old.report.json").write_text(json.dumps(old))
    damage(journal(tmp_path), "zero_bytes")

    got = run_cli(tmp_path, "journal", "recover", "-c", str(cfg))
    assert got.returncode == 0, got.stdout + got.stderr
    aside = [p for p in (tmp_path / "state").iterdir() if p.name.startswith("journal.sqlite3.broken-")]
    assert len(aside) == 1 and aside[0].stat().st_size == 0, sorted(os.listdir(tmp_path / "state"))
    assert "3 jobs" in got.stdout and "1 report" in got.stdout and "old.report.json" in got.stdout, got.stdout
    after = {Path(r["path"]).name: r for r in rows(tmp_path)}
    for name, was in before.items():
        now = after[name]
        for key in ("id", "state", "sha256", "rules_hash", "route_versions", "output_path", "report_path", "outcome"):
            assert now[key] == was[key], (name, key, now[key], was[key])
    assert after["copy.mp4"]["duplicate_of"] == before["copy.mp4"]["duplicate_of"] == before["a.mp4"]["id"]

    rerun = run_cli(tmp_path, "run", "-c", str(cfg), "--once", timeout=120)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    started = [json.loads(line)["file"] for line in rerun.stdout.splitlines() if '"event": "job_started"' in line]
    assert started == [str(tmp_path / "in" / "old.mp4")], started  # only the one whose report had no hash
    for path, mtime in published.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was written again"
    assert len(rows(tmp_path)) == 4
    # new jobs take ids after the rebuilt ones
    assert rows(tmp_path, "path LIKE '%old.mp4'")[-1]["id"] > max(r["id"] for r in before.values())


def test_journal_recover_refuses_while_a_daemon_holds_the_state_dir_and_leaves_a_good_journal(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.1)
    make_clip(tmp_path / "in" / "a.mp4")
    assert run_cli(tmp_path, "run", "-c", str(cfg), "--once").returncode == 0
    healthy = run_cli(tmp_path, "journal", "recover", "-c", str(cfg))
    assert healthy.returncode == 0 and "nothing to recover" in healthy.stdout, healthy.stdout + healthy.stderr
    assert [p.name for p in (tmp_path / "state").iterdir() if "broken" in p.name] == []
    assert len(rows(tmp_path)) == 1


def test_a_daemon_starting_into_a_fresh_state_dir_rebuilds_from_the_reports(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.1, rules=FFMPEG_RULES, folder_extra="auto_accept = true")
    before = processed(tmp_path, cfg)
    shutil.rmtree(tmp_path / "state")  # lost with its disk, or deleted under a running daemon (exit 3)
    rerun = run_cli(tmp_path, "run", "-c", str(cfg), "--once", timeout=120)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert '"event": "journal_rebuilt"' in rerun.stdout, rerun.stdout[-3000:]
    assert '"event": "job_started"' not in rerun.stdout, rerun.stdout[-3000:]
    assert sorted(r["id"] for r in rows(tmp_path)) == sorted(r["id"] for r in before.values())


def test_a_folder_configured_again_after_a_recovery_without_it_gets_its_jobs_back(tmp_path):
    other = '[[folders]]\nname = "other"\npath = "other"\nsettle_s = 0.1\n'
    cfg = write_config(tmp_path, settle_s=0.1, folder_extra=other)
    make_clip(tmp_path / "in" / "a.mp4", seed=1)
    make_clip(tmp_path / "other" / "b.mp4", seed=2)
    assert run_cli(tmp_path, "run", "-c", str(cfg), "--once").returncode == 0
    with_other = cfg.read_text()
    cfg.write_text(with_other.replace(other, ""))  # the folder leaves the config...
    damage(journal(tmp_path), "zero_bytes")
    assert run_cli(tmp_path, "journal", "recover", "-c", str(cfg)).returncode == 0  # ...and the journal is lost
    assert [Path(r["path"]).name for r in rows(tmp_path)] == ["a.mp4"]
    cfg.write_text(with_other)  # back in the config: its reports are taken in, its file is not processed again
    rerun = run_cli(tmp_path, "run", "-c", str(cfg), "--once", timeout=120)
    assert rerun.returncode == 0 and '"event": "journal_rebuilt"' in rerun.stdout, rerun.stdout[-3000:]
    assert '"event": "job_started"' not in rerun.stdout, rerun.stdout[-3000:]
    assert [r["state"] for r in rows(tmp_path)] == ["done", "done"]

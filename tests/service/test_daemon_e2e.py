"""``flickerd run`` end to end: real subprocesses, real clips, the real journal and pipeline."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from flickerd.report.json_report import SCHEMA_VERSION
from tests.service.helpers import (
    Daemon, make_clip, rows, run_cli, scrape, sha256, wait_for, write_config,
)

pytestmark = pytest.mark.timeout(120)

FIX_RULES = """
[[rules]]
name = "clean"
when = { verdict = ["clean"] }
action = "report"

[[rules]]
name = "smooth"
action = "fix"
steps = [{ route = "rife", params = { mode = "smooth" } }]
"""


def hidden_files(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob(".*")]


@pytest.mark.slow
def test_drop_clips_fix_report_duplicate_and_review(tmp_path):
    cfg = write_config(tmp_path, rules=FIX_RULES, folder_extra="""
[[folders]]
name = "review"
path = "review"
settle_s = 0.3
auto_accept = false

[[folders.rules]]
name = "candidate"
action = "review"
steps = [{ route = "rife", params = { mode = "smooth" } }]
""")
    src = tmp_path / "in"
    flick = make_clip(src / "flicker.mp4", flicker=20)
    clean = make_clip(src / "clean.mp4", seed=1)
    shutil.copy(flick, src / "again.mp4")  # the same content under another name
    cand = make_clip(tmp_path / "review" / "cand.mp4", flicker=20, seed=2)
    before = {p.name: sha256(p) for p in (flick, clean, src / "again.mp4", cand)}

    d = Daemon(tmp_path, "--once", config=cfg)
    assert d.wait(90) == 0, d.log()

    out = tmp_path / "in.fixed"
    jobs = {Path(r["path"]).name: r for r in rows(tmp_path)}
    assert set(jobs) == {"flicker.mp4", "clean.mp4", "again.mp4", "cand.mp4"}
    # whichever copy settled first is processed; the other is the duplicate
    a, b = (Path(j["path"]).stem for j in sorted((jobs["flicker.mp4"], jobs["again.mp4"]), key=lambda j: j["id"]))
    orig, dup = jobs[a + ".mp4"], jobs[b + ".mp4"]
    # the flickering clip: fixed video + its reports, published under the source's name
    assert orig["state"] == "done" and orig["outcome"] == "done", d.log()
    assert orig["route"] == "rife"
    for kind in (".mp4", ".report.json", ".flicker.png", ".compare.mp4"):
        assert (out / (a + kind)).stat().st_size > 0, kind
    assert orig["output_path"] == str(out / f"{a}.mp4")
    report = json.loads((out / f"{a}.report.json").read_text())
    assert report["output"] == orig["output_path"]  # the published file, not the job's workdir
    # the journal's idempotence key travels with the report: a lost journal can be rebuilt from these
    assert report["key"] == {"sha256": orig["sha256"], "rules_hash": orig["rules_hash"],
                             "route_versions": orig["route_versions"]}
    assert report["job"]["id"] == orig["id"]
    # the clean clip: a report, no video
    assert jobs["clean.mp4"]["outcome"] == "report_only"
    assert (out / "clean.report.json").exists() and not (out / "clean.mp4").exists()
    # the re-drop: processed once, linked to the earlier output, with a note
    assert dup["outcome"] == "duplicate" and dup["duplicate_of"] == orig["id"]
    assert os.path.samefile(out / f"{b}.mp4", out / f"{a}.mp4")
    note = json.loads((out / f"{b}.report.json").read_text())
    assert note["duplicate_of"]["file"] == orig["path"] and "not processed again" in note["reason"]
    assert (note["schema"], note["kind"], note["status"]) == (SCHEMA_VERSION, "flickerd.report", "duplicate")
    assert note["output"] == str(out / f"{b}.mp4") and note["key"]["sha256"] == orig["sha256"]
    assert dup["route"] == "rife" and dup["attempts"] == 1
    assert d.log().count('"verdict": "generative_flicker"') == 2  # flicker + cand diagnosed; the duplicate was not
    # a folder that wants review: the candidate waits under _review/, approve publishes it
    rev = tmp_path / "review.fixed"
    assert jobs["cand.mp4"]["state"] == "review"
    assert (rev / "_review" / "cand.mp4").exists() and not (rev / "cand.mp4").exists()
    res = run_cli(tmp_path, "approve", "-c", str(cfg), str(jobs["cand.mp4"]["id"]))
    assert res.returncode == 0, res.stderr
    assert (rev / "cand.mp4").exists() and (rev / "cand.report.json").exists()
    approved = json.loads((rev / "cand.report.json").read_text())
    assert approved["status"] == "done" and approved["output"] == str(rev / "cand.mp4")
    assert not (rev / "_review" / "cand.mp4").exists()
    assert rows(tmp_path, f"id = {jobs['cand.mp4']['id']}")[0]["state"] == "done"
    # sources untouched, no temp leftovers, workdirs gone
    assert {p.name: sha256(p) for p in (flick, clean, src / "again.mp4", cand)} == before
    assert hidden_files(out) == [] and hidden_files(rev) == []
    assert list((tmp_path / "state" / "work").iterdir()) == []


@pytest.mark.slow
def test_slow_writer_waits_rename_in_is_immediate_and_polling_works(tmp_path):
    cfg = write_config(tmp_path, settle_s=3.0, settle_max_s=60, folder_extra="""
[[folders]]
name = "nfs"
path = "nfs"
poll = true
poll_interval_s = 0.5
settle_s = 0.3
""")
    (tmp_path / "nfs").mkdir()
    payload = make_clip(tmp_path / "clip.bin.mp4").read_bytes()
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        slow = tmp_path / "in" / "slow.mp4"
        done_writing = threading.Event()

        def writer():  # 10 chunks, one per second: the file grows for ~10 s
            step = len(payload) // 10 + 1
            with open(slow, "wb") as f:
                for i in range(0, len(payload), step):
                    f.write(payload[i:i + step])
                    f.flush()
                    time.sleep(1.0)
            done_writing.set()

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(2.0)
        # an atomic rename-in is complete by definition: journaled well before settle_s (3 s)
        tmp = make_clip(tmp_path / "in" / ".fast.tmp.mp4", seed=5)
        renamed_at = time.monotonic()
        tmp.rename(tmp_path / "in" / "fast.mp4")
        wait_for(lambda: rows(tmp_path, "path LIKE '%fast.mp4'"), 10, what="fast.mp4 journaled")
        assert time.monotonic() - renamed_at < 1.5
        # a polling folder (rescans are every 600 s here, so only the poll observer can find it)
        make_clip(tmp_path / "nfs" / "polled.mp4", seed=3)
        wait_for(lambda: rows(tmp_path, "path LIKE '%polled.mp4' AND state = 'done'"), 20, what="polled done")
        while not done_writing.is_set():
            assert rows(tmp_path, "path LIKE '%slow.mp4'") == [], "picked up while still being written"
            time.sleep(0.2)
        t.join()
        finished = time.monotonic()
        got = wait_for(lambda: rows(tmp_path, "path LIKE '%slow.mp4' AND state = 'done'"), 20, what="slow done")
        assert time.monotonic() - finished >= 2.0  # it waited for settle_s after the last write
        assert got[0]["sha256"] == sha256(slow)
        st = run_cli(tmp_path, "status", "-c", str(cfg), "--json")
        assert st.returncode == 0, st.stderr
        assert json.loads(st.stdout)["counts"]["done"] == 3
    finally:
        code = d.stop()
    assert code == 0, d.log()
    assert '"daemon_stopped"' in d.log()


@pytest.mark.slow
def test_kill_9_while_running_then_restart_completes_once(tmp_path):
    cfg = write_config(tmp_path, rules=FIX_RULES)
    src = make_clip(tmp_path / "in" / "k.mp4", frames=24, flicker=20)
    digest = sha256(src)
    out = tmp_path / "in.fixed"
    d = Daemon(tmp_path, config=cfg)
    try:
        wait_for(lambda: rows(tmp_path, "state = 'running'"), 60, interval=0.02, what="job running")
    finally:
        d.kill()  # SIGKILL: no cleanup of any kind
    job = rows(tmp_path)[0]
    assert job["state"] == "running" and job["attempts"] == 1
    # what an interrupted publish leaves behind: a temp output next to where the real one goes
    out.mkdir(exist_ok=True)
    (out / ".k.tmp.mp4").write_bytes(b"half a video")
    (out / ".k.report.tmp.json").write_bytes(b"{")

    d2 = Daemon(tmp_path, "--once", config=cfg)
    assert d2.wait(90) == 0, d2.log()
    job = rows(tmp_path)[0]
    assert len(rows(tmp_path)) == 1
    assert job["state"] == "done" and job["attempts"] == 2, d2.log()
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".mp4" and not p.name.endswith("compare.mp4")) == ["k.mp4"]
    assert hidden_files(out) == []
    assert sha256(src) == digest
    assert '"job_requeued"' in d2.log()


@pytest.mark.slow
def test_500_files_at_once_none_lost(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.1, settle_max_s=0.5)
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        for i in range(500):
            (tmp_path / "in" / f"f{i:03d}.mp4").write_text(f"not a video {i}\n")
        wait_for(lambda: len(rows(tmp_path)) >= 500 and not rows(tmp_path, "state = 'pending'"), 90, interval=0.5,
                 what="500 rows")
    finally:
        assert d.stop() == 0, d.log()[-3000:]
    got = rows(tmp_path)
    assert sorted(Path(r["path"]).name for r in got) == [f"f{i:03d}.mp4" for i in range(500)]
    assert {r["state"] for r in got} == {"quarantined"}
    assert {r["reason"] for r in got} == {"not_a_video"}
    assert len(list((tmp_path / "in.fixed" / "_failed").glob("*.report.json"))) == 500


def test_second_daemon_on_the_same_state_dir_refuses(tmp_path):
    cfg = write_config(tmp_path)
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        res = run_cli(tmp_path, "run", "-c", str(cfg), "--once")
        assert res.returncode != 0
        assert f"another flickerd daemon (pid {d.proc.pid})" in res.stderr, res.stderr
    finally:
        assert d.stop() == 0, d.log()


def test_bad_config_refuses_to_start_with_one_line(tmp_path):
    cfg = write_config(tmp_path, folder_extra="setle_s = 3")
    res = run_cli(tmp_path, "run", "-c", str(cfg))
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "setle_s" in lines[0], res.stderr
    assert not (tmp_path / "state" / "journal.sqlite3").exists()


def test_sighup_with_broken_config_keeps_old_and_folder_pause(tmp_path):
    cfg = write_config(tmp_path)
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        good = cfg.read_text()
        cfg.write_text(good + "\n[daemon\n")  # a TOML syntax error
        d.signal(signal.SIGHUP)
        d.wait_log("config_reload_failed")
        make_clip(tmp_path / "in" / "after.mp4")
        wait_for(lambda: rows(tmp_path, "state = 'done'"), 30, what="processed on the old config")
        assert d.proc.poll() is None
        # the daemon's own metrics say so too (counted in the daemon process, after the commit)
        text = scrape(d)
        assert 'flickerd_config_last_reload_successful 0.0' in text
        assert 'flickerd_jobs_total{outcome="report_only",route="none"} 1.0' in text
        assert 'flickerd_queue_depth{state="done"} 1.0' in text
        # the watched folder disappears (an unmounted share): pause, not "files deleted"
        (tmp_path / "in").rename(tmp_path / "away")
        d.wait_log("folder_paused")
        (tmp_path / "away").rename(tmp_path / "in")
        d.wait_log("folder_resumed")
        assert [r["state"] for r in rows(tmp_path)] == ["done"]
        cfg.write_text(good)
        d.signal(signal.SIGHUP)
        d.wait_log('"config_reloaded"')
    finally:
        assert d.stop() == 0, d.log()


def test_cli_status_retry_cancel(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.1, settle_max_s=0.3)
    (tmp_path / "in" / "text.mp4").write_text("hello")
    make_clip(tmp_path / "in" / "ok.mp4")
    d = Daemon(tmp_path, "--once", config=cfg)
    assert d.wait(60) == 0, d.log()
    by_name = {Path(r["path"]).name: r for r in rows(tmp_path)}
    assert by_name["text.mp4"]["state"] == "quarantined" and by_name["ok.mp4"]["state"] == "done"
    st = run_cli(tmp_path, "status", "-c", str(cfg))
    assert st.returncode == 0 and "quarantined" in st.stdout and "text.mp4" in st.stdout, st.stdout + st.stderr
    assert run_cli(tmp_path, "retry", "-c", str(cfg), "--failed").returncode == 0
    assert rows(tmp_path, "path LIKE '%text.mp4'")[0]["state"] == "pending"
    ok_id = str(by_name["ok.mp4"]["id"])
    res = run_cli(tmp_path, "cancel", "-c", str(cfg), ok_id)
    assert res.returncode == 1 and "already done" in res.stderr
    res = run_cli(tmp_path, "cancel", "-c", str(cfg), str(by_name["text.mp4"]["id"]))
    assert res.returncode == 0, res.stderr
    assert rows(tmp_path, "path LIKE '%text.mp4'")[0]["state"] == "cancelled"
    assert run_cli(tmp_path, "retry", "-c", str(cfg), "--all").returncode == 0
    assert {r["state"] for r in rows(tmp_path)} == {"pending"}
    res = run_cli(tmp_path, "retry", "-c", str(cfg), "999")
    assert res.returncode == 1 and "does not exist" in res.stderr


def test_embedded_default_quick_start(tmp_path):
    """The README's first command: no config, no --watch → ./hotfolder/incoming and its sibling output."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))  # stands in for systemd's notify socket, read as it arrives
    sock.settimeout(1.0)
    messages: list[str] = []
    stop_reading = threading.Event()

    def reader():
        while not stop_reading.is_set():
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                pass

    t = threading.Thread(target=reader)
    t.start()
    d = Daemon(tmp_path, "--metrics-address", "127.0.0.1:0",
               env={"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"})
    try:
        d.wait_log("daemon_started")
        assert (tmp_path / "hotfolder" / "incoming").is_dir()
        assert (tmp_path / "hotfolder" / "incoming.fixed").is_dir()
        staged = make_clip(tmp_path / "clean.mp4", seed=4)
        staged.rename(tmp_path / "hotfolder" / "incoming" / "clean.mp4")  # like a finished download or mv
        report = tmp_path / "hotfolder" / "incoming.fixed" / "clean.report.json"
        wait_for(report.exists, 60, what="the report")
    finally:
        assert d.stop() == 0, d.log()
    assert rows_in(tmp_path / "hotfolder" / ".flickerd-state")[0]["state"] == "done"
    time.sleep(0.3)
    stop_reading.set()
    t.join()
    sock.close()
    assert messages[0].startswith("READY=1") and messages[-1] == "STOPPING=1"
    assert "WATCHDOG=1" in messages and any(m.startswith("STATUS=") and "done" in m for m in messages)


def rows_in(state_dir: Path) -> list[dict]:
    import sqlite3

    con = sqlite3.connect(state_dir / "journal.sqlite3")
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM jobs ORDER BY id")]
    finally:
        con.close()


def test_sigterm_requeues_what_cannot_finish_and_exits_0(tmp_path):
    cfg = write_config(tmp_path, daemon_extra="", settle_s=0.1)
    cfg.write_text(cfg.read_text().replace("shutdown_timeout_s = 10", "shutdown_timeout_s = 0"))
    make_clip(tmp_path / "in" / "long.mp4", frames=40, width=160, height=120, flicker=10)
    d = Daemon(tmp_path, config=cfg)
    wait_for(lambda: rows(tmp_path, "state = 'running'"), 60, interval=0.02, what="job running")
    d.signal(signal.SIGTERM)
    assert d.wait(30) == 0, d.log()
    job = rows(tmp_path)[0]
    if job["state"] == "pending":  # interrupted: back in the queue, the attempt not counted
        assert job["attempts"] == 0 and '"job_requeued"' in d.log()
    else:  # it finished in the moment between our look and the signal
        assert job["state"] == "done"
    assert '"daemon_stopped"' in d.log()

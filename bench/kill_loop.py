"""Kill loop: `kill -9` the daemon at random moments with clips in flight, restart, prove nothing is lost or doubled.

Each run drops a few tiny clips into two folders (one report-only, one fixed by the ffmpeg
route and published as video), starts ``flickerd run``, waits a random 0–8 s after it reports
``daemon_started`` (a quarter of the runs: 0.05–1.5 s after exec, during recovery) and sends
SIGKILL. After each kill every file under a final name in the output trees must be complete
(videos open, reports parse). After the last run a ``--once`` daemon drains the journal; then
every input must have exactly one journal row in a final state and exactly one published
result (report, plus the video when it was fixed) or one failure record, no temp files may
remain, the sources must be byte-identical and SQLite's integrity check must pass.

``python -m bench kill_loop --runs 30`` (the CI test runs 5 with ``run_kill_loop``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench._checks import sha256_of, whole
from bench._daemon import work_root
from flickerd.service.publish import is_temp_name
from flickerd.synth.hostile import write_clip

FLICKERD = str(Path(sys.executable).with_name("flickerd"))
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
ENV.pop("NOTIFY_SOCKET", None)
FOLDERS = ("rep", "fix")
FINAL_STATES = {"done", "rejected", "failed", "quarantined", "review", "cancelled"}
KILL_AFTER_S = (0.0, 8.0)  # after "daemon_started": jobs (1-3 s each) settle, run and publish in this window
STARTUP_KILL_S = (0.05, 1.5)  # from exec: imports, journal recovery, temp sweep
STARTUP_KILL_SHARE = 0.25
DRAIN_TIMEOUT_S = 300.0

CONFIG = """
[daemon]
state_dir = "state"
metrics_address = "127.0.0.1:0"
cpu_workers = 2
gpu_slots = 0
max_attempts = 50
rescan_interval_s = 600
shutdown_timeout_s = 5

[[rules]]
name = "report-all"
action = "report"

[[folders]]
name = "rep"
path = "rep"
settle_s = 0.2
settle_max_s = 2.0

[[folders]]
name = "fix"
path = "fix"
settle_s = 0.2
settle_max_s = 2.0
auto_accept = true

[[folders.rules]]
name = "deflicker-all"
action = "fix"
steps = [{ route = "ffmpeg", params = { deflicker = true, deband = false } }]
"""
# max_attempts is high on purpose: each kill costs a running job one attempt, and a job that
# ran out of attempts because of kills would be quarantined for a fault that was not its own.


@dataclass
class Figures:
    runs: int = 0
    kills: int = 0
    jobs_interrupted: int = 0  # journal rows left "running" by a kill
    jobs_finished_between: int = 0  # jobs that finished before a kill (so kills also land around publishing)
    temp_swept: int = 0  # publish temp files a restart found and removed (a kill hit a publish)
    inputs: int = 0
    lost: int = 0  # inputs without a journal row in a final state or without their result
    duplicates: int = 0  # an input with more than one row, or more than one result
    incomplete_finals: int = 0  # a file under a final name that does not open / parse
    temp_left: int = 0
    sources_changed: int = 0
    journal_ok: bool = True
    seconds: float = 0.0
    states: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicates or self.incomplete_finals or self.temp_left
                    or self.sources_changed or not self.journal_ok)


def _drop(root: Path, folder: str, i: int) -> Path:
    """A clip made beside the folder and renamed in, as a render farm or ``mv`` does."""
    staged = write_clip(root / f".stage-{i}.mp4", seed=i, frames=8 + i % 5)
    final = root / folder / f"clip {i:03d}.mp4"  # a space in every name, for good measure
    staged.rename(final)
    return final


def _wait_started(proc: subprocess.Popen, log_path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if '"daemon_started"' in log_path.read_text():
            return
        time.sleep(0.02)


def check_finals(root: Path, figures: Figures) -> None:
    """Every file under a final name in the output trees is whole (a kill may leave only temp names)."""
    for folder in FOLDERS:
        for dirpath, _dirs, names in os.walk(root / f"{folder}.fixed"):
            for name in names:
                p = Path(dirpath) / name
                if not is_temp_name(name) and not whole(p):
                    figures.incomplete_finals += 1
                    figures.problems.append(f"incomplete file under a final name: {p}")


def _rows(root: Path) -> list[dict]:
    con = sqlite3.connect(root / "state" / "journal.sqlite3", timeout=30)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM jobs ORDER BY id")]
    finally:
        con.close()


def check_end(root: Path, sources: dict[Path, str], figures: Figures) -> None:
    """After the drain: one row and one result per input, nothing left over, sources intact."""
    db = root / "state" / "journal.sqlite3"
    if not db.exists():
        figures.journal_ok = False
        figures.lost += len(sources)
        figures.problems.append(f"no journal at {db}")
        return
    con = sqlite3.connect(db)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()
    if integrity != "ok":
        figures.journal_ok = False
        figures.problems.append(f"journal integrity: {integrity}")
    by_path: dict[str, list[dict]] = {}
    for r in _rows(root):
        by_path.setdefault(r["path"], []).append(r)
        figures.states[r["state"]] = figures.states.get(r["state"], 0) + 1
    for src, digest in sources.items():
        if not src.exists() or sha256_of(src) != digest:
            figures.sources_changed += 1
            figures.problems.append(f"source changed: {src}")
        jobs = by_path.get(str(src), [])
        if len(jobs) > 1:
            figures.duplicates += 1
            figures.problems.append(f"{len(jobs)} journal rows for {src}")
        if not jobs or jobs[0]["state"] not in FINAL_STATES:
            figures.lost += 1
            figures.problems.append(f"no final journal row for {src}: {jobs}")
            continue
        job = jobs[0]
        out = root / f"{src.parent.name}.fixed"
        reports = sorted(out.rglob(f"{src.stem}.report.json"))
        videos = sorted(p for p in out.rglob(src.name))
        if len(reports) != 1 or len(videos) > 1:
            figures.duplicates += len(reports) > 1 or len(videos) > 1
            figures.lost += not reports
            figures.problems.append(f"{src.name} ({job['state']}/{job['outcome']}): reports {reports}, videos {videos}")
        if job["outcome"] == "done" and (not job["output_path"] or not Path(job["output_path"]).exists()):
            figures.lost += 1
            figures.problems.append(f"{src.name} is done but its output {job['output_path']} is missing")
        if job["state"] in ("failed", "quarantined", "rejected") and reports and reports[0].parent.name != "_failed":
            figures.problems.append(f"{src.name} failed but its record is not under _failed/: {reports[0]}")
            figures.lost += 1
    for folder in FOLDERS:
        left = [str(Path(d) / n) for d, _s, names in os.walk(root / f"{folder}.fixed") for n in names
                if is_temp_name(n)]
        figures.temp_left += len(left)
        figures.problems += [f"temp file left: {p}" for p in left]
    work = root / "state" / "work"
    if work.exists() and any(work.iterdir()):
        figures.problems.append(f"workdirs left: {sorted(p.name for p in work.iterdir())}")
        figures.temp_left += 1


def run_kill_loop(root: Path, *, runs: int, clips_per_run: int = 2, seed: int = 0,
                  kill_after_s: tuple[float, float] = KILL_AFTER_S, log=lambda text: None) -> Figures:
    """The whole loop in ``root`` (an empty folder); returns the figures, problems listed."""
    rng = random.Random(seed)
    start = time.monotonic()
    figures = Figures()
    cfg = root / "flickerd.toml"
    cfg.write_text(CONFIG)
    for folder in FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)
    sources: dict[Path, str] = {}
    n = 0
    for run in range(runs):
        for _ in range(clips_per_run):
            src = _drop(root, FOLDERS[n % len(FOLDERS)], n)
            sources[src] = sha256_of(src)
            n += 1
        log_path = root / f"daemon-{run:03d}.log"
        with open(log_path, "w") as out:
            proc = subprocess.Popen([FLICKERD, "run", "-c", str(cfg)], cwd=root, stdout=out,
                                    stderr=subprocess.STDOUT, env=ENV)
            during_startup = rng.random() < STARTUP_KILL_SHARE
            if during_startup:  # while it recovers the journal and sweeps temp files
                delay = rng.uniform(*STARTUP_KILL_S)
            else:
                _wait_started(proc, log_path)
                delay = rng.uniform(*kill_after_s)
            time.sleep(delay)
            alive = proc.poll() is None
            if alive:
                os.kill(proc.pid, signal.SIGKILL)
            code = proc.wait(30)
        figures.runs += 1
        figures.kills += alive
        if not alive:
            figures.problems.append(f"run {run}: the daemon had exited by itself with {code} before its kill")
        running = sum(r["state"] == "running" for r in _rows(root)) if (root / "state" / "journal.sqlite3").exists() \
            else 0
        figures.jobs_interrupted += running
        text = log_path.read_text()
        figures.jobs_finished_between += text.count('"event": "job_finished"')
        figures.temp_swept += text.count('"temp_file_removed"')
        check_finals(root, figures)
        log(f"run {run + 1}/{runs}: killed {'during startup' if during_startup else 'after start'} "
            f"+{delay:.2f} s with {running} job(s) running; {n} inputs so far")
    figures.inputs = n
    with open(root / "daemon-drain.log", "w") as out:
        proc = subprocess.run([FLICKERD, "run", "-c", str(cfg), "--once"], cwd=root, stdout=out,
                              stderr=subprocess.STDOUT, env=ENV, timeout=DRAIN_TIMEOUT_S)
    figures.temp_swept += (root / "daemon-drain.log").read_text().count('"temp_file_removed"')
    if proc.returncode != 0:
        figures.problems.append(f"the draining daemon exited with {proc.returncode}")
        figures.journal_ok = False
    check_finals(root, figures)
    check_end(root, sources, figures)
    figures.seconds = time.monotonic() - start
    return figures


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench kill_loop")
    ap.add_argument("--runs", type=int, default=30, help="daemon starts, each ended by kill -9 (default 30)")
    ap.add_argument("--clips-per-run", type=int, default=2, help="clips dropped before each start (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", metavar="DIR", help="run in DIR and keep it (default: a temp dir)")
    args = ap.parse_args(argv)
    with work_root(args.keep) as root:
        fig = run_kill_loop(root, runs=args.runs, clips_per_run=args.clips_per_run, seed=args.seed, log=print)
    print(json.dumps({"runs": fig.runs, "faults_injected": fig.kills, "jobs_interrupted": fig.jobs_interrupted,
                      "jobs_finished_between_kills": fig.jobs_finished_between, "temp_files_swept": fig.temp_swept,
                      "inputs": fig.inputs, "lost": fig.lost,
                      "duplicates": fig.duplicates, "incomplete_finals": fig.incomplete_finals,
                      "temp_left": fig.temp_left, "sources_changed": fig.sources_changed,
                      "journal_ok": fig.journal_ok, "states": fig.states, "seconds": round(fig.seconds, 1)},
                     indent=2))
    for p in fig.problems:
        print("problem:", p)
    return 0 if fig.clean and not fig.problems else 1

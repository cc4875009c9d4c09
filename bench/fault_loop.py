"""Fault loop: the daemon (inotify) under a drip of clips while random faults fire; nothing lost or doubled.

``flickerd run`` watches ``rep`` (report only), ``fix`` (the ffmpeg route, video published),
``full`` (the same, its output a small tmpfs) and, while a reload has added it, ``extra``. A clip
is dropped every couple of seconds; between drips one fault of a shuffled cycle fires:

==================== ======================================================================
kill9                ``kill -9``, then a restart
fifo, socket, link   a named pipe, a bound socket, links leading out (and a dangling one) in ``rep``
rename/replace/      a long clip's source renamed, replaced by other content, or deleted while
delete               its job runs
recreate             ``rm -rf rep; mkdir rep``
reload               a config reload that adds ``extra`` (or removes it again)
disk_full            ``full``'s output tmpfs filled up while a clip waits, then freed
zero_journal         ``kill -9``, the journal truncated to 0 bytes, a start that must refuse it
                     (exit 4), ``flickerd journal recover``, a start
==================== ======================================================================

After each fault, probe clips go into the folder it touched every half second until one is
journaled within 2 s of its drop; the fault has recovered when that probe was taken in, which
must be within 10 s of the fault (after a deliberate exit, of the restart's ``daemon_started``).
At the end the daemon is stopped, a ``--once`` run drains what is left, and every clip still in
a watched folder must have one finished journal row for its content and one report (0 lost, 0
duplicates), nothing under a final name may be partial, no temp file may be left, and the daemon
may have exited only when the loop made it.

``python -m bench fault_loop --minutes 10``; the CI test runs two minutes (``run_fault_loop``).
Disk full needs a tmpfs mount (root); elsewhere that fault is skipped and said so.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench._checks import sha256_of, whole
from bench._daemon import ENV, FLICKERD, make_clip, work_root
from flickerd.service.publish import is_temp_name

KINDS = ("kill9", "fifo", "socket", "link", "rename", "replace", "delete", "recreate", "reload", "disk_full",
         "zero_journal")
MID_JOB = ("rename", "replace", "delete")
FINAL_STATES = {"done", "rejected", "failed", "quarantined", "review", "cancelled"}
LATENCY_OK_S = 2.0  # intake latency: a drop to its job_queued line
RECOVER_WITHIN_S = 10.0  # ... back under LATENCY_OK_S this soon after a fault
LOADED_WAIT_S = 45.0  # the most a mid-job fault waits for the workers to drain, and then for its clip to run
PROBE_EVERY_S = 0.5
DRIP_EVERY_S = (1.0, 2.5)
GAP_S = (1.0, 3.0)  # drips between two faults
EXIT_JOURNAL_BROKEN = 4
TMPFS_SIZE = "16m"
START_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 300.0

FOLDER = """
[[folders]]
name = "{name}"
path = "{name}"
settle_s = 0.2
settle_max_s = 2.0
{extra}"""
FIX_RULES = """auto_accept = true

[[folders.rules]]
name = "deflicker-all"
action = "fix"
steps = [{ route = "ffmpeg", params = { deflicker = true, deband = false } }]
"""
# rescan_interval_s at its default: a watch lost for good would show as a minute of latency
DAEMON = """
[daemon]
state_dir = "state"
metrics_address = "127.0.0.1:0"
cpu_workers = 2
gpu_slots = 0
max_attempts = 50
rescan_interval_s = 60
shutdown_timeout_s = 5

[[rules]]
name = "report-all"
action = "report"
"""
# max_attempts is high for the kill loop's reason: a job's attempts spent by kills are not its fault


@dataclass
class Drop:
    path: str
    folder: str
    at: float  # time.time() of the rename into the folder
    probe: bool = False  # dropped to measure a recovery (expected slow until it recovered)
    down: bool = False  # not yet taken in when the loop stopped the daemon: its wait is not latency
    latency: float | None = None  # seconds to its job_queued line


@dataclass
class Figures:
    seconds: float = 0.0
    faults: Counter = field(default_factory=Counter)  # fired, by kind
    landed: Counter = field(default_factory=Counter)  # mid-job faults that hit a running job
    skipped: dict[str, str] = field(default_factory=dict)  # kind -> why it could not fire
    recoveries: list[tuple[str, float | None]] = field(default_factory=list)  # (kind, seconds to recover)
    files_in: int = 0  # clips dropped (drips, probes, long clips, replacements)
    inputs: int = 0  # clips still in a watched folder at the end
    outputs: int = 0  # their published reports
    videos: int = 0  # their published videos
    lost: int = 0
    duplicates: int = 0
    partial: int = 0  # files under final names that do not open or parse
    temp_left: int = 0
    refused_made_jobs: int = 0  # special files or links that became jobs
    unexpected_exits: int = 0
    deliberate_exits: int = 0
    worst_latency_s: float = 0.0  # over the drips between faults (probes measure the recoveries)
    slow_drops: int = 0  # drips above LATENCY_OK_S
    slowest: list[tuple[str, float]] = field(default_factory=list)  # the slowest drips (name, seconds)
    states: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def worst_recovery_s(self) -> float | None:
        got = [s for _, s in self.recoveries]
        return None if any(s is None for s in got) else max(got, default=0.0)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicates or self.partial or self.temp_left or self.refused_made_jobs
                    or self.unexpected_exits or self.problems) and self.worst_recovery_s is not None \
            and self.worst_recovery_s <= RECOVER_WITHIN_S

    def summary(self) -> dict:
        return {"seconds": round(self.seconds, 1), "faults": dict(self.faults), "landed_mid_job": dict(self.landed),
                "skipped": self.skipped, "files_in": self.files_in, "inputs_at_end": self.inputs,
                "outputs": self.outputs, "videos": self.videos, "lost": self.lost, "duplicates": self.duplicates,
                "partial_finals": self.partial, "temp_left": self.temp_left,
                "refused_made_jobs": self.refused_made_jobs, "unexpected_exits": self.unexpected_exits,
                "deliberate_exits": self.deliberate_exits, "worst_latency_s": round(self.worst_latency_s, 2),
                "slow_drops": self.slow_drops, "slowest_drips": self.slowest,
                "worst_recovery_s": None if self.worst_recovery_s is None else round(self.worst_recovery_s, 2),
                "recoveries_by_kind": _worst_by_kind(self.recoveries), "states": dict(self.states)}


def _worst_by_kind(recoveries: list[tuple[str, float | None]]) -> dict[str, float | None]:
    """The slowest recovery of each kind of fault; None when one never recovered."""
    out: dict[str, float | None] = {}
    for kind, s in recoveries:
        if kind not in out or out[kind] is not None:
            out[kind] = None if s is None else round(max(out.get(kind) or 0.0, s), 2)
    return out


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class LogReader:
    """Follows the current daemon's JSON log; remembers what the checks need from every log."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self._offset = 0
        self.epoch = 0  # a new journal (after zero_journal) starts a new epoch of job ids
        self.queued: dict[str, float] = {}  # file -> time of its first job_queued
        self.sha_of: dict[tuple[int, int], tuple[str, str]] = {}  # (epoch, job id) -> (file, sha12)
        self.processed: Counter = Counter()  # (file, sha12) -> jobs that ended done by processing
        self.events: Counter = Counter()

    def follow(self, path: Path) -> None:
        self.pump()
        self.path, self._offset = path, 0

    def pump(self) -> None:
        if self.path is None or not self.path.exists():
            return
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        for line in data[:end].splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if isinstance(e, dict):
                self._event(e)

    def _event(self, e: dict) -> None:
        name = e.get("event")
        self.events[name] += 1
        if name == "job_queued":
            self.queued.setdefault(e["file"], _epoch(e["timestamp"]))
            self.sha_of[(self.epoch, e["job_id"])] = (e["file"], e.get("sha256"))
        elif name == "job_finished" and e.get("state") == "done" and e.get("outcome") != "duplicate":
            key = self.sha_of.get((self.epoch, e.get("job_id")))
            if key is not None:
                self.processed[key] += 1


class FaultLoop:
    def __init__(self, root: Path, *, seed: int, log=print) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.say = log
        self.fig = Figures()
        self.logs = LogReader()
        self.drops: dict[str, Drop] = {}
        self.specials: list[Path] = []
        self.n = 0
        self.starts = 0
        self.proc: subprocess.Popen | None = None
        self.extra = False
        self.tmpfs = False
        self.next_drip = 0.0
        self.stage = root / ".stage"
        self.whole: dict[str, tuple[int, int, int]] = {}  # final names found complete, by version
        self.outside = root / "outside"

    # ---- setup, daemon ------------------------------------------------------------------

    def setup(self) -> None:
        for name in ("rep", "fix", "full", "extra", ".stage", "outside"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        make_clip(self.outside / "secret.mp4", seed=999)
        out = self.root / "full.fixed"
        out.mkdir(exist_ok=True)
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(out)],
                             capture_output=True, text=True)
        self.tmpfs = res.returncode == 0
        if not self.tmpfs:
            self.fig.skipped["disk_full"] = f"cannot mount a tmpfs here (needs root): {res.stderr.strip()}"
        self.write_config()

    def teardown(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        if self.tmpfs:
            subprocess.run(["umount", "-l", str(self.root / "full.fixed")], capture_output=True)

    def folders(self) -> list[str]:
        return ["rep", "fix", *(["full"] if self.tmpfs else []), *(["extra"] if self.extra else [])]

    def write_config(self) -> Path:
        text = DAEMON + "".join(FOLDER.format(name=n, extra=FIX_RULES if n in ("fix", "full") else "")
                                for n in self.folders())
        cfg = self.root / "flickerd.toml"
        tmp = self.root / ".flickerd.toml.new"
        tmp.write_text(text)
        os.replace(tmp, cfg)
        return cfg

    def start(self, *, wait: bool = True) -> float | None:
        """Start ``flickerd run``; with ``wait``, the time of its daemon_started line."""
        self.starts += 1
        log_path = self.root / f"daemon-{self.starts:03d}.log"
        out = open(log_path, "w")
        self.proc = subprocess.Popen([FLICKERD, "run", "-c", str(self.root / "flickerd.toml")], cwd=self.root,
                                     stdout=out, stderr=subprocess.STDOUT, env=ENV)
        out.close()
        self.logs.follow(log_path)
        if not wait:
            return None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            if '"event": "daemon_started"' in log_path.read_text(errors="replace"):
                return time.time()
            time.sleep(0.02)
        self.fig.problems.append(f"start {self.starts} did not reach daemon_started (exit {self.proc.poll()})")
        return time.time()

    def kill(self) -> None:
        self.tick()
        for d in self.drops.values():
            d.down = d.down or d.latency is None
        self.proc.kill()
        self.proc.wait(30)
        self.fig.deliberate_exits += 1
        self.logs.pump()
        self.check_finals()

    def supervise(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            self.fig.unexpected_exits += 1
            self.fig.problems.append(f"the daemon exited by itself with {self.proc.returncode} "
                                     f"(log {self.logs.path.name})")
            self.start()

    # ---- drops --------------------------------------------------------------------------

    def clip(self, *, long: bool = False) -> Path:
        """A new clip, unique content, made beside the folders (renamed in by ``drop``)."""
        self.n += 1
        staged = self.stage / f"{self.n:05d}.mp4"
        if long:  # an ffmpeg job of a few seconds: long enough to act on while it runs
            return make_clip(staged, frames=120, width=160, height=120, seed=self.n)
        return make_clip(staged, frames=8 + self.n % 5, seed=self.n)

    def drop(self, folder: str, *, long: bool = False, probe: bool = False) -> Drop:
        staged = self.clip(long=long)
        final = self.root / folder / f"c{self.n:05d}.mp4"
        os.rename(staged, final)
        d = Drop(str(final), folder, time.time(), probe)
        self.drops[d.path] = d
        self.fig.files_in += 1
        return d

    def tick(self, *, drip: bool = False) -> None:
        """Background duties while anything waits: follow the log, take latencies, supervise, drip."""
        self.logs.pump()
        for path, queued in self.logs.queued.items():
            d = self.drops.get(path)
            if d is not None and d.latency is None and queued >= d.at - 0.5:
                d.latency = max(0.0, queued - d.at)
        self.supervise()
        if drip and time.monotonic() >= self.next_drip:
            self.drop(self.rng.choice(("rep", "fix")))
            self.next_drip = time.monotonic() + self.rng.uniform(*DRIP_EVERY_S)

    def wait(self, seconds: float, *, drip: bool = False) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.tick(drip=drip)
            time.sleep(0.05)

    def until(self, cond, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.tick()
            if cond():
                return True
            time.sleep(0.05)
        return False

    def _journal(self, sql: str, args: tuple = ()) -> tuple | None:
        """One row from the daemon's journal, read-only (None: no row, or not readable yet)."""
        db = self.root / "state" / "journal.sqlite3"
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            try:
                return con.execute(sql, args).fetchone()
            finally:
                con.close()
        except sqlite3.Error:
            return None

    def state_of(self, path: str) -> str | None:
        row = self._journal("SELECT state FROM jobs WHERE path = ? ORDER BY id DESC LIMIT 1", (path,))
        return row[0] if row else None

    def busy(self) -> int:
        """Jobs the daemon has taken and not finished (pending or running)."""
        row = self._journal("SELECT COUNT(*) FROM jobs WHERE state IN ('pending', 'running')")
        return row[0] if row else 0

    def recover(self, kind: str, folder: str, t0: float) -> None:
        """Probe ``folder`` until a drop is taken in under LATENCY_OK_S; record how long after ``t0`` that was."""
        probes: list[Drop] = []
        end = time.monotonic() + RECOVER_WITHIN_S + LATENCY_OK_S + 1.0
        next_probe = 0.0
        while time.monotonic() < end:
            self.tick()
            good = [p for p in probes if p.latency is not None and p.latency < LATENCY_OK_S]
            if good:
                first = min(good, key=lambda p: p.at + p.latency)
                self.fig.recoveries.append((kind, first.at + first.latency - t0))
                return
            if time.monotonic() >= next_probe and time.time() < t0 + RECOVER_WITHIN_S:
                probes.append(self.drop(folder, probe=True))
                next_probe = time.monotonic() + PROBE_EVERY_S
            time.sleep(0.05)
        self.fig.recoveries.append((kind, None))
        self.fig.problems.append(f"{kind}: intake latency not under {LATENCY_OK_S:g} s within "
                                 f"{RECOVER_WITHIN_S:g} s (probes: {[p.latency for p in probes]})")

    # ---- faults: each returns (the folder to probe, when the fault was over) ----------------

    def kill9(self) -> tuple[str, float]:
        self.kill()
        return "rep", self.start()

    def fifo(self) -> tuple[str, float]:
        path = self.root / "rep" / f"fifo-{self.n}.mp4"
        os.mkfifo(path)
        self.specials.append(path)
        return "rep", time.time()

    def socket(self) -> tuple[str, float]:
        short = Path(tempfile.mkdtemp(prefix="s", dir=self.stage)) / "s"  # AF_UNIX paths are short
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(str(short))
        path = self.root / "rep" / f"sock-{self.n}.mp4"
        os.rename(short, path)
        short.parent.rmdir()
        self.specials.append(path)
        return "rep", time.time()

    def link(self) -> tuple[str, float]:
        out, dangling = self.root / "rep" / f"link-{self.n}.mp4", self.root / "rep" / f"dangling-{self.n}.mp4"
        out.symlink_to(self.outside / "secret.mp4")
        dangling.symlink_to(self.outside / "nothing-here.mp4")
        self.specials += [out, dangling]
        return "rep", time.time()

    def _running_long_clip(self, kind: str) -> Drop:
        # on a loaded machine the drip's clips can hold the workers for longer than the wait below:
        # let them drain first, so the fault meets its clip running rather than queued. At load 15 on
        # 2 cores 20 s was too short for either wait (two of three mid-job faults met a queued clip);
        # on a quiet machine both return within seconds.
        self.until(lambda: self.busy() == 0, LOADED_WAIT_S)
        d = self.drop("fix", long=True)
        if self.until(lambda: self.state_of(d.path) == "running", LOADED_WAIT_S):
            self.fig.landed[kind] += 1
        return d

    def rename(self) -> tuple[str, float]:
        d = self._running_long_clip("rename")
        os.rename(d.path, Path(d.path).with_name(f"renamed-{Path(d.path).name}"))
        return "fix", time.time()

    def replace(self) -> tuple[str, float]:
        d = self._running_long_clip("replace")
        os.rename(self.clip(long=True), d.path)  # other content under the same name, atomically
        self.fig.files_in += 1
        return "fix", time.time()

    def delete(self) -> tuple[str, float]:
        d = self._running_long_clip("delete")
        os.unlink(d.path)
        return "fix", time.time()

    def recreate(self) -> tuple[str, float]:
        shutil.rmtree(self.root / "rep")
        os.mkdir(self.root / "rep")
        return "rep", time.time()

    def reload(self) -> tuple[str, float]:
        self.extra = not self.extra
        self.write_config()
        seen = self.logs.events["config_reloaded"]
        self.proc.send_signal(signal.SIGHUP)
        if not self.until(lambda: self.logs.events["config_reloaded"] > seen, 10.0):
            self.fig.problems.append("a reload was not taken within 10 s")
        return ("extra" if self.extra else "rep"), time.time()

    def disk_full(self) -> tuple[str, float]:
        ballast = self.root / "full.fixed" / "ballast.bin"
        with open(ballast, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\xff" * 65536)
            except OSError:
                pass
        paused = self.logs.events["folder_paused"]
        self.drop("full")
        if not self.until(lambda: self.logs.events["folder_paused"] > paused, 20.0):
            self.fig.problems.append("disk_full: the folder was not paused within 20 s")
        ballast.unlink()
        return "full", time.time()

    def zero_journal(self) -> tuple[str, float]:
        self.kill()
        db = self.root / "state" / "journal.sqlite3"
        db.write_bytes(b"")
        for side in ("-wal", "-shm"):
            db.with_name(db.name + side).unlink(missing_ok=True)
        self.start(wait=False)
        try:
            code = self.proc.wait(START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            code = None
            self.proc.kill()
            self.proc.wait(30)
        self.logs.pump()
        if code != EXIT_JOURNAL_BROKEN:
            self.fig.problems.append(f"zero_journal: a start on a 0-byte journal ended {code}, not "
                                     f"{EXIT_JOURNAL_BROKEN} (refused)")
        else:
            self.fig.deliberate_exits += 1
        rec = subprocess.run([FLICKERD, "journal", "recover", "-c", str(self.root / "flickerd.toml")], cwd=self.root,
                             capture_output=True, text=True, env=ENV, timeout=300)
        if rec.returncode != 0:
            self.fig.problems.append(f"zero_journal: `flickerd journal recover` ended {rec.returncode}: "
                                     f"{rec.stderr.strip()[-300:]}")
        self.logs.epoch += 1
        return "rep", self.start()

    # ---- the loop -----------------------------------------------------------------------

    def run(self, seconds: float) -> Figures:
        begin = time.monotonic()
        self.setup()
        try:
            self.start()
            cycle: list[str] = []
            while time.monotonic() - begin < seconds:
                self.wait(self.rng.uniform(*GAP_S), drip=True)
                if not cycle:
                    cycle = [k for k in KINDS if k not in self.fig.skipped]
                    self.rng.shuffle(cycle)
                kind = cycle.pop()
                self.fig.faults[kind] += 1
                folder, t0 = getattr(self, kind)()
                self.say(f"{time.monotonic() - begin:6.1f} s  {kind:<12} (probing {folder})")
                self.recover(kind, folder, t0)
            self.finish()
        finally:
            self.teardown()
        self.fig.seconds = time.monotonic() - begin
        return self.fig

    def finish(self) -> None:
        """Stop the daemon, drain the rest with ``--once`` (every folder configured again), check."""
        self.wait(2.0)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
            self.fig.deliberate_exits += 1
        except subprocess.TimeoutExpired:
            self.fig.problems.append("the daemon did not stop within 60 s of SIGTERM")
            self.proc.kill()
            self.proc.wait(30)
        self.logs.pump()
        self.extra = True
        self.write_config()
        self.starts += 1
        drain_log = self.root / f"daemon-{self.starts:03d}-drain.log"
        with open(drain_log, "w") as out:
            res = subprocess.run([FLICKERD, "run", "-c", str(self.root / "flickerd.toml"), "--once"], cwd=self.root,
                                 stdout=out, stderr=subprocess.STDOUT, env=ENV, timeout=DRAIN_TIMEOUT_S)
        self.logs.follow(drain_log)
        self.logs.pump()
        if res.returncode != 0:
            self.fig.problems.append(f"the draining run ended {res.returncode}")
        self.check_finals()
        self.check_end()

    # ---- checks -------------------------------------------------------------------------

    def output_trees(self) -> list[Path]:
        return [self.root / f"{n}.fixed" for n in ("rep", "fix", "full", "extra")]

    def check_finals(self) -> None:
        """Every file under a final name in the output trees is whole (each version checked once)."""
        for tree in self.output_trees():
            for dirpath, _dirs, names in os.walk(tree):
                for name in names:
                    p = Path(dirpath) / name
                    if name == "ballast.bin" or is_temp_name(name):
                        continue
                    try:
                        st = p.stat()
                    except FileNotFoundError:
                        continue
                    version = (st.st_ino, st.st_size, st.st_mtime_ns)
                    if self.whole.get(str(p)) == version:
                        continue
                    if whole(p):
                        self.whole[str(p)] = version
                    else:
                        self.fig.partial += 1
                        self.fig.problems.append(f"partial file under a final name: {p}")

    def check_end(self) -> None:
        fig = self.fig
        db = self.root / "state" / "journal.sqlite3"
        con = sqlite3.connect(db)
        con.row_factory = sqlite3.Row
        rows = [dict(r) for r in con.execute("SELECT * FROM jobs ORDER BY id")]
        if con.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            fig.problems.append("journal integrity check failed")
        con.close()
        reports: dict[tuple[str, str], list[Path]] = {}
        for tree in self.output_trees():
            for p in tree.rglob("*.report.json"):
                if p.name.startswith("."):
                    continue
                doc = json.loads(p.read_text())
                key = ((doc.get("source") or {}).get("path"), (doc.get("key") or {}).get("sha256"))
                reports.setdefault(key, []).append(p)
        for folder in ("rep", "fix", "full", "extra"):
            for entry in os.scandir(self.root / folder):
                if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                    continue
                self._check_input(Path(entry.path), folder, rows, reports)
        for special in self.specials:
            if os.path.lexists(special) and any(r["path"] == str(special) for r in rows):
                fig.refused_made_jobs += 1
                fig.problems.append(f"a special file or link became a job: {special}")
        for tree in self.output_trees():
            left = [str(Path(d) / n) for d, _s, names in os.walk(tree) for n in names if is_temp_name(n)]
            fig.temp_left += len(left)
            fig.problems += [f"temp file left: {p}" for p in left]
        work = self.root / "state" / "work"
        if work.exists() and any(work.iterdir()):
            fig.temp_left += 1
            fig.problems.append(f"workdirs left: {sorted(p.name for p in work.iterdir())}")
        drips = sorted(((d.latency, Path(d.path).name) for d in self.drops.values()
                        if d.latency is not None and not (d.probe or d.down)), reverse=True)
        fig.worst_latency_s = drips[0][0] if drips else 0.0
        fig.slow_drops = sum(lat > LATENCY_OK_S for lat, _ in drips)
        fig.slowest = [(name, round(lat, 2)) for lat, name in drips[:3]]

    def _check_input(self, src: Path, folder: str, rows: list[dict], reports: dict) -> None:
        fig = self.fig
        fig.inputs += 1
        sha = sha256_of(src)
        mine = [r for r in rows if r["path"] == str(src) and r["sha256"] == sha]
        final = [r for r in mine if r["state"] in FINAL_STATES]
        if not final:
            fig.lost += 1
            fig.problems.append(f"{src}: no finished journal row for its content ({[r['state'] for r in mine]})")
            return
        job = final[-1]
        fig.states[job["state"]] += 1
        if job["state"] == "cancelled":
            if not (folder == "extra" and job["reason"] == "folder_removed"):
                fig.lost += 1
                fig.problems.append(f"{src}: cancelled ({job['reason']})")
            return
        found = reports.get((str(src), sha), [])
        if len(final) > 1 or len(found) > 1 or self.logs.processed[(str(src), sha[:12])] > 1:
            fig.duplicates += 1
            fig.problems.append(f"{src}: {len(final)} finished rows, reports {found}, "
                                f"processed {self.logs.processed[(str(src), sha[:12])]} times")
        if not found:
            fig.lost += 1
            fig.problems.append(f"{src} ({job['state']}/{job['outcome']}): no report for its content")
            return
        fig.outputs += 1
        if job["outcome"] == "done":
            if job["output_path"] and Path(job["output_path"]).exists():
                fig.videos += 1
            else:
                fig.lost += 1
                fig.problems.append(f"{src} is done but its output {job['output_path']} is missing")


def run_fault_loop(root: Path, *, minutes: float, seed: int = 0, log=lambda text: None) -> Figures:
    """The whole loop in ``root`` (an empty folder); returns the figures, problems listed."""
    return FaultLoop(root, seed=seed, log=log).run(minutes * 60.0)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench fault_loop")
    ap.add_argument("--minutes", type=float, default=10.0, help="how long faults fire (default 10)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", metavar="DIR", help="run in DIR and keep it (default: a temp dir)")
    args = ap.parse_args(argv)
    with work_root(args.keep) as root:
        fig = run_fault_loop(root, minutes=args.minutes, seed=args.seed, log=print)
    print(json.dumps(fig.summary(), indent=2))
    for p in fig.problems:
        print("problem:", p)
    return 0 if fig.clean else 1

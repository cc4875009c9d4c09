"""The job journal: one SQLite row per job, the daemon's queue and its memory across restarts.

WAL + ``synchronous=FULL``: a committed transition survives a power cut. Every state change
goes through ``Journal.transition`` (one transaction each); callers emit metrics and logs only
after it returns. Several processes may open the same journal (the daemon, ``flickerd status``,
``flickerd retry``); SQLite's locking and a busy timeout serialise their writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any

from flickerd.errors import JournalCorrupt, JournalError
from flickerd.service.fsync import fsync_dir

JOURNAL_NAME = "journal.sqlite3"
BUSY_TIMEOUT_MS = 10_000
SCHEMA_VERSION = 1
OUTPUTS_KEY = "outputs"  # meta: the output folders whose published reports this journal has taken in


class JobState(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    REJECTED = "rejected"
    FAILED = "failed"
    QUARANTINED = "quarantined"
    REVIEW = "review"
    CANCELLED = "cancelled"


TERMINAL: frozenset[JobState] = frozenset(
    {JobState.DONE, JobState.REJECTED, JobState.FAILED, JobState.QUARANTINED, JobState.CANCELLED}
)

# from -> allowed destinations; anything else is a bug or a race with another process.
ALLOWED: Mapping[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.RUNNING, JobState.CANCELLED, JobState.QUARANTINED, JobState.DONE}),
    JobState.RUNNING: frozenset(set(JobState) - {JobState.RUNNING}),
    JobState.DONE: frozenset({JobState.PENDING}),
    JobState.REJECTED: frozenset({JobState.PENDING}),
    JobState.FAILED: frozenset({JobState.PENDING}),
    JobState.QUARANTINED: frozenset({JobState.PENDING}),
    JobState.REVIEW: frozenset({JobState.DONE, JobState.REJECTED, JobState.PENDING}),
    JobState.CANCELLED: frozenset({JobState.PENDING}),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    folder TEXT NOT NULL,
    sha256 TEXT,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT,
    route TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    priority INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    error TEXT,
    reason TEXT,
    report_path TEXT,
    output_path TEXT,
    rules_hash TEXT,
    route_versions TEXT,
    node_id TEXT,
    progress REAL NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    duplicate_of INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (state, priority, id);
CREATE INDEX IF NOT EXISTS jobs_sha ON jobs (sha256);
CREATE INDEX IF NOT EXISTS jobs_path ON jobs (path);
CREATE TABLE IF NOT EXISTS hash_cache (
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (dev, ino, size, mtime_ns)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS job_attempts (
    job_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    node_id TEXT NOT NULL,
    pid INTEGER,
    started_at REAL NOT NULL,
    PRIMARY KEY (job_id, attempt)
);
"""


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    path: str
    folder: str
    sha256: str | None
    size: int
    mtime: float
    state: JobState
    outcome: str | None
    route: str | None
    attempts: int
    priority: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    reason: str | None
    report_path: str | None
    output_path: str | None
    rules_hash: str | None
    route_versions: str | None
    node_id: str | None
    progress: float
    cancel_requested: bool
    duplicate_of: int | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        data = {f.name: row[f.name] for f in fields(cls)}
        data["state"] = JobState(data["state"])
        data["cancel_requested"] = bool(data["cancel_requested"])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["state"] = self.state.value
        return d


_COLUMNS = frozenset(f.name for f in fields(Job)) - {"id"}


def journal_path(state_dir: str | os.PathLike) -> Path:
    return Path(state_dir) / JOURNAL_NAME


def is_corruption(exc: BaseException) -> bool:
    """Whether SQLite says the file itself is damaged (not locked, unwritable or full)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or any(
        s in str(exc) for s in ("file is not a database", "disk image is malformed"))


def broken(path: Path, what: str) -> JournalCorrupt:
    return JournalCorrupt(
        f"{path}: the journal {what}, so flickerd cannot tell which files it already processed, and it does "
        "not start rather than process every file again. Run `flickerd journal recover` with the same -c or "
        "--state-dir: it moves the broken journal aside and rebuilds the finished jobs from the reports in the "
        "output folders (see the README, \"A lost or broken journal\").")


def _apply_schema(db: sqlite3.Connection) -> None:
    """The tables and indexes (those missing) and the schema version."""
    db.executescript(_SCHEMA)
    db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))


def _create(path: Path) -> None:
    """Build a new journal beside ``path`` and link it into place whole, so that a reader
    (``flickerd status`` at the daemon's first start) never opens a journal without its tables.

    When another process links its journal first, that one stands and this one is dropped.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
    try:
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # kept in the file's header
            _apply_schema(db)
            # a new journal knows no output folder's reports yet (see journal_recovery.adopt_outputs)
            db.execute("INSERT INTO meta VALUES (?, '[]')", (OUTPUTS_KEY,))
        finally:
            db.close()  # the last connection: its WAL is checkpointed into the file and removed
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links (FAT, some FUSE mounts): a rename, unless one is there
            if not path.exists():
                os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            with contextlib.suppress(FileNotFoundError):
                os.remove(leftover)


class Journal:
    """The journal of one state dir. Thread-safe: one connection guarded by a lock."""

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        try:
            if self.path.exists() and self.path.stat().st_size == 0:
                # never a journal in the making (``_create`` links a whole file): opened, it would pass for new
                raise broken(self.path, "is empty (0 bytes)")
            if readonly:
                if not self.path.exists():
                    raise JournalError(f"{self.path}: no journal here; has the daemon run with this state dir?")
                uri = f"file:{self.path}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                                           isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if not self.path.exists():
                    _create(self.path)
                self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                                           isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if not readonly:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                _apply_schema(self._db)  # an older journal gets what this version added
        except (sqlite3.Error, OSError) as exc:
            if is_corruption(exc):
                raise broken(self.path, f"is damaged ({exc})") from exc
            raise JournalError(
                f"{self.path}: the journal cannot be opened ({exc}); check the state dir's permissions and free space."
            ) from exc

    @classmethod
    def in_state_dir(cls, state_dir: str | os.PathLike, *, readonly: bool = False) -> Journal:
        return cls(journal_path(state_dir), readonly=readonly)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE takes the write lock up front (no upgrade deadlocks)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if is_corruption(exc):
                    raise broken(self.path, f"is damaged ({exc})") from exc
                raise JournalError(f"{self.path}: the journal cannot be written ({exc}).") from exc

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(sql, tuple(args)).fetchall()
            except sqlite3.Error as exc:
                if is_corruption(exc):
                    raise broken(self.path, f"is damaged ({exc})") from exc
                raise JournalError(f"{self.path}: the journal cannot be read ({exc}).") from exc

    # ---- writes -------------------------------------------------------------------------

    def add(self, *, path: str, folder: str, sha256: str | None, size: int, mtime: float,
            state: JobState = JobState.PENDING, priority: int = 0, **extra: Any) -> Job:
        """Create a job row (the only way rows are born)."""
        unknown = set(extra) - _COLUMNS
        if unknown:
            raise ValueError(f"unknown job columns: {sorted(unknown)}")
        now = time.time()
        row = {"path": path, "folder": folder, "sha256": sha256, "size": size, "mtime": mtime,
               "state": JobState(state).value, "priority": priority, "created_at": now, **extra}
        if JobState(state) in TERMINAL:
            row.setdefault("finished_at", now)
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._tx() as db:
            cur = db.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", tuple(row.values()))
            job_id = cur.lastrowid
            got = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.from_row(got)

    def transition(self, job_id: int, to: JobState, *, expect: Iterable[JobState] | None = None,
                   **changes: Any) -> Job:
        """Move a job to ``to`` and set ``changes`` in one transaction; returns the new row.

        Raises ``JournalError`` when the job does not exist, its current state is not in
        ``expect`` (another process got there first), or the move is not in ``ALLOWED``.
        """
        unknown = set(changes) - _COLUMNS
        if unknown:
            raise ValueError(f"unknown job columns: {sorted(unknown)}")
        to = JobState(to)
        now = time.time()
        with self._tx() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JournalError(f"job {job_id} does not exist in {self.path}.")
            current = JobState(row["state"])
            if expect is not None and current not in set(expect):
                raise JournalError(f"job {job_id} is {current.value}, not {'/'.join(s.value for s in expect)}.")
            if to not in ALLOWED[current]:
                raise JournalError(f"job {job_id} cannot go from {current.value} to {to.value}.")
            values: dict[str, Any] = {"state": to.value, **changes}
            if to is JobState.RUNNING:
                values.setdefault("started_at", now)
                values.setdefault("progress", 0.0)
            if to in TERMINAL or to is JobState.REVIEW:
                values.setdefault("finished_at", now)
            if to is JobState.PENDING:
                values.setdefault("cancel_requested", 0)
            sets = ", ".join(f"{k} = ?" for k in values)
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*values.values(), job_id))
            got = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.from_row(got)

    def update(self, job_id: int, **changes: Any) -> None:
        """Change non-state columns (progress, cancel flag, mtime bookkeeping)."""
        unknown = set(changes) - (_COLUMNS - {"state"})
        if unknown:
            raise ValueError(f"not updatable without a transition: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in changes)
        with self._tx() as db:
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*changes.values(), job_id))

    def merge(self, jobs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Insert rebuilt rows in one transaction, in order; returns those that went in.

        A row whose (path, sha256) the journal has already is skipped; one whose ``id`` is taken gets a
        new one, and its duplicates' ``duplicate_of`` follows it (a skipped original's row stands in).
        """
        moved: dict[int, int | None] = {}  # a row's id in its report -> its id here
        inserted = []
        with self._tx() as db:
            for job in jobs:
                job = dict(job)
                unknown = set(job) - _COLUMNS - {"id"}
                if unknown:
                    raise ValueError(f"unknown job columns: {sorted(unknown)}")
                old_id = job.get("id")
                if job.get("duplicate_of") is not None:
                    job["duplicate_of"] = moved.get(job["duplicate_of"])
                had = db.execute("SELECT id FROM jobs WHERE path = ? AND sha256 IS ? ORDER BY id DESC LIMIT 1",
                                 (job["path"], job.get("sha256"))).fetchone()
                if had is not None:
                    moved[old_id] = had["id"]
                    continue
                if old_id is not None and db.execute("SELECT 1 FROM jobs WHERE id = ?", (old_id,)).fetchone():
                    del job["id"]
                cols = ", ".join(job)
                cur = db.execute(f"INSERT INTO jobs ({cols}) VALUES ({', '.join('?' for _ in job)})",
                                 tuple(job.values()))
                moved[old_id] = cur.lastrowid
                inserted.append(job)
        return inserted

    def meta(self, key: str) -> Any:
        """A JSON value kept beside the jobs, or None."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0]["value"]) if rows else None

    def set_meta(self, key: str, value: Any) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def requeue_running(self) -> list[Job]:
        """On start (and after a shutdown timeout): every ``running`` row back to ``pending``."""
        with self._tx() as db:
            rows = db.execute("SELECT * FROM jobs WHERE state = 'running'").fetchall()
            db.execute("UPDATE jobs SET state = 'pending', progress = 0, cancel_requested = 0 WHERE state = 'running'")
        return [Job.from_row(r) for r in rows]

    def record_attempt(self, job_id: int, node_id: str, pid: int | None, started_at: float) -> int:
        """A worker started this job (a Ray retry on another node is another attempt); returns its number.

        The job's ``node_id`` becomes the node of its latest attempt.
        """
        with self._tx() as db:
            row = db.execute("SELECT COUNT(*) AS n FROM job_attempts WHERE job_id = ?", (job_id,)).fetchone()
            attempt = int(row["n"]) + 1
            db.execute("INSERT INTO job_attempts VALUES (?, ?, ?, ?, ?)", (job_id, attempt, node_id, pid, started_at))
            db.execute("UPDATE jobs SET node_id = ? WHERE id = ?", (node_id, job_id))
        return attempt

    # ---- hash cache ---------------------------------------------------------------------

    def cached_hash(self, st: os.stat_result) -> str | None:
        rows = self._query(
            "SELECT sha256 FROM hash_cache WHERE dev = ? AND ino = ? AND size = ? AND mtime_ns = ?",
            (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns),
        )
        return rows[0]["sha256"] if rows else None

    def remember_hash(self, st: os.stat_result, sha256: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO hash_cache VALUES (?, ?, ?, ?, ?)",
                       (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, sha256))

    # ---- reads --------------------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        rows = self._query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return Job.from_row(rows[0]) if rows else None

    def attempts_of(self, job_id: int) -> list[dict[str, Any]]:
        """Every recorded start of a job, oldest first: attempt, node_id, pid, started_at."""
        rows = self._query("SELECT attempt, node_id, pid, started_at FROM job_attempts WHERE job_id = ? "
                           "ORDER BY attempt", (job_id,))
        return [dict(r) for r in rows]

    def sources_of_reports(self, report_paths: Sequence[str], exclude_path: str) -> list[str]:
        """Source paths (other than ``exclude_path``) whose published report is one of ``report_paths``."""
        if not report_paths:
            return []
        marks = ", ".join("?" for _ in report_paths)
        rows = self._query(f"SELECT DISTINCT path FROM jobs WHERE report_path IN ({marks}) AND path != ?",
                           (*report_paths, exclude_path))
        return [r["path"] for r in rows]

    def latest_for_path(self, path: str) -> Job | None:
        rows = self._query("SELECT * FROM jobs WHERE path = ? ORDER BY id DESC LIMIT 1", (path,))
        return Job.from_row(rows[0]) if rows else None

    def known(self, path: str, size: int, mtime: float) -> bool:
        """Whether this exact file version (path, size, mtime) already has a row: rescans skip it unhashed."""
        rows = self._query("SELECT 1 FROM jobs WHERE path = ? AND size = ? AND mtime = ? LIMIT 1", (path, size, mtime))
        return bool(rows)

    def find_original(self, sha256: str, rules_hash: str | None, exclude_path: str) -> Job | None:
        """The earliest job for the same content and rules under another name that ended ``done``
        or may still (pending, running): only a done job's output can stand for this one.

        Route versions are the third part of the key; they are known only once a job ran, so the
        worker compares them before linking (``worker.same_route_versions``).
        """
        rows = self._query(
            "SELECT * FROM jobs WHERE sha256 = ? AND rules_hash IS ? AND path != ? "
            "AND duplicate_of IS NULL AND state IN ('done', 'pending', 'running') ORDER BY id LIMIT 1",
            (sha256, rules_hash, exclude_path),
        )
        return Job.from_row(rows[0]) if rows else None

    def pending_outside(self, folders: Sequence[str]) -> list[Job]:
        """Pending jobs whose folder name is none of ``folders`` (removed or renamed in the config)."""
        where = f"AND folder NOT IN ({', '.join('?' for _ in folders)})" if folders else ""
        rows = self._query(f"SELECT * FROM jobs WHERE state = 'pending' {where} ORDER BY id", tuple(folders))
        return [Job.from_row(r) for r in rows]

    def next_pending(self, limit: int, exclude: Iterable[int] = ()) -> list[Job]:
        """The queue head: highest folder priority first, then oldest."""
        exclude = tuple(exclude)
        marks = ", ".join("?" for _ in exclude)
        where = f"AND id NOT IN ({marks})" if exclude else ""
        rows = self._query(
            f"SELECT * FROM jobs WHERE state = 'pending' {where} ORDER BY priority DESC, id LIMIT ?",
            (*exclude, limit),
        )
        return [Job.from_row(r) for r in rows]

    def by_state(self, *states: JobState, limit: int = 1000) -> list[Job]:
        marks = ", ".join("?" for _ in states)
        rows = self._query(f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY id LIMIT ?",
                           (*(s.value for s in states), limit))
        return [Job.from_row(r) for r in rows]

    def recent(self, limit: int = 20, *, queued: bool = True) -> list[Job]:
        """The latest jobs; ``queued=False`` leaves pending ones out (``flickerd status`` lists its
        queue apart: with 24 queued, its 20 "recent" rows were 15 of them and 4 finished jobs, qa19)."""
        where = "" if queued else "WHERE state != 'pending' "
        rows = self._query(f"SELECT * FROM jobs {where}ORDER BY COALESCE(finished_at, started_at, created_at) DESC, "
                           "id DESC LIMIT ?", (limit,))
        return [Job.from_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """State → number of jobs, every state present (zero when empty); the queue-depth source."""
        out = {s.value: 0 for s in JobState}
        for r in self._query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state"):
            out[r["state"]] = r["n"]
        return out

    def done_outcomes(self) -> dict[str, int]:
        """Outcome → number of jobs in state ``done``: a clean render reported as it is, one that
        needs a person and a published fix all end ``done``; ``flickerd status`` tells them apart."""
        return {r["outcome"] or "done": r["n"] for r in self._query(
            "SELECT outcome, COUNT(*) AS n FROM jobs WHERE state = 'done' GROUP BY outcome ORDER BY n DESC, outcome")}

    def cancelled_since(self, after: float) -> list[tuple[int, float, str | None]]:
        """(id, finished_at, reason) of the jobs cancelled at or after ``after`` (wall clock), oldest first."""
        rows = self._query("SELECT id, finished_at, reason FROM jobs WHERE state = 'cancelled' AND finished_at >= ? "
                           "ORDER BY finished_at, id", (after,))
        return [(r["id"], r["finished_at"], r["reason"]) for r in rows]

    def cancel_requests(self) -> list[int]:
        return [r["id"] for r in self._query("SELECT id FROM jobs WHERE state = 'running' AND cancel_requested = 1")]

    def mean_seconds(self, limit: int = 50) -> float | None:
        """Mean wall time of recent finished jobs, for ETAs."""
        rows = self._query(
            "SELECT AVG(finished_at - started_at) AS s FROM (SELECT finished_at, started_at FROM jobs "
            "WHERE state = 'done' AND started_at IS NOT NULL AND finished_at IS NOT NULL ORDER BY id DESC LIMIT ?)",
            (limit,),
        )
        return rows[0]["s"] if rows and rows[0]["s"] is not None else None

    def check(self) -> None:
        """``JournalCorrupt`` unless SQLite's quick check passes (every page read once; at start)."""
        rows = self._query("PRAGMA quick_check")
        first = rows[0][0] if rows else "no answer"
        if first != "ok":
            raise broken(self.path, f"is damaged (SQLite's quick check: {first})")

    def ping(self) -> bool:
        """Health check for the systemd watchdog: a trivial read succeeds."""
        try:
            self._query("SELECT 1")
            return True
        except JournalError:
            return False

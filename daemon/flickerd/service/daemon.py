"""The daemon: one loop from start to stop, like rq's ``work()``.

The loop owns the journal, the metrics and every state transition, and reads no file anyone
placed. Watchdog threads only queue ``Seen`` paths; the intake stage (``stage.Stage``) runs the
settle gate and the content hash; worker threads only run ``worker.run_task``; all of them queue
their results back. Each turn of the loop: handle signals, drain the event queue, settle due
candidates into journal rows, check that folders are still mounted, rescan when due, start
pending jobs on free slots, forward cancel requests, check health, ping systemd. ``once=True``
drains what is in the folders and the queue, then returns (tests, bench).
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from flickerd.errors import CorruptInput, FlickerdError, JournalError
from flickerd.logs import log_job_summary
from flickerd.media.guarded import refusal
from flickerd.rules import route_names
from flickerd.scaleout.executor import Attempt, make_executor, wants_gpu
from flickerd.service import health, intake, restart_keys, shutdown
from flickerd.service.archive import archive_source
from flickerd.service import publish as pub
from flickerd.service.folders import FolderState, Look, identity, look
from flickerd.service.disk import DISK_FREED_BYTES, free_bytes, is_disk_full
from flickerd.service.ignored import IgnoredNames, Skip
from flickerd.service.pauses import Pauses
from flickerd.service.intake import Gate, Gated, Hashed
from flickerd.service.journal import Job, Journal, JobState
from flickerd.service.journal_recovery import adopt_outputs
from flickerd.service.out_names import out_stem
from flickerd.service.own_inputs import own_inputs
from flickerd.service.queue_cancels import QueueCancels
from flickerd.service.sequence_settle import SequenceRules, snapshot
from flickerd.service.settle import Settled, Settler
from flickerd.service.signals import Signals
from flickerd.service.stage import Stage, StageFailed
from flickerd.service.state_dir import StateDir
from flickerd.service.watcher import EventsLost, Seen, Skipped, Watcher, WatchLost, WatchSpec, candidates, owns
from flickerd.service.notify import Notifier
from flickerd.service.outcome import journal_changes, next_state, timed_out
from flickerd.service.webhooks import WebhookSender, job_event
from flickerd.service.worker import (
    Processor, Progress, Result, RouteChosen, Task, default_processor, failure_note,
)

log = structlog.get_logger("flickerd.service")

TICK_S = 0.2  # longest sleep of the loop: bounds settle → start latency and signal response
HOUSEKEEPING_S = 1.0  # folder mount checks, cancel polling, status text
PROGRESS_WRITE_S = 1.0  # at most one progress write per job per second
WORK_DIR = "work"
EXIT_STATE_DIR_LOST = 3  # non-zero: systemd's Restart=on-failure starts it afresh


class _NoMetrics:
    """Stands in until ``flickerd.metrics`` exists or when metrics are off."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *a, **k: None


@dataclass(slots=True)
class _Running:
    task: Task
    thread: Any  # unused: the executor runs the job (kept for the positional shape)
    started: float
    gpu: bool
    last_progress_write: float = 0.0
    timed_out: bool = False  # stopped for running past limits.job_timeout_s
    stop_asked: float | None = None  # when it was asked to stop (the health check's clock)
    fraction: float = 0.0  # the share of its estimated time that has passed (its ETA: flickerd.eta)
    for_shutdown: bool = False  # cancelled by a shutdown: back to pending when it ends, no attempt spent
    route_counted: bool = False  # flickerd_jobs_started_total has it (its RouteChosen arrived)


@dataclass
class Daemon:
    """Run with ``Daemon(config).run()``; ``reload_config`` returns a new config or raises ``ConfigError``."""

    config: Any
    processor: Processor | None = None
    metrics: Any = None
    reload_config: Callable[[], Any] | None = None
    once: bool = False
    install_signals: bool = True
    node_id: str = field(default_factory=socket.gethostname)
    executor: Any = None  # a flickerd.scaleout Executor; None: the one config.executor names

    def __post_init__(self) -> None:
        self.events: queue.Queue = queue.Queue()
        self.signals = Signals()
        self.settler = Settler(probe=None, probe_sequence=None)  # the gate runs in the intake stage
        self.running: dict[int, _Running] = {}
        self.folders: dict[str, FolderState] = {}
        self.metrics = self.metrics or _NoMetrics()
        self.notifier = Notifier.from_env()
        self._last_housekeeping = 0.0
        self._last_rescan = 0.0
        self._last_watchdog = 0.0
        self._last_status = ""
        self.intake_stage = Stage("intake", self._intake_work, self.events.put)
        self._hashing: set[str] = set()
        self._ignored_names = IgnoredNames()  # each name that is not an input is said once
        self._unhealthy: str | None = None  # why, while the health check fails
        self._fatal: str | None = None  # the loop ends with this reason (the state dir was lost)
        self._webhooks: WebhookSender | None = None  # started with the first event a folder wants sent
        self._stale_running: set[int] = set()  # finished while the journal could not be written

    # ---- life ---------------------------------------------------------------------------

    def run(self) -> int:
        """Start, loop until stopped (or drained with ``once``), stop; returns the exit code."""
        self._start()
        reason = "stopped"
        try:
            while True:
                if self._fatal is not None:
                    reason = self._fatal
                    break
                if self.signals.stop.is_set():
                    reason = "stop_signal"
                    break
                if self.signals.reload.is_set():
                    self.signals.reload.clear()
                    self._reload()
                self._turn()
                if self.once and self._drained():
                    reason = "drained"
                    for cand in self.settler.waiting_on_writers():  # --once does not wait on writers
                        log.warning("file_not_taken", file=cand.path, folder=cand.folder, why=cand.not_ready)
                    break
        finally:
            self._stop(reason)
        return EXIT_STATE_DIR_LOST if self._fatal is not None else 0

    def _start(self) -> None:
        cfg = self.config
        self.state = StateDir.claim(cfg.state_dir)
        self.state_dir = self.state.path
        self.journal = Journal.in_state_dir(self.state_dir)
        self.journal.check()  # a damaged journal is refused here, before it is taken for the truth
        self._queue_cancels = QueueCancels(self.journal, self.metrics, since=time.time())
        self.state.hold(self.journal.path)
        self._adopt_outputs(cfg)
        self.workdir_root = self.state_dir / WORK_DIR
        if self.processor is None:
            self.processor = default_processor()
        if self.executor is None:
            self.executor = make_executor(cfg, self.processor)
        self.executor.start(self.events.put)
        if self.install_signals:
            self.signals.install()
        requeued = self.journal.requeue_running()
        shutil.rmtree(self.workdir_root, ignore_errors=True)  # nothing runs yet: every workdir is stale
        self.workdir_root.mkdir(parents=True, exist_ok=True)
        self.watcher = Watcher(self.events)
        self.pauses = Pauses(self.folders, self.state_dir, self.metrics, self.watcher.unschedule)
        self.intake_stage.start()
        self._apply_folders(cfg)
        self._adopt_or_cancel()
        for st in self.folders.values():
            for leftover in pub.remove_temp_files(st.conf.output):
                log.info("temp_file_removed", path=str(leftover))
        for job in requeued:
            log.info("job_requeued", job_id=job.id, file=job.path, attempts=job.attempts)
        gpus = self._gpu_slots()
        configured_gpus = int(getattr(cfg, "gpu_slots", 0))
        if configured_gpus > 0 and gpus == 0:
            # said once and loudly: otherwise GPU rules would quietly fall back to CPU routes forever
            log.error("gpu_unavailable", gpu_slots=configured_gpus,
                      why="gpu_slots is set but no usable CUDA device was found; rules that need a GPU "
                          "fall back (see flickerd_gpu_available).")
        self.metrics.set_queue_source(self._queue_counts)
        self._rescan(time.monotonic())
        self.notifier.ready()
        log.info("daemon_started", folders=[f.spec.name for f in self.folders.values()], state_dir=str(self.state_dir),
                 cpu_workers=self._slots(), gpu_slots=gpus, requeued=len(requeued), once=self.once)

    def _adopt_outputs(self, cfg: Any) -> None:
        """Finished jobs back from the reports of output folders the journal does not know (a fresh state dir
        after a lost one, a folder configured again after a recovery): nothing published is processed again."""
        got = adopt_outputs(self.journal, [(f.name, Path(f.output)) for f in cfg.folders])
        if got is not None and (got.jobs or got.without_hash or got.unreadable):
            log.warning("journal_rebuilt", jobs=got.jobs, states=dict(got.states), reports=got.reports,
                        without_hash=len(got.without_hash), unreadable=len(got.unreadable),
                        missing_outputs=list(got.missing))

    def _stop(self, reason: str) -> None:
        """Stop intake, finish or cancel the running jobs (``shutdown``), then close everything."""
        self.notifier.stopping()
        log.info("daemon_stopping", reason=reason, running=len(self.running))
        self.watcher.stop()
        self.intake_stage.stop()
        self._wind_down()
        self.executor.shutdown()
        self.journal.close()
        if self._webhooks is not None:
            self._webhooks.close(timeout_s=shutdown.TEARDOWN_S)  # a few seconds for queued events, never longer
        log.info("daemon_stopped", reason=reason)

    def _wind_down(self) -> None:
        """Wait for jobs that will finish within ``shutdown_timeout_s``, cancel the others back to pending."""
        fatal = self._fatal is not None  # no state dir: nothing a job finishes can be recorded
        grace = 0.0 if fatal else float(getattr(self.config, "shutdown_timeout_s", 30.0))
        plan = shutdown.WindDown(time.monotonic() + grace)
        while self.running:
            now = time.monotonic()
            step = plan.step([shutdown.RunningJob(i, r.task.job.path, now - r.started, r.fraction, r.for_shutdown)
                              for i, r in self.running.items()], now, force=fatal or self.signals.force.is_set())
            for job in step.cancel:
                self.running[job.job_id].for_shutdown = True
                self._ask_to_stop(self.running[job.job_id])
                log.info("job_cancelled_for_shutdown", job_id=job.job_id, file=job.path, eta_s=job.describe()["eta_s"],
                         left_s=round(max(plan.deadline - now, 0.0), 1), forced=self.signals.force.is_set())
            if step.say is not None:
                log.info("shutdown_waiting", **step.say)
            if fatal or step.give_up:
                break
            self._drain_events(TICK_S)
        for run in list(self.running.values()):  # did not stop in time: requeued here, its thread ends with us
            self._ask_to_stop(run)
            self._requeue(run, "shutdown")
        self.running.clear()

    def _requeue(self, run: _Running, reason: str) -> None:
        """Back to pending without spending an attempt; its intermediates go (nothing resumes from them)."""
        job_id = run.task.job.id
        shutil.rmtree(run.task.workdir, ignore_errors=True)
        self.metrics.job_requeued()
        try:
            job = self.journal.transition(job_id, JobState.PENDING, expect=[JobState.RUNNING],
                                          attempts=max(run.task.job.attempts - 1, 0), progress=0.0)
            log.info("job_requeued", job_id=job_id, file=job.path, reason=reason, attempts=job.attempts)
        except JournalError as exc:
            log.error("job_requeue_failed", job_id=job_id, error=str(exc))

    def _drained(self) -> bool:
        waiting = len(self.settler) - len(self.settler.waiting_on_writers())
        if self.running or waiting or self._hashing or not self.events.empty():
            return False
        return not self._startable(limit=1)

    # ---- one turn -----------------------------------------------------------------------

    def _turn(self) -> None:
        now = time.monotonic()
        due = self.settler.next_due()
        timeout = TICK_S if due is None else min(TICK_S, max(0.0, due - now))
        self._drain_events(timeout)
        now = time.monotonic()
        for check in self.settler.due(now, paused=self.pauses.paused):
            self._settled(check)
        if now - self._last_housekeeping >= HOUSEKEEPING_S:
            self._last_housekeeping = now
            self._check_folders()
            self._forward_cancels()
            self._queue_cancels.sweep()
            self.pauses.check_space(now, requeue_stale=self._requeue_stale, scan=self._scan_folder)
            self._check_health(now)
            self._notify_status()
        if now - self._last_rescan >= float(getattr(self.config, "rescan_interval_s", 60.0)):
            self._rescan(now)
        self._enforce_timeouts(now)
        self._dispatch()
        self._ping_watchdog(now)

    def _drain_events(self, timeout: float) -> None:
        try:
            item = self.events.get(timeout=timeout) if timeout > 0 else self.events.get_nowait()
        except queue.Empty:
            return
        while True:
            self._handle(item)
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                return

    def _handle(self, item: Any) -> None:
        if isinstance(item, Seen):
            if self.pauses.paused(item.folder):
                return  # the rescan on resume picks it up
            st = self.folders[item.folder]
            if self._refuses(st, item.path, sequence=item.sequence):
                return
            if item.path not in self.settler:
                self.metrics.file_seen(item.folder)
            self.settler.observe(item.path, item.folder, time.monotonic(), settle_s=float(st.conf.settle_s),
                                 settle_max_s=float(st.conf.settle_max_s), renamed=item.renamed,
                                 sequence=SequenceRules.for_folder(st.conf) if item.sequence else None)
        elif isinstance(item, Skipped):
            self._ignored(item.folder, item.path, item.why)
        elif isinstance(item, Progress):
            run = self.running.get(item.job_id)
            now = time.monotonic()
            if run is not None:
                run.fraction = item.fraction
            if run is not None and (now - run.last_progress_write >= PROGRESS_WRITE_S or item.fraction >= 1.0):
                run.last_progress_write = now
                try:
                    self.journal.update(item.job_id, progress=item.fraction)
                except JournalError as exc:  # progress is best effort; a full disk pauses intake
                    if is_disk_full(exc):
                        self.pauses.state_full(exc)
        elif isinstance(item, RouteChosen):
            run = self.running.get(item.job_id)
            if run is not None and not run.route_counted:
                run.route_counted = True
                self.metrics.job_started(item.route)
        elif isinstance(item, Result):
            self._finished(item)
        elif isinstance(item, Attempt):
            self._attempted(item)
        elif isinstance(item, Gated):
            check = self.settler.gated(item.path, time.monotonic(), item.error)
            if check is not None and check.state is not Settled.WAIT:
                self._settled(check)
        elif isinstance(item, StageFailed):
            self._intake_failed(item)
        elif isinstance(item, WatchLost):
            self._watch_lost(item.folder)
        elif isinstance(item, EventsLost) and item.folder in self.folders:
            log.warning("watch_events_lost", folder=item.folder, rescanned=not self.folders[item.folder].paused)
            if not self.folders[item.folder].paused:
                self._scan_folder(self.folders[item.folder], time.monotonic())
        elif isinstance(item, Hashed):
            try:
                self._intake(item)
            except JournalError as exc:
                if not is_disk_full(exc):
                    raise
                self.pauses.state_full(exc)  # the file is not journaled: the rescan on resume takes it in

    # ---- folders ------------------------------------------------------------------------

    def _apply_folders(self, cfg: Any) -> None:
        outputs = tuple(Path(f.output) for f in cfg.folders)
        for name in list(self.folders):
            self.watcher.unschedule(name)
        self.folders.clear()
        for f in cfg.folders:
            spec = WatchSpec(name=f.name, path=Path(f.path), patterns=tuple(f.patterns), recursive=bool(f.recursive),
                             poll=bool(f.poll), poll_interval_s=float(f.poll_interval_s), excluded=outputs,
                             marker=str(getattr(f, "sequence_marker", "_done")))
            state = FolderState(spec, f)
            self.folders[f.name] = state
            Path(f.output).mkdir(parents=True, exist_ok=True)
            state.identity = identity(spec.path)
            if state.identity is not None:
                self.watcher.schedule(spec)
            else:
                self.pauses.pause(state, "missing")

    def _refuses(self, st: FolderState, path: str, *, sequence: bool) -> bool:
        """Whether ``path`` must not become a candidate: a link (or under one) leading out of its
        folder, a named pipe, a socket or a device. Said once per path and reason, and counted."""
        refused = refusal(path, root=st.spec.path, allow_dir=sequence)
        if refused is None:
            return False
        if self._ignored_names.first(path, refused.why.value):
            self.metrics.file_ignored(st.spec.name, Skip.REFUSED)
            self.metrics.file_refused(st.spec.name, refused.why.value)
            log.warning("file_ignored", file=path, folder=st.spec.name, why=refused.why.value,
                        target=os.path.realpath(path), error=refused.message)
        return True

    def _ignored(self, folder: str, path: str, why: Skip) -> None:
        """A name that is not an input (hidden, partial, no pattern matches): said and counted once."""
        if self._ignored_names.first(path, why.value):
            self.metrics.file_ignored(folder, why)
            log.info("file_ignored", file=path, folder=folder, why=why.value)

    def _requeue_stale(self) -> bool:
        """Jobs that finished while the journal could not be written go back to pending (a rerun
        publishes their outputs again); False when the state dir's disk filled again."""
        for job_id in sorted(self._stale_running):
            try:
                self.journal.transition(job_id, JobState.PENDING, expect=[JobState.RUNNING], progress=0.0)
            except JournalError as exc:
                if is_disk_full(exc):
                    self.pauses.state_full(exc)
                    return False
            self._stale_running.discard(job_id)
        return True

    def _check_folders(self) -> None:
        """A vanished path or a changed device (unmounted share) pauses intake, it is not a deletion; a folder
        replaced under its name, or whose watch stopped, is watched again."""
        stopped = self.watcher.stopped()
        for st in self.folders.values():
            seen, now = look(st)
            if seen is Look.GONE:
                self.pauses.pause(st, "unavailable")
            elif seen is not Look.SAME or st.spec.name in stopped:
                self._watch_again(st, now, why=seen.value if seen is not Look.SAME else "watch_stopped")

    def _watch_lost(self, folder: str) -> None:
        """The watched folder was deleted: watch the one made in its place, or pause until there is one."""
        st = self.folders.get(folder)
        if st is None or st.paused:
            return
        now = identity(st.spec.path)
        if now is None:
            self.pauses.pause(st, "unavailable")
        else:
            self._watch_again(st, now, why="deleted")

    def _watch_again(self, st: FolderState, now: Any, *, why: str) -> None:
        """Schedule a fresh watch on the folder at the path now and scan it: what arrived meanwhile had no event."""
        resumed, st.paused, st.identity = st.paused, False, now
        self.watcher.schedule(st.spec)
        if resumed:
            self.metrics.set_intake_paused(st.spec.name, False)
            log.info("folder_resumed", folder=st.spec.name, path=str(st.spec.path))
        else:
            log.warning("watch_lost", folder=st.spec.name, path=str(st.spec.path), why=why, rescanned=True)
        self._scan_folder(st, time.monotonic())

    def _rescan(self, now: float) -> None:
        self._last_rescan = now
        for st in self.folders.values():
            if not st.paused:
                self._scan_folder(st, now)

    def _scan_folder(self, st: FolderState, now: float) -> None:
        rules = SequenceRules.for_folder(st.conf)
        for path, sequence in candidates(st.spec, lambda p, why: self._ignored(st.spec.name, p, why)):
            if path in self.settler or path in self._hashing:
                continue
            try:
                s = snapshot(path, rules.marker) if sequence else os.stat(path)
            except OSError:
                continue
            if self.journal.known(path, s.st_size, s.st_mtime) or self._refuses(st, path, sequence=sequence):
                continue
            self.metrics.file_seen(st.spec.name)  # found by a scan, not an event: seen all the same
            self.settler.observe(path, st.spec.name, now, settle_s=float(st.conf.settle_s),
                                 settle_max_s=float(st.conf.settle_max_s), sequence=rules if sequence else None)

    # ---- intake -------------------------------------------------------------------------

    def _settled(self, check: Any) -> None:
        cand = check.candidate
        st = self.folders.get(cand.folder)
        if st is None:
            self.settler.forget(cand.path)
            return
        if check.state is Settled.GONE:
            log.info("file_vanished", file=cand.path, folder=cand.folder)
            return
        if check.state is Settled.GROWING:
            log.warning("file_still_growing", file=cand.path, folder=cand.folder,
                        seconds=round(time.monotonic() - cand.first_seen, 1))
            return
        if check.state is Settled.IGNORED:
            return  # a sub-folder without frames: its first frame brings it back
        if self._refuses(st, cand.path, sequence=cand.sequence is not None):  # swapped since it was seen
            self.settler.forget(cand.path)
            return
        # the gate and the hash read the file: the intake stage does both, the loop stays responsive
        if check.state is Settled.GATE:
            self.intake_stage.submit(Gate(check))
            return
        self._hashing.add(cand.path)
        self.intake_stage.submit(check)

    def _intake_work(self, item: Any, beat: Callable[[], None]) -> Gated | Hashed:
        return intake.work(item, beat, limits=getattr(self.config, "limits", None), journal=self.journal)

    def _intake_failed(self, failed: StageFailed) -> None:
        """A bug in the gate or the hash (logged with its traceback by the stage): the file is refused
        like one the gate could not read (retried, then quarantined), never left waiting forever."""
        path = intake.candidate_path(failed.item)
        if isinstance(failed.item, Gate):
            error = CorruptInput(f"{path}: the settle gate failed unexpectedly ({failed.error!r}).")
            check = self.settler.gated(path, time.monotonic(), error)
            if check is not None and check.state is not Settled.WAIT:
                self._settled(check)
        else:
            self._hashing.discard(path)

    def _intake(self, hashed: Hashed) -> None:
        """A settled, hashed file becomes a journal row: pending, a duplicate, or quarantined."""
        check = hashed.check
        cand = check.candidate
        self._hashing.discard(cand.path)
        st = self.folders.get(cand.folder)
        if st is None:  # its folder left the config (or was renamed) while it was hashed
            self._last_rescan = 0.0  # the next turn finds it under the folder that takes it now, if any
            return
        if isinstance(hashed.error, FileNotFoundError):
            log.info("file_vanished", file=cand.path, folder=cand.folder)
            return
        if isinstance(hashed.error, FlickerdError):
            if is_disk_full(hashed.error):
                raise hashed.error  # the state disk is full: _handle pauses intake
            log.error("file_hash_failed", file=cand.path, folder=cand.folder, error=str(hashed.error))
            return
        if hashed.error is not None or hashed.sha is None or hashed.stat is None:
            self._unreadable(cand, st, hashed.error)
            return
        sha, s = hashed.sha, hashed.stat
        latest = self.journal.latest_for_path(cand.path)
        if latest is not None and latest.sha256 == sha and latest.state is not JobState.CANCELLED:
            # same content under the same name (touched, or seen by a rescan): remember the new stat
            self.journal.update(latest.id, size=s.st_size, mtime=s.st_mtime)
            return
        if check.state is Settled.UNUSABLE:
            self._quarantine(cand, st, sha256=sha, size=s.st_size, mtime=s.st_mtime,
                             reason=getattr(check.error, "reason", "bad_input"), message=str(check.error))
            return
        rules_hash = self._rules_hash(st)
        original = self.journal.find_original(sha, rules_hash, exclude_path=cand.path)
        if original is not None and self._own_inputs(cand.path, original, st):
            original = None  # neither waits for nor links to the other (checked again at launch)
        job = self.journal.add(path=cand.path, folder=cand.folder, sha256=sha, size=s.st_size, mtime=s.st_mtime,
                               priority=int(getattr(st.conf, "priority", 0)), rules_hash=rules_hash,
                               duplicate_of=original.id if original else None)
        self.metrics.file_settled(cand.folder)
        log.info("job_queued", job_id=job.id, file=cand.path, folder=cand.folder, sha256=sha[:12],
                 duplicate_of=job.duplicate_of, **({"frames": s.frames} if cand.sequence is not None else {}))

    def _unreadable(self, cand: Any, st: FolderState, error: OSError | None) -> None:
        """A file the hash could not read: refused when the name is a special file now (swapped in since the
        watcher looked), else one quarantined row saying why, not silence."""
        try:
            s = os.stat(cand.path)
        except OSError:
            log.info("file_vanished", file=cand.path, folder=cand.folder)
            return
        if self._refuses(st, cand.path, sequence=cand.sequence is not None) or \
                self.journal.known(cand.path, s.st_size, s.st_mtime):
            return
        reason, message = intake.unreadable(cand.path, error, os.geteuid())
        self._quarantine(cand, st, sha256=None, size=s.st_size, mtime=s.st_mtime, reason=reason, message=message)

    def _quarantine(self, cand: Any, st: FolderState, *, sha256: str | None, size: int, mtime: float, reason: str,
                    message: str) -> None:
        """A file refused at intake: a quarantined row, its report in ``_failed/``, counted and said."""
        job = self.journal.add(path=cand.path, folder=cand.folder, sha256=sha256, size=size, mtime=mtime,
                               state=JobState.QUARANTINED, reason=reason, error=message, outcome="quarantined",
                               priority=int(getattr(st.conf, "priority", 0)), rules_hash=self._rules_hash(st))
        try:
            self.journal.update(job.id, report_path=str(failure_note(self._task(job, st), reason, message,
                                                                     JobState.QUARANTINED)))
        except (OSError, FlickerdError) as exc:  # a full disk, a link in the way
            log.error("report_write_failed", job_id=job.id, error=str(exc))
        self.metrics.failure(reason)
        self._webhook(job)
        log.warning("job_quarantined", job_id=job.id, file=cand.path, folder=cand.folder, reason=reason,
                    error=message)

    # ---- dispatch -----------------------------------------------------------------------

    def _rules_hash(self, st: FolderState) -> str | None:
        """The folder's own rules hash when it has one, else the config's; with the mode it is the key."""
        h = getattr(st.conf, "rules_hash", None) or getattr(self.config, "rules_hash", None) or ""
        return f"{getattr(st.conf, 'mode', 'fix')}:{h}"

    def _cpu_workers(self) -> int:
        return max(1, int(getattr(self.config, "cpu_workers", 1)))

    def _gpu_slots(self) -> int:
        """GPU jobs that may run at once, asked each time: on Ray, GPU nodes join and leave."""
        slots = self.executor.capacity(self._cpu_workers(), int(getattr(self.config, "gpu_slots", 0))).gpus
        self.metrics.set_gpu_available(slots > 0)
        return slots

    def _slots(self) -> int:
        """Jobs in flight: ``cpu_workers`` here, the cluster's CPUs on Ray."""
        return max(1, self.executor.capacity(self._cpu_workers(), 0).jobs)

    def _startable(self, limit: int) -> list[Job]:
        out = []
        for job in self.journal.next_pending(limit + 32, exclude=self.running):
            if job.folder not in self.folders:
                self._adopt_or_cancel()  # queued again (`flickerd retry`) for a folder the config dropped
                continue
            if self.folders[job.folder].full_since is not None:
                continue
            if job.duplicate_of is not None:
                orig = self.journal.get(job.duplicate_of)
                if orig is not None and orig.state in (JobState.PENDING, JobState.RUNNING):
                    continue  # link once the original has an output
            out.append(job)
            if len(out) >= limit:
                break
        return out

    def _dispatch(self) -> None:
        free = self._slots() - len(self.running)
        if free <= 0 or self.signals.stop.is_set() or self.pauses.state_full_since is not None:
            return
        for job in self._startable(free):
            self._launch(job)

    def _own_inputs(self, path: str, original: Job, st: FolderState) -> bool:
        """Whether the render at ``path`` or its ``original`` has a sidecar or a guide (``own_inputs``):
        rare (equal bytes), so these few file lookups on the loop cost nothing in practice."""
        theirs = self.folders.get(original.folder)
        return own_inputs(path, getattr(st.conf, "guides", None)) or own_inputs(
            original.path, getattr(theirs.conf, "guides", None) if theirs else None, original.report_path)

    def _task(self, job: Job, st: FolderState, *, gpu: bool = False, original: Job | None = None) -> Task:
        cfg, f = self.config, st.conf
        return Task(job=job, src_root=Path(f.path), out_root=Path(f.output), mode=str(getattr(f, "mode", "fix")),
                    out_stem=out_stem(job, st.spec.path, Path(f.output), (r.task for r in self.running.values()),
                                      self.journal),
                    auto_accept=bool(getattr(f, "auto_accept", False)),
                    rules=tuple(f.rules), diagnose_settings=getattr(cfg, "diagnose", None),
                    acceptance=getattr(cfg, "acceptance", None), workdir=self.workdir_root / str(job.id),
                    gpu=gpu, original=original, output_codec=str(getattr(f, "output_codec", "") or ""),
                    final_attempt=job.attempts >= int(getattr(cfg, "max_attempts", 3)),
                    sequence_output=str(getattr(f, "sequence_output", "video")),
                    sequence_fps=float(getattr(f, "sequence_fps", 24.0)),
                    report_settings=getattr(cfg, "reports", None) or None,
                    guides=getattr(f, "guides", None), guide_wait_s=float(getattr(f, "guide_wait_s", 0.0)),
                    route_params=getattr(cfg, "route_params", None) or None)

    def _launch(self, job: Job) -> None:
        st = self.folders[job.folder]
        original = self.journal.get(job.duplicate_of) if job.duplicate_of is not None else None
        if original is not None and original.state is not JobState.DONE:
            original = None  # failed, cancelled, in review: its output cannot stand for this one; processed
        elif original is not None and self._own_inputs(job.path, original, st):
            original = None  # a sidecar or a guide shapes one of the two outputs: equal bytes, another job
        try:
            job = self.journal.transition(
                job.id, JobState.RUNNING, expect=[JobState.PENDING], attempts=job.attempts + 1,
                rules_hash=self._rules_hash(st), node_id=self.node_id, error=None,
                duplicate_of=original.id if original is not None else None,
            )
        except JournalError as exc:  # cancelled from the CLI a moment ago, or a full disk
            if is_disk_full(exc):
                self.pauses.state_full(exc)
            log.info("job_start_skipped", job_id=job.id, error=str(exc))
            return
        gpu = (original is None and st.conf.mode != "diagnose" and wants_gpu(st.conf.rules)
               and sum(r.gpu for r in self.running.values()) < self._gpu_slots())
        task = self._task(job, st, gpu=gpu, original=original)
        self.running[job.id] = _Running(task, None, time.monotonic(), gpu)
        self.metrics.job_launched()  # counted as started once its route is chosen (RouteChosen)
        log.info("job_started", job_id=job.id, file=job.path, folder=job.folder, attempt=job.attempts, gpu=gpu)
        self.executor.submit(task)

    def _attempted(self, a: Attempt) -> None:
        """A worker started a job; a second start of one launch means its node was lost."""
        if a.job_id not in self.running:
            return
        n = self.journal.record_attempt(a.job_id, a.node_id, a.pid, a.started_at)
        # ``attempt`` counts as job_started and job_finished do (a shutdown's interrupted run is not
        # one); ``start`` counts every worker start of the job, lost nodes and interrupted runs included
        log.info("job_attempt_started", job_id=a.job_id, node_id=a.node_id, pid=a.pid,
                 attempt=self.running[a.job_id].task.job.attempts, start=n)

    def _ask_to_stop(self, run: _Running) -> None:
        """Set the job's cancel flag; from now on the health check expects it back within ``stall_s``."""
        run.task.cancel.set()
        if run.stop_asked is None:
            run.stop_asked = time.monotonic()

    def _forward_cancels(self) -> None:
        for job_id in self.journal.cancel_requests():
            run = self.running.get(job_id)
            if run is not None and not run.task.cancel.is_set():
                self._ask_to_stop(run)
                log.info("job_cancel_requested", job_id=job_id)

    def _enforce_timeouts(self, now: float) -> None:
        """Stop a job that has run past ``limits.job_timeout_s``; ``_finished`` quarantines it."""
        limit = float(getattr(getattr(self.config, "limits", None), "job_timeout_s", 0.0) or 0.0)
        if limit <= 0:
            return
        for job_id, run in self.running.items():
            if not run.timed_out and now - run.started > limit:
                run.timed_out = True
                self._ask_to_stop(run)
                log.warning("job_timed_out", job_id=job_id, file=run.task.job.path, limit_s=limit)

    # ---- outcomes -----------------------------------------------------------------------

    def _finished(self, res: Result) -> None:
        """Commit the outcome, then count and log it (never the other way round)."""
        run = self.running.pop(res.job_id, None)
        if run is None:
            return
        job = run.task.job
        if run.for_shutdown and res.state is JobState.CANCELLED:
            self._requeue(run, "shutdown")
            return
        if run.timed_out and res.state is JobState.CANCELLED:
            res = timed_out(res, job.path, float(self.config.limits.job_timeout_s))
        st = self.folders.get(job.folder)
        disk_full = res.reason == "disk_full" and res.retryable and st is not None
        if disk_full:  # pause what is full until space returns
            if free_bytes(self.state_dir) < DISK_FREED_BYTES:  # the workdir's disk, not the output's
                self.pauses.state_full(OSError(28, res.error or "No space left on device"))
            else:
                self.pauses.output_full(st, res.error)
        state, outcome, attempts = next_state(res, job.attempts, int(getattr(self.config, "max_attempts", 3)),
                                              disk_full=disk_full)
        changes = journal_changes(res, state, outcome, attempts)
        if state is JobState.QUARANTINED and not res.report_path:
            try:
                changes["report_path"] = str(failure_note(run.task, res.reason or "internal", res.error or "", state))
            except (OSError, FlickerdError) as exc:  # a full disk, a link in the way
                log.error("report_write_failed", job_id=job.id, error=str(exc))
        try:
            final = self.journal.transition(job.id, state, expect=[JobState.RUNNING], **changes)
        except JournalError as exc:
            log.error("job_commit_failed", job_id=job.id, error=str(exc))
            if is_disk_full(exc):  # left "running"; run again once the journal can be written
                self.pauses.state_full(exc)
                self._stale_running.add(job.id)
            self.metrics.job_requeued()  # not running here any more; its rerun is launched (and counted) again
            return
        queue_wait = max(0.0, (job.started_at or 0.0) - job.created_at)
        if not run.route_counted:  # ended before its rules chose a route, or that record is still on its way
            self.metrics.job_started(res.chosen_route or "none")
        self.metrics.job_finished(res.route, outcome, res.seconds, queue_wait)
        if res.reason and state in (JobState.PENDING, JobState.QUARANTINED, JobState.FAILED):
            self.metrics.failure(res.reason)
        if state is JobState.CANCELLED:
            self.metrics.job_cancelled(res.reason)
            self._queue_cancels.own(job.id, final.finished_at)
        if res.guide:
            self.metrics.guided_job(res.guide)
        self.metrics.seams(res.seams, res.seams_fixed)
        if res.verdict:
            self.metrics.verdict(res.verdict)
        if res.flicker_before is not None and res.flicker_after is not None:
            self.metrics.flicker(res.flicker_before, res.flicker_after)
        if res.headline_measure is not None and res.headline_reduction is not None:
            self.metrics.headline(res.headline_reduction)
        if state is JobState.DONE and st is not None:
            archive_source(job.path, run.task.src_root, st.conf)
        with structlog.contextvars.bound_contextvars(job_id=job.id, file=job.path, folder=job.folder):
            log_job_summary(outcome=outcome, route=res.route, verdict=res.verdict, duration_s=res.seconds,
                            queue_wait_s=queue_wait, flicker_before=res.flicker_before,
                            flicker_after=res.flicker_after, headline_measure=res.headline_measure,
                            headline_reduction=res.headline_reduction,
                            **({"fallback": res.fallback} if res.fallback else {}), reason=res.reason, state=state.value,
                            attempts=final.attempts, error=res.error, output=res.output_path,
                            report=final.report_path)
        self._webhook(final, verdict=res.verdict)

    def _webhook(self, job: Job, *, verdict: str | None = None) -> None:
        """Tell the folder's webhooks about a job that reached a state people care about."""
        st = self.folders.get(job.folder)
        hooks = getattr(st.conf, "webhooks", ()) if st is not None else ()
        event = job_event(job, verdict) if hooks else None
        if event is not None:
            self._webhooks = self._webhooks or WebhookSender()
            self._webhooks.send(hooks, event)

    # ---- config, health -----------------------------------------------------------------

    def _reload(self) -> None:
        self.notifier.reloading()
        if self.reload_config is None:
            return
        try:
            cfg = self.reload_config()
        except FlickerdError as exc:
            self.metrics.config_reloaded(False)
            log.error("config_reload_failed", error=str(exc), kept=str(getattr(self.config, "source", "")))
            self.notifier.ready()
            return
        self.config, later = restart_keys.split(self.config, cfg)
        if later:
            log.warning("config_needs_restart", keys=sorted(later), running={k: v[0] for k, v in later.items()},
                        configured={k: v[1] for k, v in later.items()},
                        why="these settings take effect at the next start (systemctl restart flickerd)")
        for name in list(self.folders):
            self.settler.forget_folder(name)
        self._apply_folders(self.config)
        self._adopt_outputs(self.config)
        self._adopt_or_cancel()
        self.metrics.set_folders([f.name for f in cfg.folders])
        self.metrics.set_routes(sorted(set().union(*(route_names(f.rules) for f in cfg.folders))))
        self._rescan(time.monotonic())
        self.metrics.config_reloaded(True)
        log.info("config_reloaded", source=str(getattr(cfg, "source", "")), rules_hash=getattr(cfg, "rules_hash", None))
        self.notifier.ready()

    def _queue_counts(self) -> Mapping[str, int]:
        return self.journal.counts()

    def _adopt_or_cancel(self) -> None:
        """Pending jobs of a folder name the config no longer has: the folder that now takes inputs
        from their path adopts them (it was renamed), else they are cancelled with reason
        ``folder_removed``; left pending they would wait forever, and hold their content's copies."""
        for job in self.journal.pending_outside(list(self.folders)):
            owner = next((st for st in self.folders.values() if owns(st.spec, job.path)), None)
            error = (f"{job.path}: its folder {job.folder!r} is no longer in the configuration, so the job was "
                     "cancelled; to process it, configure the folder again and run `flickerd retry` with its id.")
            try:
                if owner is not None:
                    self.journal.update(job.id, folder=owner.spec.name)
                else:
                    self.journal.transition(job.id, JobState.CANCELLED, expect=[JobState.PENDING],
                                            outcome="cancelled", reason="folder_removed", error=error)
            except JournalError as exc:  # cancelled from the CLI meanwhile, or a full disk: the next sweep
                if is_disk_full(exc):
                    self.pauses.state_full(exc)
                log.info("job_folder_change_skipped", job_id=job.id, error=str(exc))
                continue
            if owner is not None:
                log.info("job_folder_renamed", job_id=job.id, file=job.path, was=job.folder, folder=owner.spec.name)
                continue
            log.warning("job_cancelled", job_id=job.id, file=job.path, folder=job.folder, reason="folder_removed",
                        error=error)

    def _health_problem(self, now: float) -> str | None:
        asked = {job_id: now - run.stop_asked for job_id, run in self.running.items() if run.stop_asked is not None}
        return health.problem(watchers_alive=self.watcher.healthy(), journal_answers=self.journal.ping(),
                              stages=(self.intake_stage,), cancelled_s=asked,
                              stall_s=float(getattr(self.config, "stall_s", 120.0)), now=now)

    def healthy(self) -> bool:
        return self._health_problem(time.monotonic()) is None

    def _check_health(self, now: float) -> None:
        """Say when health changes (and count it); a lost state dir ends the loop."""
        lost = self.state.lost()
        if lost is not None:
            log.error("state_dir_lost", state_dir=str(self.state_dir), why=lost)
            self._fatal = "state_dir_lost"
            return
        why = self._health_problem(now)
        if why == self._unhealthy:
            return
        if why is not None and self._unhealthy is None:
            log.error("daemon_unhealthy", why=why)
        elif why is None:
            log.info("daemon_healthy", was=self._unhealthy)
        self._unhealthy = why
        self.metrics.set_healthy(why is None)

    def _ping_watchdog(self, now: float) -> None:
        interval = self.notifier.watchdog_interval_s
        if interval and now - self._last_watchdog >= interval and self.healthy():
            self._last_watchdog = now
            self.notifier.watchdog()

    def _notify_status(self) -> None:
        counts = self.journal.counts()
        paused = [n for n, s in self.folders.items() if s.paused]
        text = f"{counts['pending']} pending, {len(self.running)} running, {counts['done']} done" + (
            f"; paused: {', '.join(paused)}" if paused else "")
        if text != self._last_status:
            self._last_status = text
            self.notifier.status(text)


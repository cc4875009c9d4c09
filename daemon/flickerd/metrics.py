"""Prometheus metrics: one ``Metrics`` object per daemon, on a registry the caller passes in.

Naming follows Prometheus practice: ``flickerd_`` prefix, base units (seconds, bytes), ``_total``
only on counters. Label values come only from fixed lists (outcomes, failure reasons, verdicts,
queue states) or from lists fixed at start (configured folder names, the routes the rules can
produce), so the number of series is bounded; a value outside its list is counted under
``other`` and logged once. A series a dashboard panel or alert reads with ``rate()``,
``increase()`` or a comparison is exported at 0 from the start (only the label combinations
that can occur), so they see the first event; the rest appear when first used, which keeps an
idle daemon near 200 series. No ``_created`` series. Queue depth, GPU memory and output disk
space are read when Prometheus scrapes, never cached.

All updates happen in the daemon process; work done in subprocesses or on Ray reports back to it.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric

from flickerd import __version__
from flickerd.diagnose.model import Verdict
from flickerd.errors import FAILURE_REASONS
from flickerd.media.guarded import Refusal
from flickerd.rules import GUIDED_ROUTE
from flickerd.metrics_http import DEFAULT_ADDRESS, MetricsServer, ServerLimits, parse_address, serve  # noqa: F401
from flickerd.service.ignored import Skip

log = structlog.get_logger("flickerd.metrics")

NAMESPACE = "flickerd"

# Routes any config can put on a job besides its rules': a render with a guide (any folder) runs the
# guided chain; without it here every guided job counted under "other" with a warning (qa19).
BASE_ROUTES: tuple[str, ...] = ("none", "normalize", "ffmpeg", "rife", "regenerate", GUIDED_ROUTE)
OUTCOMES: tuple[str, ...] = (
    "done", "rejected", "failed", "quarantined", "cancelled", "report_only", "needs_attention", "review", "duplicate",
)
# What was asked for came out: a verified fix, the report of a diagnose-only folder, a candidate for review.
# needs_attention is not one: the clip still flickers and a person has to act.
SUCCESS_OUTCOMES: tuple[str, ...] = ("done", "report_only", "review")
FAILURE_OUTCOMES: tuple[str, ...] = ("failed", "quarantined")
# Neither success nor failure, so out of both ratios: a person or a changed source stopped the job,
# or earlier content was linked without processing.
UNJUDGED_OUTCOMES: tuple[str, ...] = ("cancelled", "duplicate")
# Outcomes that can occur with no route (``none``: stopped before the decision, or a report-only
# decision) and with a fixing chain; only these pairs are pre-created.
NO_ROUTE_OUTCOMES: tuple[str, ...] = ("report_only", "needs_attention", "failed", "quarantined", "cancelled", "duplicate")
ROUTE_OUTCOMES: tuple[str, ...] = ("done", "review", "rejected", "failed", "quarantined", "cancelled", "duplicate")
VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)
QUEUE_STATES: tuple[str, ...] = (
    "pending", "running", "done", "rejected", "failed", "quarantined", "review", "cancelled",
)
STAGES: tuple[str, ...] = ("before", "after")
# Why a job ended cancelled: ``flickerd cancel``, its source changed under it, its folder left the config.
CANCEL_REASONS: tuple[str, ...] = ("cancelled", "source_changed", "folder_removed")
OTHER = "other"

# Bucket edges come from what each value really takes: a real daemon fixing 36 real renders as they
# are and with injected flicker (``python -m bench metric_ranges``; its run is
# tests/ops/data/metric_observations.json, and tests/ops/test_metric_buckets.py keeps each median
# off the first and last buckets). Ten edges each: a child costs 13 series.
# Job wall time: 0.8-26 s (median 11) for 48 frames at 832 px on one CPU worker; long clips and
# GPU routes run to hours (limits.job_timeout_s is 6 h).
DURATION_BUCKETS_S: tuple[float, ...] = (2, 5, 10, 20, 45, 90, 180, 600, 1800, 7200)
# Settled to started: 5 ms on an idle daemon, 0-205 s (median 106) behind that run's backlog
# (a file every 6 s), hours behind a long one.
QUEUE_WAIT_BUCKETS_S: tuple[float, ...] = (0.1, 1, 5, 15, 30, 60, 120, 300, 1800, 7200)
# Verification's warping error with the input's flow (RGB in [0,1], squared): 1.5e-5 to 2.4e-3
# (median 5.9e-4 before, 2.2e-4 after); up to 0.017 on longer renders. 0 is perfectly steady.
FLICKER_BUCKETS: tuple[float, ...] = (2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2)
# 1 - after/before: 1 = all flicker removed, 0 = unchanged, negative = made worse. Observed -0.04 to
# 0.86 (median 0.17); a rejected fix sits near 0, so the edges are dense there.
REDUCTION_BUCKETS: tuple[float, ...] = (-0.25, 0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1)


@dataclass(frozen=True, slots=True)
class GpuMemory:
    """Memory of one GPU in bytes, as the driver reports it."""

    index: int
    used_bytes: int
    total_bytes: int


GpuReader = Callable[[], Sequence[GpuMemory]]


def read_gpu_memory() -> list[GpuMemory]:
    """Per-GPU memory from NVML, else from torch if torch is already imported with CUDA initialised.

    Never imports torch itself (seconds of start-up) and never creates a CUDA context
    (hundreds of MB per device): with neither source available it returns an empty list.
    """
    try:
        import pynvml  # type: ignore[import-not-found]  # nvidia-ml-py, optional
    except ImportError:
        pynvml = None
    if pynvml is not None:
        try:
            pynvml.nvmlInit()
            try:
                out = []
                for i in range(pynvml.nvmlDeviceGetCount()):
                    info = pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(i))
                    out.append(GpuMemory(i, int(info.used), int(info.total)))
                return out
            finally:
                pynvml.nvmlShutdown()
        except Exception:  # no driver on this host: fall through to torch
            pass
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is None or not cuda.is_available() or not cuda.is_initialized():
        return []
    out = []
    for i in range(cuda.device_count()):
        free, total = cuda.mem_get_info(i)
        out.append(GpuMemory(i, int(total - free), int(total)))
    return out


def _value(v: object) -> str:
    return str(v.value) if isinstance(v, Enum) else str(v)


class _Bounded:
    """Maps a label value onto a fixed list; anything else becomes the fallback (logged once)."""

    def __init__(self, kind: str, allowed: Iterable[str], fallback: str = OTHER) -> None:
        self.kind = kind
        self.allowed: tuple[str, ...] = tuple(dict.fromkeys(allowed))
        self.fallback = fallback
        self._warned: set[str] = set()

    def extend(self, values: Iterable[str]) -> list[str]:
        new = [v for v in dict.fromkeys(values) if v not in self.allowed]
        self.allowed += tuple(new)
        return new

    def __call__(self, value: object) -> str:
        v = _value(value)
        if v in self.allowed:
            return v
        if v not in self._warned:
            self._warned.add(v)
            log.warning("metric_label_unknown", kind=self.kind, value=v, counted_as=self.fallback)
        return self.fallback


# name -> (help, label) of the gauges read at scrape time
_SCRAPE_TIME: Mapping[str, tuple[str, str]] = {
    "queue_depth": ("Jobs in the journal by state.", "state"),
    "gpu_memory_used_bytes": ("GPU memory in use.", "gpu"),
    "gpu_memory_total_bytes": ("GPU memory size.", "gpu"),
    "output_free_bytes": ("Free space for flickerd in the output folder's file system.", "folder"),
    "output_size_bytes": ("Size of the output folder's file system.", "folder"),
}


def _family(name: str) -> GaugeMetricFamily:
    help_text, label = _SCRAPE_TIME[name]
    return GaugeMetricFamily(f"{NAMESPACE}_{name}", help_text, labels=[label])


class _ScrapeTimeCollector:
    """Queue depth, GPU memory and output disk space, read at each scrape."""

    def __init__(self, owner: Metrics) -> None:
        self._m = owner

    def describe(self) -> list[Metric]:
        # Names only, so registering does not call the sources (the journal may not be open yet).
        return [_family(name) for name in _SCRAPE_TIME]

    def collect(self) -> Iterable[Metric]:
        m = self._m
        depth = _family("queue_depth")
        counts = m._read_queue()
        if counts is not None:
            for state in QUEUE_STATES:
                depth.add_metric([state], float(counts.get(state, 0)))

        used, total = _family("gpu_memory_used_bytes"), _family("gpu_memory_total_bytes")
        for gpu in m._read_gpus():
            used.add_metric([str(gpu.index)], float(gpu.used_bytes))
            total.add_metric([str(gpu.index)], float(gpu.total_bytes))

        free, size = _family("output_free_bytes"), _family("output_size_bytes")
        for folder, path in m._output_dirs.items():
            try:
                st = os.statvfs(path)
            except OSError:  # missing mount: flickerd_intake_paused says so; a 0 here would page for disk
                continue
            free.add_metric([folder], float(st.f_bavail * st.f_frsize))
            size.add_metric([folder], float(st.f_blocks * st.f_frsize))
        return [depth, used, total, free, size]


class Metrics:
    """All flickerd metrics on one registry. Thread-safe: workers and the watcher call it directly.

    ``folders`` are the configured folder names; ``routes`` every route name the rules can produce,
    chains included (``normalize+rife``). Both may grow on a config reload (``set_folders``,
    ``set_routes``); series are never removed while the process lives.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        folders: Sequence[str],
        routes: Sequence[str],
        gpu_slots: int = 0,
        gpu_reader: GpuReader = read_gpu_memory,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # prometheus_client keeps this switch per process, read at each collect; flickerd's is the only
        # registry in the daemon. _created would double the counter and histogram series for a value
        # no panel reads (process_start_time_seconds says when counting began).
        disable_created_metrics()
        self.registry = registry
        self._clock = clock
        self._gpu_reader = gpu_reader
        self._queue_source: Callable[[], Mapping[str, int]] | None = None
        self._output_dirs: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._folders = _Bounded("folder", [*folders, OTHER])
        self._routes = _Bounded("route", [*BASE_ROUTES, *routes, OTHER])
        self._configured_routes: tuple[str, ...] = ()
        self._outcomes = _Bounded("outcome", OUTCOMES, fallback="failed")
        self._reasons = _Bounded("reason", FAILURE_REASONS, fallback="internal")
        self._verdicts = _Bounded("verdict", [*VERDICTS, OTHER])
        self._refusals = _Bounded("why", [r.value for r in Refusal], fallback=Refusal.NOT_REGULAR.value)
        self._cancels = _Bounded("cancel_reason", CANCEL_REASONS, fallback="cancelled")
        r, ns = registry, NAMESPACE

        def counter(name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
            return Counter(name, doc, labels, namespace=ns, registry=r)

        def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
            return Gauge(name, doc, labels, namespace=ns, registry=r)

        def histogram(name: str, doc: str, labels: Sequence[str], buckets: Sequence[float]) -> Histogram:
            return Histogram(name, doc, labels, namespace=ns, registry=r, buckets=buckets)

        self.build_info = gauge(
            "build_info", "Always 1; labels carry the flickerd and Python versions.", ["version", "python_version"]
        )
        self.build_info.labels(__version__, platform.python_version()).set(1)
        ProcessCollector(namespace=ns, registry=r)

        self.files_seen = counter("files_seen", "Files noticed in a watched folder.", ["folder"])
        self.files_settled = counter(
            "files_settled", "Files that finished writing and passed the probe gate.", ["folder"]
        )
        self.files_ignored = counter(
            "files_ignored", "Names in a watched folder that are not inputs, each counted once, by why: hidden, "
            "partial (still being written), pattern (no folder pattern matches), refused.", ["folder", "why"]
        )
        self.files_refused = counter(
            "files_refused", "Inputs refused unread: pipes, sockets, devices, links leading out.", ["folder", "why"]
        )
        self.intake_paused = gauge(
            "intake_paused", "1 while intake from a folder is paused (disk full, mount missing).", ["folder"]
        )
        self.jobs_started = counter(
            "jobs_started", "Jobs that started running, by the route their rules chose (counted when chosen; a job "
            "that ends before a choice, or runs no route, counts under none when it ends).", ["route"])
        self.jobs_in_progress = gauge("jobs_in_progress", "Jobs running now.")
        self.jobs = counter("jobs", "Finished jobs by route (the one their rules chose, as jobs_started; also when "
                            "the rule's fallback ran) and outcome.", ["route", "outcome"])
        self.job_duration = histogram(
            "job_duration_seconds", "Wall time of a job from start to its outcome.",
            ["route", "outcome"], DURATION_BUCKETS_S,
        )
        self.queue_wait = histogram(
            "queue_wait_seconds", "Time from a file settling to its job starting.", [], QUEUE_WAIT_BUCKETS_S
        )
        self.failures = counter("failures", "Failed attempts by reason.", ["reason"])
        self.jobs_cancelled = counter("jobs_cancelled", "Jobs that ended cancelled, by reason.", ["reason"])
        self.healthy = gauge("healthy", "1 while every watcher, stage and job thread makes progress (the "
                                        "systemd watchdog is pinged only then).")
        self.last_success = gauge(
            "last_success_timestamp_seconds",
            "Unix time of the last successful job per route; 0 = none since start.", ["route"],
        )
        self.verdicts = counter("verdicts", "Diagnosis verdicts of input files.", ["verdict"])
        self.guided_jobs = counter(
            "guided_jobs", "Finished jobs that came with a guide (their source video), by what became of it: used "
            "(the published video came from the guided route), not_used (the guided fix was refused or failed), "
            "unusable (missing after guide_wait_s, unreadable, or another frame count).", ["guide"])
        self.window_seams = counter(
            "window_seams", "Window seams (frames where a long render's windows join) in the inputs of finished jobs "
            "(stage=found) and in those published with a drift step that corrected them (stage=fixed).", ["stage"])
        self.flicker_score = histogram(
            "flicker_score", "Warping error with the input's flow (the guide's, for a job with a guide; RGB in [0,1], "
            "squared) of verified jobs, published or rejected, "
            "before and after the fix.", ["stage"], FLICKER_BUCKETS
        )
        # Negative buckets: the client exports no _sum for this one, only buckets and _count.
        self.flicker_reduction = histogram(
            "flicker_reduction_ratio",
            "1 - after/before flicker score of verified jobs, published or rejected (1 = all removed, < 0 = worse).",
            [], REDUCTION_BUCKETS,
        )
        self.headline_reduction = histogram(
            "headline_reduction_ratio",
            "The figure reports, plots and the CLI lead with: 1 - after/before of the flicker measure that fell "
            "most among those over their noise floor, else the warping error's (the job_finished line's headline_measure names it) of verified jobs, "
            "published or rejected (1 = all removed, < 0 = worse).",
            [], REDUCTION_BUCKETS,
        )
        self.config_reloads = counter("config_reloads", "Config reloads by result.", ["result"])
        self.config_reload_ok = gauge("config_last_reload_successful", "1 if the last config (re)load succeeded.")
        self.config_reload_time = gauge(
            "config_last_reload_success_timestamp_seconds", "Unix time of the last successful config (re)load."
        )
        self.gpu_available = gauge("gpu_available", "1 if a CUDA GPU is usable by flickerd.")
        self.gpu_slots = gauge("gpu_slots_configured", "GPU slots the config asks for.")
        registry.register(_ScrapeTimeCollector(self))

        for stage in STAGES:
            self.flicker_score.labels(stage)
        for reason in self._reasons.allowed:
            self.failures.labels(reason)
        for verdict in VERDICTS:
            self.verdicts.labels(verdict)
        for stage in ("found", "fixed"):
            self.window_seams.labels(stage)
        from flickerd.media.guide import GUIDE_STATES

        for state in GUIDE_STATES:  # the dashboard's panel reads 0, not "no data", before the first guide
            self.guided_jobs.labels(state)
        self.healthy.set(1)
        for result in ("success", "failure"):
            self.config_reloads.labels(result)
        self._init_folders(folders)
        self._init_routes(["none", *routes])
        # The daemon only builds Metrics after loading its config, so the initial load succeeded.
        self.config_reload_ok.set(1)
        self.config_reload_time.set(self._clock())
        self.gpu_slots.set(gpu_slots)

    def _init_folders(self, folders: Iterable[str]) -> None:
        """Zeros for what the folder panels and the intake alert read (files_refused has no panel)."""
        for folder in folders:
            for counter in (self.files_seen, self.files_settled):
                counter.labels(folder)
            for skip in Skip:
                self.files_ignored.labels(folder, skip.value)
            self.intake_paused.labels(folder)

    def _init_routes(self, routes: Iterable[str]) -> None:
        """Zeros for each route/outcome pair that can occur (jobs panels, ratio and quarantine alerts) and the
        last-success time the no-success alert reads. Durations only for the pair the percentile panels are
        about (a route's success), so the first such job shows; other pairs appear with their first job."""
        for route in routes:
            if route in self._configured_routes:
                continue
            self._configured_routes += (route,)
            self.last_success.labels(route)
            for outcome in NO_ROUTE_OUTCOMES if route == "none" else ROUTE_OUTCOMES:
                self.jobs.labels(route, outcome)
            self.job_duration.labels(route, "report_only" if route == "none" else "done")

    # --- configuration-time -------------------------------------------------------------------

    def set_routes(self, routes: Sequence[str]) -> None:
        """Add routes a reloaded config can produce (existing series stay)."""
        with self._lock:
            self._routes.extend(routes)
            self._init_routes(routes)

    def set_folders(self, folders: Sequence[str]) -> None:
        """Add folder names from a reloaded config (existing series stay)."""
        with self._lock:
            self._init_folders(self._folders.extend(folders))

    def set_output_dirs(self, dirs: Mapping[str, Path | str]) -> None:
        """Output folder per configured folder name; their file systems' free space is exported."""
        with self._lock:
            self._output_dirs = {self._folders(name): Path(path) for name, path in dirs.items()}

    def set_queue_source(self, fn: Callable[[], Mapping[str, int]]) -> None:
        """``fn`` returns job counts by state; called at each scrape (reads the journal)."""
        self._queue_source = fn

    def set_gpu_slots(self, slots: int) -> None:
        self.gpu_slots.set(slots)

    # --- events -------------------------------------------------------------------------------

    def file_seen(self, folder: str) -> None:
        self.files_seen.labels(self._folders(folder)).inc()

    def file_settled(self, folder: str) -> None:
        self.files_settled.labels(self._folders(folder)).inc()

    def file_ignored(self, folder: str, why: Skip) -> None:
        self.files_ignored.labels(self._folders(folder), Skip(why).value).inc()

    def file_refused(self, folder: str, why: str) -> None:
        self.files_refused.labels(self._folders(folder), self._refusals(why)).inc()

    def job_cancelled(self, reason: str | None) -> None:
        self.jobs_cancelled.labels(self._cancels(reason or "cancelled")).inc()

    def queued_job_cancelled(self, reason: str | None) -> None:
        """A job cancelled before it ever ran (no route, no duration): one ``cancelled`` outcome."""
        self.jobs.labels("none", self._outcomes("cancelled")).inc()
        self.job_cancelled(reason)

    def set_healthy(self, healthy: bool) -> None:
        self.healthy.set(1 if healthy else 0)

    def set_intake_paused(self, folder: str, paused: bool) -> None:
        self.intake_paused.labels(self._folders(folder)).set(1 if paused else 0)

    def job_launched(self) -> None:
        """A job was handed to a worker (its route is not known yet)."""
        self.jobs_in_progress.inc()

    def job_requeued(self) -> None:
        """A launched job went back to the queue without an outcome (a shutdown, a journal that could not be written)."""
        self.jobs_in_progress.dec()

    def job_started(self, route: str) -> None:
        """The rules chose ``route`` for a launched job; once per launch (``none`` at its end if never chosen)."""
        self.jobs_started.labels(self._routes(route)).inc()

    def job_finished(self, route: str, outcome: str, duration_s: float, queue_wait_s: float) -> None:
        """Call exactly once per ``job_launched``; ``route`` is the started one (the rules', when a fallback ran too)."""
        route, outcome = self._routes(route), self._outcomes(outcome)
        self.jobs.labels(route, outcome).inc()
        self.job_duration.labels(route, outcome).observe(max(0.0, duration_s))
        self.queue_wait.observe(max(0.0, queue_wait_s))
        self.jobs_in_progress.dec()
        if outcome in SUCCESS_OUTCOMES:
            self.last_success.labels(route).set(self._clock())

    def failure(self, reason: str) -> None:
        """One failed attempt; ``reason`` is an error's ``reason`` (``flickerd.errors.FAILURE_REASONS``)."""
        self.failures.labels(self._reasons(reason)).inc()

    def guided_job(self, state: str) -> None:
        """A finished job that had a guide; ``state`` is one of ``media.guide.GUIDE_STATES``."""
        from flickerd.media.guide import GUIDE_NOT_USED, GUIDE_STATES

        self.guided_jobs.labels(state if state in GUIDE_STATES else GUIDE_NOT_USED).inc()

    def seams(self, found: int, fixed: int) -> None:
        """One finished job's window seams: found in its input, and corrected in its published output."""
        if found:
            self.window_seams.labels("found").inc(found)
        if fixed:
            self.window_seams.labels("fixed").inc(fixed)

    def verdict(self, verdict: str) -> None:
        self.verdicts.labels(self._verdicts(verdict)).inc()

    def flicker(self, before: float, after: float) -> None:
        """Flicker scores of one verified job (published or rejected), before and after the fix."""
        self.flicker_score.labels("before").observe(before)
        self.flicker_score.labels("after").observe(after)
        if before > 0:
            self.flicker_reduction.observe(1.0 - after / before)

    def headline(self, reduction: float) -> None:
        """One verified job's headline reduction (``verify.headline``: of the measure that fell most).
        No label for the measure: six children of twelve buckets would be a quarter of an idle
        daemon's series; the job_finished line names it."""
        self.headline_reduction.observe(reduction)

    def config_reloaded(self, ok: bool) -> None:
        self.config_reloads.labels("success" if ok else "failure").inc()
        self.config_reload_ok.set(1 if ok else 0)
        if ok:
            self.config_reload_time.set(self._clock())

    def set_gpu_available(self, available: bool) -> None:
        self.gpu_available.set(1 if available else 0)

    # --- scrape-time sources --------------------------------------------------------------------

    def _read_queue(self) -> Mapping[str, int] | None:
        if self._queue_source is None:
            return {}
        try:
            return self._queue_source()
        except Exception as exc:  # a scrape must not fail because the journal is busy
            log.warning("queue_depth_read_failed", error=str(exc))
            return None

    def _read_gpus(self) -> Sequence[GpuMemory]:
        try:
            return self._gpu_reader()
        except Exception as exc:  # driver hiccup: skip the GPU series for this scrape
            log.warning("gpu_memory_read_failed", error=str(exc))
            return ()


def names(registry: CollectorRegistry) -> set[str]:
    """Every series name the registry exposes (``_bucket``/``_sum``/``_count``/``_total`` included)."""
    out: set[str] = set()
    for family in registry.collect():
        out.update(sample.name for sample in family.samples)
        if family.type == "gauge":  # scrape-time gauges may have no sample yet (no GPU here)
            out.add(family.name)
    return out

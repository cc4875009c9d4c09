"""Jobs as Ray tasks on a render farm; the daemon stays the single owner of ingest and journal.

Each submitted ``Task`` becomes one Ray task that runs ``worker.run_task`` on some node:
it reads the source and publishes atomically into the output folder exactly as the local
executor does, so every node must mount the watched folders and their outputs at the same
paths. The workdir lives inside the output folder (``.flickerd-work/<job id>``), on the same
filesystem, so publishing stays a rename.

Resources: a task that holds one of the daemon's GPU slots asks for ``num_gpus=1`` (Ray then
sets ``CUDA_VISIBLE_DEVICES``; regeneration and RIFE use it), every other task ``num_cpus=1``
and sees no GPU. Ray reuses worker processes between tasks, so a GPU worker keeps its
regeneration pipeline in the per-process cache (``routes.regenerate.route.shared_cache``).

Failures: a task whose node dies is re-run by Ray (``max_retries``) on a node that is alive;
each start reports an ``Attempt`` (node id, pid) through a small mailbox actor pinned to the
daemon's node. A publish receipt (``receipts``) makes a re-run after a completed publish
return the recorded result instead of publishing again.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import ray
import structlog
from ray.exceptions import RayError, RayTaskError, TaskCancelledError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from flickerd.scaleout import receipts
from flickerd.scaleout.executor import Attempt, Capacity, Sink
from flickerd.service.journal import JobState
from flickerd.service.worker import Processor, Result, Task, default_processor, run_task

log = structlog.get_logger("flickerd.scaleout")

DEFAULT_MAX_RETRIES = 3  # re-runs after a worker or node is lost (not after a job's own failure)
POLL_S = 0.2  # how long the pump waits for finished tasks per turn
CAPACITY_TTL_S = 5.0  # the daemon asks every turn; nodes join and leave far less often
SHARED_WORK_DIR = ".flickerd-work"  # inside each output folder: shared storage the workers can see


@ray.remote(num_cpus=0)
class Mailbox:
    """Collects ``Attempt``, ``Progress`` and ``RouteChosen`` records from tasks for the daemon to drain."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def put(self, item: Any) -> None:
        self.items.append(item)

    def drain(self) -> list[Any]:
        out, self.items = self.items, []
        return out


def _first_line(exc: BaseException) -> str:
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def shared_root(task: Task) -> Path:
    return Path(task.out_root) / SHARED_WORK_DIR


def _payload(task: Task) -> dict[str, Any]:
    """The task's fields minus its threading.Event (cancellation goes through ``ray.cancel``)."""
    fields = {f.name: getattr(task, f.name) for f in dataclasses.fields(task) if f.name != "cancel"}
    fields["workdir"] = shared_root(task) / str(task.job.id)
    return fields


def run_remote(fields: dict[str, Any], processor: Processor, mailbox: Any) -> tuple[Attempt, Result]:
    """The body of every Ray task: announce the attempt, reuse a receipt or run the job."""
    task = Task(**fields)
    attempt = Attempt(task.job.id, ray.get_runtime_context().get_node_id(), os.getpid(), uuid.uuid4().hex, time.time())
    mailbox.put.remote(attempt)
    root = shared_root(task)
    done = receipts.read(root, task.job.id, task.job.sha256)
    if done is not None:  # an earlier attempt published and then lost its way back
        return attempt, done
    result = run_task(task, processor, lambda p: mailbox.put.remote(p))
    if result.state is not JobState.CANCELLED and (result.output_path or result.report_path):
        receipts.write(root, task.job.id, task.job.sha256, result)
    return attempt, result


_run_remote = ray.remote(run_remote)


@dataclasses.dataclass(slots=True)
class _Submitted:
    task: Task
    ref: Any
    tokens: set[str] = dataclasses.field(default_factory=set)
    cancelled: bool = False


class RayExecutor:
    """``address``: a Ray cluster (``"host:port"``, ``"auto"``) or None to start/join a local one.

    ``prefer_resource`` names a custom node resource: tasks go first to a node that has it, and
    may run elsewhere when it is gone (a soft affinity; used to place work in tests).
    """

    name = "ray"

    def __init__(self, address: str | None = None, processor: Processor | None = None, *,
                 max_retries: int = DEFAULT_MAX_RETRIES, prefer_resource: str | None = None) -> None:
        self.address = address
        self.processor = processor
        self.max_retries = int(max_retries)
        self.prefer_resource = prefer_resource
        self._sink: Sink | None = None
        self._jobs: dict[int, _Submitted] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pump: threading.Thread | None = None
        self._owns_ray = False
        self.mailbox: Any = None
        self.node_id: str | None = None
        self._resources: tuple[float, dict[str, float]] = (-CAPACITY_TTL_S, {})

    # ---- life ---------------------------------------------------------------------------

    def start(self, sink: Sink) -> None:
        self._sink = sink
        if self.processor is None:
            self.processor = default_processor()
        if not ray.is_initialized():
            ray.init(address=self.address, log_to_driver=False, logging_level="warning",
                     configure_logging=False)
            self._owns_ray = True
        self.node_id = ray.get_runtime_context().get_node_id()
        # on the daemon's node: a mailbox on a worker node would die with it
        self.mailbox = Mailbox.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(self.node_id, soft=False)).remote()
        self._pump = threading.Thread(target=self._pump_loop, name="ray-pump", daemon=True)
        self._pump.start()
        res = ray.cluster_resources()
        log.info("ray_connected", address=self.address or "local", node_id=self.node_id,
                 cpus=res.get("CPU", 0), gpus=res.get("GPU", 0))

    def capacity(self, cpu_workers: int, gpu_slots: int) -> Capacity:
        """Jobs in flight = the cluster's CPUs (never fewer than ``cpu_workers``); one GPU per GPU job."""
        when, res = self._resources
        if time.monotonic() - when >= CAPACITY_TTL_S:
            res = ray.cluster_resources()
            self._resources = (time.monotonic(), res)
        return Capacity(max(1, int(cpu_workers), int(res.get("CPU", 0))), int(res.get("GPU", 0)))

    def shutdown(self) -> None:
        self._stop.set()
        if self._pump is not None:
            self._pump.join(timeout=5)
        with self._lock:
            jobs = list(self._jobs.values())
            self._jobs.clear()
        for sub in jobs:
            try:
                ray.cancel(sub.ref, force=True)
            except RayError:
                pass
        if self._owns_ray:
            ray.shutdown()

    # ---- jobs ---------------------------------------------------------------------------

    def _placement(self) -> Any:
        if not self.prefer_resource:
            return "DEFAULT"
        for node in ray.nodes():
            if node.get("Alive") and node.get("Resources", {}).get(self.prefer_resource, 0) > 0:
                return NodeAffinitySchedulingStrategy(node["NodeID"], soft=True)
        return "DEFAULT"

    def submit(self, task: Task) -> None:
        assert self._sink is not None, "start() the executor first"
        resources: dict[str, Any] = {"num_cpus": 1, "num_gpus": 1 if task.gpu else 0}
        ref = _run_remote.options(max_retries=self.max_retries, retry_exceptions=False,
                                  scheduling_strategy=self._placement(), name=f"flickerd-job-{task.job.id}",
                                  **resources).remote(_payload(task), self.processor, self.mailbox)
        with self._lock:
            self._jobs[task.job.id] = _Submitted(task, ref)

    def cancel(self, job_id: int) -> None:
        with self._lock:
            sub = self._jobs.get(job_id)
        if sub is not None:
            sub.task.cancel.set()
            self._forward_cancel(sub)

    def _forward_cancel(self, sub: _Submitted) -> None:
        """The daemon sets a task's cancel event (CLI cancel, timeout, shutdown); Ray needs ``ray.cancel``."""
        if not sub.cancelled:
            sub.cancelled = True
            ray.cancel(sub.ref)  # KeyboardInterrupt in the worker: run_task's cleanup still runs

    def in_flight(self) -> int:
        with self._lock:
            return len(self._jobs)

    # ---- the pump: finished tasks and mailbox records to the sink -----------------------

    def _pump_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                refs = {sub.ref: job_id for job_id, sub in self._jobs.items()}
                to_cancel = [sub for sub in self._jobs.values() if sub.task.cancel.is_set() and not sub.cancelled]
            for sub in to_cancel:
                self._forward_cancel(sub)
            if not refs:
                self._stop.wait(POLL_S)
                self._deliver_mail()
                continue
            # wake on the first finished task, then take every other one already finished
            ready, rest = ray.wait(list(refs), num_returns=1, timeout=POLL_S)
            if ready and rest:
                ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
            self._deliver_mail()
            for ref in ready:
                self._finish(refs[ref], ref)

    def _deliver_mail(self) -> None:
        try:
            items = ray.get(self.mailbox.drain.remote())
        except RayError as exc:
            log.error("ray_mailbox_failed", error=str(exc))
            return
        for item in items:
            if isinstance(item, Attempt):
                self._note_attempt(item)
            else:
                self._emit(item)

    def _note_attempt(self, attempt: Attempt) -> None:
        with self._lock:
            sub = self._jobs.get(attempt.job_id)
            if sub is None or attempt.token in sub.tokens:
                return
            sub.tokens.add(attempt.token)
        self._emit(attempt)  # the daemon journals and logs it

    def _finish(self, job_id: int, ref: Any) -> None:
        attempt: Attempt | None = None
        try:
            attempt, result = ray.get(ref)
        except TaskCancelledError:
            result = Result(job_id, JobState.CANCELLED, "cancelled", reason="cancelled")
        except RayTaskError as exc:  # the task could not run its body (e.g. flickerd missing on that node)
            cause = exc.cause or exc
            result = Result(job_id, JobState.FAILED, "failed", reason="internal", retryable=True,
                            error=f"the Ray task failed on its worker: {type(cause).__name__}: {_first_line(cause)}; "
                                  "check that every node has the same flickerd installed.")
        except RayError as exc:  # the worker or its node was lost more often than max_retries
            result = Result(job_id, JobState.FAILED, "failed", reason="internal", retryable=True,
                            error=f"the Ray task was lost {self.max_retries + 1} times: "
                                  f"{type(exc).__name__}: {_first_line(exc)}")
        if attempt is not None:
            self._note_attempt(attempt)  # its mailbox record may still be on the way
        with self._lock:
            sub = self._jobs.pop(job_id, None)
        if sub is not None:
            receipts.remove(shared_root(sub.task), job_id)
        self._emit(result)

    def _emit(self, item: Any) -> None:
        if self._sink is not None and not self._stop.is_set():
            self._sink(item)

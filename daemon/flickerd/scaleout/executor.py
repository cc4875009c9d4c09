"""Where a job runs: the ``Executor`` protocol the daemon hands tasks to, and the pick by config.

The daemon owns the journal and every state change; an executor only runs
``flickerd.service.worker.run_task`` somewhere and sends records back through one ``sink``
callable (the daemon's event queue): ``Progress`` while it runs, a ``RouteChosen`` once its rules
pick the route, an ``Attempt`` each time a worker starts it (a Ray retry on another node is a
second attempt), and exactly one ``Result`` per submitted task. ``executor = "local"`` never imports Ray.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

GPU_ROUTES = frozenset({"regenerate", "rife"})  # routes that use a GPU when their job holds one

Sink = Callable[[Any], None]
"""Receives ``Progress``, ``RouteChosen``, ``Attempt`` and ``Result`` records; must be thread-safe (``queue.put``)."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """A worker started a job: on which node, in which process (``token`` is unique per start)."""

    job_id: int
    node_id: str
    pid: int
    token: str
    started_at: float  # wall clock, seconds


@dataclass(frozen=True, slots=True)
class Capacity:
    """How many jobs may be in flight at once, and how many of them may hold a GPU."""

    jobs: int
    gpus: int


class Executor(Protocol):
    name: str

    def start(self, sink: Sink) -> None:
        """Connect (Ray) or get ready (threads); records go to ``sink`` from now on."""

    def capacity(self, cpu_workers: int, gpu_slots: int) -> Capacity:
        """Slots for the daemon's dispatcher, given the config's ``cpu_workers`` and ``gpu_slots``."""

    def submit(self, task: Any) -> None:
        """Run ``task`` (a ``worker.Task``); its ``Result`` arrives at the sink later."""

    def cancel(self, job_id: int) -> None:
        """Ask a submitted job to stop; its ``Result`` (state cancelled) still arrives."""

    def shutdown(self) -> None:
        """Stop sending records and release workers; jobs still running are abandoned (the daemon requeues them)."""


def wants_gpu(rules: Iterable[Any]) -> bool:
    """Whether any rule can run a GPU route: only such jobs take one of the scarce GPU slots."""
    return any(step.route in GPU_ROUTES for rule in rules for step in (*rule.steps, *rule.fallback))


def make_executor(config: Any, processor: Any = None) -> Executor:
    """The executor ``config.executor`` names (``"local"`` or ``"ray"``)."""
    kind = str(getattr(config, "executor", "local") or "local")
    if kind == "ray":
        from flickerd.scaleout.ray_executor import RayExecutor

        return RayExecutor(address=getattr(config, "ray_address", None), processor=processor)
    if kind == "local":
        from flickerd.scaleout.local import ThreadExecutor

        return ThreadExecutor(processor=processor)
    from flickerd.errors import ConfigError

    raise ConfigError(f"executor: expected \"local\" or \"ray\", got {kind!r}.")

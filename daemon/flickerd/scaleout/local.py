"""The default executor: one thread per running job in the daemon's own process (no Ray)."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

import structlog

from flickerd.scaleout.executor import Attempt, Capacity, Sink
from flickerd.service.worker import Processor, Task, default_processor, run_task


def gpu_present() -> bool:
    """A cheap look for an NVIDIA device node: the daemon never imports torch."""
    return os.path.exists("/dev/nvidia0") or os.path.exists("/dev/dxg")


class ThreadExecutor:
    name = "local"

    def __init__(self, processor: Processor | None = None, node_id: str | None = None) -> None:
        self.processor = processor
        self.node_id = node_id or socket.gethostname()
        self._sink: Sink | None = None
        self._tasks: dict[int, Task] = {}
        self._lock = threading.Lock()

    def start(self, sink: Sink) -> None:
        self._sink = sink
        if self.processor is None:
            self.processor = default_processor()

    def capacity(self, cpu_workers: int, gpu_slots: int) -> Capacity:
        return Capacity(max(1, int(cpu_workers)), int(gpu_slots) if gpu_present() else 0)

    def submit(self, task: Task) -> None:
        assert self._sink is not None, "start() the executor first"
        with self._lock:
            self._tasks[task.job.id] = task
        threading.Thread(target=self._work, args=(task,), name=f"job-{task.job.id}", daemon=True).start()

    def _work(self, task: Task) -> None:
        sink = self._sink
        assert sink is not None and self.processor is not None
        sink(Attempt(task.job.id, self.node_id, os.getpid(), uuid.uuid4().hex, time.time()))
        try:
            with structlog.contextvars.bound_contextvars(job_id=task.job.id, file=task.job.path,
                                                         folder=task.job.folder):
                result = run_task(task, self.processor, sink)
        finally:
            with self._lock:
                self._tasks.pop(task.job.id, None)
        sink(result)

    def cancel(self, job_id: int) -> None:
        with self._lock:
            task = self._tasks.get(job_id)
        if task is not None:
            task.cancel.set()

    def shutdown(self) -> None:
        with self._lock:
            tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel.set()

"""Which folders take no new files, and why.

A folder is paused when its path is gone (missing, unmounted: ``pause``); its intake and jobs wait
when its output's disk is full (``output_full``); every folder waits while the state dir's disk is
full (``state_full``). Each change is said once: a log line and ``flickerd_intake_paused``.
``check_space`` (each housekeeping turn) lifts a full disk once ``disk.space_back`` says so; the
daemon keeps the journal and the scans, and is called back for them (``requeue_stale``, ``scan``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from flickerd.service.disk import free_bytes, space_back
from flickerd.service.folders import FolderState

log = structlog.get_logger("flickerd.service")


@dataclass
class Pauses:
    """The pause state of the daemon's folders (``folders``: the daemon's own dict, read live).

    ``unschedule(name)`` stops a folder's watch; ``free(path)`` reads free bytes and ``clock()``
    monotonic seconds (swapped in tests)."""

    folders: Mapping[str, FolderState]
    state_dir: Path
    metrics: Any
    unschedule: Callable[[str], None]
    free: Callable[[str | os.PathLike], int] = free_bytes
    clock: Callable[[], float] = time.monotonic
    state_full_since: float | None = None  # the state dir's disk filled up then: all intake waits
    state_free: int = 0  # its free bytes then

    def paused(self, folder: str) -> bool:
        """Whether ``folder`` takes no new files now (an unknown folder takes none)."""
        st = self.folders.get(folder)
        return st is None or st.paused or st.full_since is not None or self.state_full_since is not None

    def pause(self, st: FolderState, why: str) -> None:
        """The folder's path is gone (``why``: missing, unavailable): stop watching it until it is back."""
        if not st.paused:
            st.paused = True
            self.unschedule(st.spec.name)
            self.metrics.set_intake_paused(st.spec.name, True)
            log.warning("folder_paused", folder=st.spec.name, path=str(st.spec.path), why=why)

    def state_full(self, error: BaseException) -> None:
        """The state dir's disk is full (journal, workdirs): pause every folder until space returns."""
        if self.state_full_since is None:
            self.state_full_since = self.clock()
            self.state_free = self.free(self.state_dir)
            for name in self.folders:
                self.metrics.set_intake_paused(name, True)
            self.metrics.failure("disk_full")
            log.error("intake_paused", why="state_disk_full", path=str(self.state_dir), free_bytes=self.state_free,
                      error=str(error))

    def output_full(self, st: FolderState, error: str | None) -> None:
        """The output is full: pause intake and jobs of this folder until space returns."""
        if st.full_since is None:
            st.full_since = self.clock()
            st.full_free = self.free(st.conf.output)
            self.metrics.set_intake_paused(st.spec.name, True)
            log.error("folder_paused", folder=st.spec.name, path=str(st.conf.output), why="disk_full",
                      free_bytes=st.full_free, error=error)

    def check_space(self, now: float, *, requeue_stale: Callable[[], bool],
                    scan: Callable[[FolderState, float], None]) -> None:
        """Resume a full disk once space was freed, or after ``DISK_FULL_RETRY_S`` to try again.

        The state dir first: ``requeue_stale()`` puts back the jobs that finished while the journal
        could not be written, and returns False when the disk filled again (``state_full`` was
        called: nothing resumes). Each folder that takes files again is ``scan``-ned (what arrived
        meanwhile had no event)."""
        if self.state_full_since is not None:
            free = self.free(self.state_dir)
            if not space_back(free, self.state_free, self.state_full_since, now):
                return
            self.state_full_since = None
            if not requeue_stale():
                return
            for st in self.folders.values():
                if not st.paused and st.full_since is None:
                    self.metrics.set_intake_paused(st.spec.name, False)
                    scan(st, now)
            log.info("intake_resumed", why="state_disk_space", path=str(self.state_dir), free_bytes=free)
        for st in self.folders.values():
            if st.full_since is None:
                continue
            free = self.free(st.conf.output)
            if space_back(free, st.full_free, st.full_since, now):
                st.full_since = None
                if not st.paused:
                    self.metrics.set_intake_paused(st.spec.name, False)
                log.info("folder_resumed", folder=st.spec.name, path=str(st.conf.output), why="disk_space",
                         free_bytes=free)
                if not st.paused:
                    scan(st, now)

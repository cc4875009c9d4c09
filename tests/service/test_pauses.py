"""``service.pauses.Pauses``: which folders take no new files, each change said once, and when a full
disk is written again."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from structlog.testing import capture_logs

from flickerd.service.disk import DISK_FREED_BYTES, DISK_FULL_RETRY_S
from flickerd.service.folders import FolderState
from flickerd.service.pauses import Pauses


class Metrics:
    def __init__(self) -> None:
        self.paused: dict[str, bool] = {}
        self.failures: list[str] = []

    def set_intake_paused(self, folder: str, paused: bool) -> None:
        self.paused[folder] = paused

    def failure(self, reason: str) -> None:
        self.failures.append(reason)


def _folder(name: str) -> FolderState:
    return FolderState(SimpleNamespace(name=name, path=Path("/in") / name), SimpleNamespace(output=f"/out/{name}"))


def _pauses(*names: str, free: dict | None = None) -> tuple[Pauses, Metrics, list[str], dict]:
    folders = {n: _folder(n) for n in names}
    free = free if free is not None else {}
    unscheduled: list[str] = []
    clock = SimpleNamespace(now=100.0)
    p = Pauses(folders, Path("/state"), Metrics(), unscheduled.append, free=lambda path: free.get(str(path), 0),
               clock=lambda: clock.now)
    return p, p.metrics, unscheduled, free


def test_a_gone_folder_is_paused_and_unwatched_once():
    p, m, unscheduled, _ = _pauses("a", "b")
    with capture_logs() as logs:
        p.pause(p.folders["a"], "missing")
        p.pause(p.folders["a"], "unavailable")
    assert p.paused("a") and not p.paused("b") and p.paused("unknown")
    assert unscheduled == ["a"] and m.paused == {"a": True}
    assert [(e["event"], e["why"]) for e in logs] == [("folder_paused", "missing")]


def test_a_full_output_waits_until_space_is_freed_then_is_scanned():
    p, m, _, free = _pauses("a", "b", free={"/out/a": 5_000})
    with capture_logs() as logs:
        p.output_full(p.folders["a"], "No space left on device")
        p.output_full(p.folders["a"], "again")  # said once
    assert p.paused("a") and not p.paused("b") and m.paused == {"a": True}
    assert [(e["event"], e["why"], e["free_bytes"]) for e in logs] == [("folder_paused", "disk_full", 5_000)]
    scanned: list[tuple[str, float]] = []

    def scan(st, now):
        scanned.append((st.spec.name, now))

    p.check_space(101.0, requeue_stale=lambda: True, scan=scan)
    assert p.paused("a") and scanned == []  # nothing freed yet
    free["/out/a"] = 5_000 + DISK_FREED_BYTES
    with capture_logs() as logs:
        p.check_space(102.0, requeue_stale=lambda: True, scan=scan)
    assert not p.paused("a") and m.paused == {"a": False} and scanned == [("a", 102.0)]
    assert [(e["event"], e["why"]) for e in logs] == [("folder_resumed", "disk_space")]


def test_a_full_output_of_a_gone_folder_is_lifted_but_the_folder_stays_paused_and_unscanned():
    p, m, _, _ = _pauses("a")
    p.output_full(p.folders["a"], None)
    p.pause(p.folders["a"], "unavailable")
    scanned: list[str] = []
    p.check_space(100.0 + DISK_FULL_RETRY_S, requeue_stale=lambda: True, scan=lambda st, now: scanned.append(st))
    assert p.folders["a"].full_since is None and p.paused("a") and m.paused == {"a": True} and scanned == []


def test_a_full_state_dir_pauses_every_folder_until_space_is_back_and_the_stale_jobs_are_requeued():
    p, m, _, free = _pauses("a", "b", "c", free={"/state": 1_000})
    p.pause(p.folders["c"], "missing")
    with capture_logs() as logs:
        p.state_full(OSError(28, "No space left on device"))
        p.state_full(OSError(28, "again"))
    assert all(p.paused(n) for n in "abc") and m.failures == ["disk_full"]
    assert [(e["event"], e["free_bytes"]) for e in logs] == [("intake_paused", 1_000)]
    scanned: list[str] = []

    def scan(st, now):
        scanned.append(st.spec.name)

    def filled_again() -> bool:  # what the daemon's requeue does when the journal write hits ENOSPC
        p.state_full(OSError(28, "still full"))
        return False

    free["/state"] = 1_000 + DISK_FREED_BYTES
    p.check_space(101.0, requeue_stale=filled_again, scan=scan)
    assert p.state_full_since == 100.0 and p.paused("a") and scanned == []
    with capture_logs() as logs:
        p.check_space(100.0 + DISK_FULL_RETRY_S, requeue_stale=lambda: True, scan=scan)
    assert p.state_full_since is None and not p.paused("a") and not p.paused("b") and p.paused("c")
    assert scanned == ["a", "b"] and m.paused == {"a": False, "b": False, "c": True}
    assert [e["event"] for e in logs] == ["intake_resumed"]

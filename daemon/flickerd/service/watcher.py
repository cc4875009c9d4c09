"""Watching folders: watchdog emitters feed one queue of ``Seen`` paths; nothing else happens here.

Native (inotify) watches for local folders share one observer; a folder with ``poll = true``
(NFS, SMB) gets its own polling observer. Handlers only filter names and queue paths: settling,
hashing and journaling are other modules' jobs. ``scan`` lists the same files for the startup
reconciliation and the periodic rescan that catch whatever events miss.
"""

from __future__ import annotations

import fnmatch
import os
import queue
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

# names being written by someone else, never inputs
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download")


@dataclass(frozen=True, slots=True)
class Seen:
    folder: str  # the folder config's name
    path: str
    renamed: bool = False  # arrived by an atomic rename: complete already


@dataclass(frozen=True, slots=True)
class WatchSpec:
    """What the watcher needs from a folder's configuration."""

    name: str
    path: Path
    patterns: tuple[str, ...]
    recursive: bool
    poll: bool
    poll_interval_s: float
    excluded: tuple[Path, ...]  # output trees: never inputs


def wanted(spec: WatchSpec, path: str) -> bool:
    """Whether ``path`` is a candidate input of ``spec``'s folder (pure; no stat)."""
    p = Path(path)
    try:
        rel = p.relative_to(spec.path)
    except ValueError:
        return False
    parts = rel.parts
    if not parts or (not spec.recursive and len(parts) != 1):
        return False
    if any(part.startswith(".") for part in parts):
        return False
    name = parts[-1]
    lower = name.lower()
    if lower.endswith(IGNORED_SUFFIXES) or lower.endswith("~"):
        return False
    for ex in spec.excluded:
        if p == ex or ex in p.parents:
            return False
    if spec.patterns and not any(fnmatch.fnmatch(lower, pat.lower()) for pat in spec.patterns):
        return False
    return True


def scan(spec: WatchSpec) -> Iterator[str]:
    """Every wanted regular file under the folder now (skipping hidden and output trees)."""
    if spec.recursive:
        for root, dirs, names in os.walk(spec.path):
            rootp = Path(root)
            dirs[:] = [d for d in dirs if not d.startswith(".") and rootp / d not in spec.excluded]
            for name in names:
                full = str(rootp / name)
                if wanted(spec, full) and os.path.isfile(full):
                    yield full
    else:
        try:
            entries = list(os.scandir(spec.path))
        except OSError:
            return
        for entry in entries:
            if wanted(spec, entry.path) and entry.is_file():
                yield entry.path


class _QueueHandler(FileSystemEventHandler):
    def __init__(self, spec: WatchSpec, out: queue.Queue) -> None:
        self.spec = spec
        self.out = out

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        kind = event.event_type
        if kind == "moved":
            path, renamed = os.fsdecode(event.dest_path), True
        elif kind in ("created", "modified", "closed"):
            path, renamed = os.fsdecode(event.src_path), False
        else:
            return
        if wanted(self.spec, path):
            self.out.put(Seen(self.spec.name, path, renamed))


class Watcher:
    """Owns the observers; ``schedule``/``unschedule`` one folder at a time (pauses, reloads)."""

    def __init__(self, out: queue.Queue) -> None:
        self.out = out
        self._native = Observer()
        self._native.daemon = True
        self._native.start()
        self._watches: dict[str, object] = {}
        self._pollers: dict[str, PollingObserver] = {}

    def schedule(self, spec: WatchSpec) -> None:
        self.unschedule(spec.name)
        handler = _QueueHandler(spec, self.out)
        if spec.poll:
            obs = PollingObserver(timeout=spec.poll_interval_s)
            obs.daemon = True
            obs.schedule(handler, str(spec.path), recursive=spec.recursive)
            obs.start()
            self._pollers[spec.name] = obs
        else:
            self._watches[spec.name] = self._native.schedule(handler, str(spec.path), recursive=spec.recursive)

    def unschedule(self, name: str) -> None:
        watch = self._watches.pop(name, None)
        if watch is not None:
            try:
                self._native.unschedule(watch)
            except (KeyError, OSError):
                pass
        obs = self._pollers.pop(name, None)
        if obs is not None:
            obs.stop()
            obs.join(timeout=5)

    def folders(self) -> Sequence[str]:
        return (*self._watches, *self._pollers)

    def healthy(self) -> bool:
        return self._native.is_alive() and all(o.is_alive() for o in self._pollers.values())

    def stop(self) -> None:
        for name in list(self._pollers):
            self.unschedule(name)
        self._native.stop()
        self._native.join(timeout=5)

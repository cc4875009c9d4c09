"""Watching folders: watchdog emitters feed one queue of ``Seen`` paths; nothing else happens here.

Native (inotify) watches for local folders share one observer; a folder with ``poll = true``
(NFS, SMB) gets its own polling observer. Handlers only filter names and queue paths: settling,
hashing and journaling are other modules' jobs. ``scan`` lists the same files for the startup
reconciliation and the periodic rescan that catch whatever events miss.

Image sequences: a sub-folder holding numbered frames (``shots/a/frame_0001.png``) is one
render. Any event of one of its frames (or its completion marker) queues the *folder*, marked
``sequence``; its frames never become candidates of their own. Frames loose in the watched
folder itself belong to no sequence and are not inputs.
"""

from __future__ import annotations

import fnmatch
import os
import queue
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from flickerd.media.guide import is_guide_name
from flickerd.media.sequence import is_frame_name
from flickerd.service.ignored import Skip

# names being written by someone else, never inputs
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download")


@dataclass(frozen=True, slots=True)
class Seen:
    folder: str  # the folder config's name
    path: str
    renamed: bool = False  # arrived by an atomic rename: complete already
    sequence: bool = False  # ``path`` is an image-sequence folder


@dataclass(frozen=True, slots=True)
class WatchLost:
    """The watched folder itself was deleted (inotify's IN_DELETE_SELF, then IN_IGNORED): its watch is gone."""

    folder: str


@dataclass(frozen=True, slots=True)
class EventsLost:
    """The kernel's event queue overflowed: events of this folder were dropped; only a rescan finds them."""

    folder: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A name in the folder that is not an input (the daemon logs and counts it once)."""

    folder: str
    path: str
    why: Skip


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
    sequences: bool = True  # sub-folders of numbered frames are renders
    marker: str = "_done"  # a sequence's completion marker file name ("" : none)


def wanted(spec: WatchSpec, path: str) -> bool:
    """Whether ``path`` is a candidate input of ``spec``'s folder (pure; no stat)."""
    parts = _inside(spec, Path(path))
    if parts is None or (not spec.recursive and len(parts) != 1):
        return False
    return _name_skip(spec, parts[-1]) is None


def why_skipped(spec: WatchSpec, path: str) -> Skip | None:
    """Why a name of the folder is not an input; None for an input, or for a path that is no name
    of this folder (outside it, under an output or a hidden folder, below a non-recursive watch)."""
    p = Path(path)
    try:
        parts = p.relative_to(spec.path).parts
    except ValueError:
        return None
    if not parts or (not spec.recursive and len(parts) != 1) or any(x.startswith(".") for x in parts[:-1]):
        return None
    if any(p == ex or ex in p.parents for ex in spec.excluded):
        return None
    return Skip.HIDDEN if parts[-1].startswith(".") else _name_skip(spec, parts[-1])


def _name_skip(spec: WatchSpec, name: str) -> Skip | None:
    lower = name.lower()
    if lower.endswith(IGNORED_SUFFIXES) or lower.endswith("~"):
        return Skip.PARTIAL
    if spec.patterns and not any(fnmatch.fnmatch(lower, pat.lower()) for pat in spec.patterns):
        return Skip.PATTERN
    if is_guide_name(name):
        return Skip.GUIDE
    return None


def _inside(spec: WatchSpec, p: Path) -> tuple[str, ...] | None:
    """``p``'s parts below the watched folder, or None when hidden, excluded or outside it."""
    try:
        parts = p.relative_to(spec.path).parts
    except ValueError:
        return None
    if not parts or any(part.startswith(".") for part in parts):
        return None
    for ex in spec.excluded:
        if p == ex or ex in p.parents:
            return None
    return parts


def sequence_folder(spec: WatchSpec, path: str, *, is_dir: bool = False) -> str | None:
    """The sequence folder an event at ``path`` belongs to, or None (pure; no stat).

    A frame or the marker inside a sub-folder names that sub-folder; a sub-folder itself (a
    directory created or renamed in) names itself. Without ``recursive`` only direct
    sub-folders of the watched folder hold sequences.
    """
    if not spec.sequences:
        return None
    p = Path(path)
    parts = _inside(spec, p)
    if parts is None:
        return None
    if is_dir:
        folder_parts = parts
    else:
        name = parts[-1]
        lower = name.lower()
        if lower.endswith(IGNORED_SUFFIXES) or lower.endswith("~"):
            return None
        if not (is_frame_name(name) or (spec.marker and name == spec.marker)):
            return None
        folder_parts = parts[:-1]
    if not folder_parts or (not spec.recursive and len(folder_parts) != 1):
        return None
    return str(spec.path.joinpath(*folder_parts))


def _holds_frames(folder: str) -> bool:
    try:
        with os.scandir(folder) as it:
            return any(is_frame_name(e.name) for e in it)
    except OSError:
        return False


def _listing(spec: WatchSpec) -> Iterator[tuple[Path, list[str], list[str]]]:
    """(folder, sub-folders, files) of the watched tree now: one level unless ``recursive``;
    hidden and excluded (output) sub-folders are neither listed nor entered."""
    if spec.recursive:
        walk = ((Path(root), dirs, names) for root, dirs, names in os.walk(spec.path))
    else:
        try:
            with os.scandir(spec.path) as it:
                entries = list(it)
        except OSError:
            return
        walk = iter([(spec.path, [e.name for e in entries if e.is_dir()], [e.name for e in entries if not e.is_dir()])])
    for root, dirs, names in walk:
        dirs[:] = [d for d in dirs if not d.startswith(".") and root / d not in spec.excluded]
        yield root, dirs, names


def candidates(spec: WatchSpec, skipped: Callable[[str, Skip], None] | None = None) -> Iterator[tuple[str, bool]]:
    """(path, is_sequence) for every wanted name that is not a folder (pipes and devices included:
    the daemon refuses those with a reason, as it does for events) and, with ``sequences``, every
    sub-folder holding numbered frames now: one listing of the tree (it may be a slow share).
    ``skipped`` hears of every other name (a sequence's frames excepted) and why it is not an input."""
    for root, dirs, names in _listing(spec):
        for name in names:
            full = str(root / name)
            if wanted(spec, full):
                if os.path.exists(full) and not os.path.isdir(full):
                    yield full, False
            elif skipped is not None and sequence_folder(spec, full) is None:
                why = why_skipped(spec, full)
                if why is not None:
                    skipped(full, why)
        if spec.sequences:
            for d in dirs:
                if _holds_frames(str(root / d)):
                    yield str(root / d), True


def scan(spec: WatchSpec) -> Iterator[str]:
    """Every wanted regular file under the folder now (skipping hidden and output trees)."""
    return (path for path, sequence in candidates(spec) if not sequence and os.path.isfile(path))


def owns(spec: WatchSpec, path: str) -> bool:
    """Whether an input at ``path`` (a file or a sequence folder) lies where ``spec``'s folder
    takes inputs from, whatever its name or patterns (pure; no stat)."""
    parts = _inside(spec, Path(path))
    return parts is not None and (spec.recursive or len(parts) == 1)


def scan_sequences(spec: WatchSpec) -> Iterator[str]:
    """Every sub-folder that holds numbered frames now (the candidates ``scan`` leaves out)."""
    return (path for path, sequence in candidates(spec) if sequence)


class _QueueHandler(FileSystemEventHandler):
    def __init__(self, spec: WatchSpec, out: queue.Queue) -> None:
        self.spec = spec
        self.out = out

    def on_any_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind == "events_lost":
            self.out.put(EventsLost(self.spec.name))
            return
        if kind == "deleted" and event.is_directory and os.fsdecode(event.src_path) == str(self.spec.path):
            self.out.put(WatchLost(self.spec.name))  # watchdog stops this folder's emitter after it
            return
        if kind == "moved":
            path, renamed = os.fsdecode(event.dest_path), True
        elif kind in ("created", "modified", "closed", "deleted") and (kind != "deleted" or not event.is_directory):
            path, renamed = os.fsdecode(event.src_path), False
        else:
            return
        folder = sequence_folder(self.spec, path, is_dir=event.is_directory)
        if folder is not None:
            # a frame removed changes the sequence as much as one added
            self.out.put(Seen(self.spec.name, folder, False, sequence=True))
        elif kind != "deleted" and not event.is_directory:
            if wanted(self.spec, path):
                self.out.put(Seen(self.spec.name, path, renamed))
            elif (why := why_skipped(self.spec, path)) is not None:
                self.out.put(Skipped(self.spec.name, path, why))


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
            obs.schedule(handler, str(spec.path), recursive=spec.recursive or spec.sequences)
            obs.start()
            self._pollers[spec.name] = obs
        else:
            # sequences live in sub-folders: their frames' events are needed even without ``recursive``
            self._watches[spec.name] = self._native.schedule(handler, str(spec.path),
                                                             recursive=spec.recursive or spec.sequences)

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

    def stopped(self) -> list[str]:
        """Folders whose emitter thread ended (its folder was deleted, or it failed): no events come from them."""
        alive = {e.watch: e.is_alive() for e in list(self._native.emitters)}
        out = [name for name, watch in self._watches.items() if not alive.get(watch, False)]
        return out + [name for name, obs in self._pollers.items() if not all(e.is_alive() for e in list(obs.emitters))]

    def healthy(self) -> bool:
        return self._native.is_alive() and all(o.is_alive() for o in self._pollers.values())

    def stop(self) -> None:
        for name in list(self._pollers):
            self.unschedule(name)
        self._native.stop()
        self._native.join(timeout=5)

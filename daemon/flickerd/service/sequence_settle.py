"""Settling image-sequence folders: when has a render written its last frame?

A folder of numbered frames is one render. It is complete when its completion marker (a
folder's ``sequence_marker``, default ``_done``) exists and the frames have not changed for
``settle_s``; without a marker, when no frame was added, removed or changed for
``sequence_quiet_s`` (0: wait for the marker, however long). Frames being written under
hidden or temp names (``.frame_0005.png.tmp``, ``frame_0005.png.part``) are not frames yet.

``snapshot`` is the only I/O (one ``scandir``); ``next_step`` is the pure decision the
``Settler`` acts on. ``probe_sequence`` is the gate a settled folder passes before it is hashed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from enum import Enum

import structlog

from flickerd.config import DEFAULT_SEQUENCE_FPS, DEFAULT_SEQUENCE_MARKER, DEFAULT_SEQUENCE_QUIET_S
from flickerd.errors import LimitExceeded, NotAVideo

log = structlog.get_logger("flickerd.service")

RECHECK_S = 2.0  # longest gap between two looks at a folder that is still settling
# names being written by someone else (as the watcher's IGNORED_SUFFIXES)
_PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download")


@dataclass(frozen=True, slots=True)
class SequenceRules:
    """A folder's sequence settings, as the settler and the hasher need them."""

    marker: str = DEFAULT_SEQUENCE_MARKER  # "" : no marker, the quiet period alone settles
    quiet_s: float = DEFAULT_SEQUENCE_QUIET_S  # 0: only the marker settles a sequence
    fps: float = DEFAULT_SEQUENCE_FPS  # when no sidecar gives one

    @classmethod
    def for_folder(cls, conf: object) -> SequenceRules:
        """A folder config's sequence settings."""
        return cls(marker=str(getattr(conf, "sequence_marker", DEFAULT_SEQUENCE_MARKER)),
                   quiet_s=float(getattr(conf, "sequence_quiet_s", DEFAULT_SEQUENCE_QUIET_S)),
                   fps=float(getattr(conf, "sequence_fps", DEFAULT_SEQUENCE_FPS)))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a sequence folder holds now; ``signature`` changes when any frame does."""

    frames: int
    size: int  # bytes of all frames
    mtime_ns: int  # the newest frame's
    signature: str
    marker: bool

    # the journal records a version of an input by (size, mtime), like a file's stat
    @property
    def st_size(self) -> int:
        return self.size

    @property
    def st_mtime(self) -> float:
        return self.mtime_ns / 1e9


def is_partial(name: str) -> bool:
    """A name someone is still writing: hidden, a temp/download suffix, or an editor backup."""
    lower = name.lower()
    return name.startswith(".") or lower.endswith(_PARTIAL_SUFFIXES) or lower.endswith("~")


def snapshot(folder: str, marker: str) -> Snapshot:
    """Look at ``folder`` once: its numbered frames (sizes and mtimes) and the marker.

    Raises ``FileNotFoundError`` when the folder is gone, ``OSError`` when it cannot be listed.
    """
    from flickerd.media.guarded import refusal
    from flickerd.media.sequence import is_frame_name

    frames = size = newest = 0
    h = hashlib.sha256()
    entries = sorted(os.scandir(folder), key=lambda e: e.name)
    has_marker = False
    for entry in entries:
        if marker and entry.name == marker:
            has_marker = True
            continue
        if is_partial(entry.name) or not is_frame_name(entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) and refusal(entry.path, root=folder) is not None:
                continue  # a link leading out, a pipe, a device: never a frame (find_sequence agrees)
            st = entry.stat()
        except FileNotFoundError:
            continue  # renamed away between the listing and the stat: the next look sees it
        if not entry.is_file():
            continue
        frames += 1
        size += st.st_size
        newest = max(newest, st.st_mtime_ns)
        h.update(f"{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n".encode("utf-8", "surrogateescape"))
    return Snapshot(frames, size, newest, h.hexdigest(), has_marker)


class Step(str, Enum):
    WAIT = "wait"  # look again at the returned time
    PROBE = "probe"  # settled: run the gate
    IGNORE = "ignore"  # no frames and no marker: not a render (yet); a new frame brings it back


def next_step(snap: Snapshot, *, stable_for: float, settle_s: float, quiet_s: float) -> tuple[Step, float]:
    """What to do with a sequence whose ``snap`` has been unchanged for ``stable_for`` seconds.

    Returns the step and, for ``WAIT``, how long until the next look (pure).
    """
    if snap.frames == 0 and not snap.marker:
        return Step.IGNORE, 0.0
    if snap.marker:
        need = settle_s  # the writer says it is done: only make sure nothing is still landing
    elif quiet_s > 0:
        need = quiet_s
    else:
        return Step.WAIT, RECHECK_S  # marker only: keep looking for it
    if stable_for >= need:
        return Step.PROBE, 0.0
    return Step.WAIT, min(need - stable_for, RECHECK_S)


def probe_sequence(folder: str, limits: object = None) -> object:
    """The gate for a settled sequence: frames exist, are one size, are within ``limits``, and the
    first one decodes. Raises an ``InputError`` with a sentence saying what is wrong."""
    from flickerd.media.probe import probe
    from flickerd.media.sequence import check_frame_sizes, find_sequence

    try:
        seq = find_sequence(folder)
    except NotAVideo as exc:
        raise NotAVideo(f"{folder}: the sequence folder holds no numbered image frames (PNG, JPEG, TIFF or EXR "
                        "named like shot_0001.png); nothing to process.") from exc
    if seq.ignored:
        log.warning("frames_ignored", file=folder, frames=list(seq.ignored[:20]), count=len(seq.ignored),
                    why="links leading out of the sequence folder, or pipes, sockets or devices: never read")
    info = probe(folder)  # decodes the first frame
    if limits is not None:
        from flickerd.limits import check_limits

        why = check_limits(info, limits)
        if why:
            raise LimitExceeded(f"{folder}: {why}")
    check_frame_sizes(seq)
    return info

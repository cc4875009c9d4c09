"""The one way flickerd opens a file someone placed: sidecars, metadata, frames, the inputs it hashes.

A hot folder is writable by others, so what looks like ``shot.json`` may be a named pipe (an
``open`` that never returns), ``/dev/zero`` behind a link (a read that never ends), or a link to
somebody else's file. Every such read goes through ``open_input`` or ``read_input``:

- regular files only: pipes, sockets and devices are refused before they are opened (opening
  some devices has side effects), and again on the open descriptor in case the name was swapped;
- with a ``root``, a link is followed only when it resolves inside ``root`` (for files beside or
  inside a render: the folder they sit in), and the resolved path is opened with ``O_NOFOLLOW``;
- ``O_NONBLOCK`` on open, so a pipe swapped in at the last moment cannot block it;
- a size cap per kind (``CAPS``), checked on the descriptor; ``read_input`` also stops reading there.

``refusal`` answers the same questions from metadata alone, without opening (the watcher's check).
These calls belong on worker threads, never on the daemon's loop.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import BinaryIO

from flickerd.errors import UnsafeInput


class InputKind(str, Enum):
    VIDEO = "video"  # an input clip: no cap here, limits.max_file_bytes applies at the gate
    SIDECAR = "sidecar"  # NAME.json, FOLDER.json, FOLDER/_sequence.json
    FRAME = "frame"  # one image of a sequence, its PNG text chunks included
    REPORT = "report"  # a published NAME.report.json, read back to rebuild a lost journal


CAPS: Mapping[InputKind, int] = {  # bytes; 0 = no cap
    InputKind.VIDEO: 0,
    InputKind.SIDECAR: 64 * 1024,
    InputKind.FRAME: 1024 * 1024 * 1024,  # a 16K 16-bit RGBA frame, uncompressed, is 2 GiB: none is that big
    InputKind.REPORT: 256 * 1024 * 1024,  # an hour-long clip's timeline is a few MiB
}


class Refusal(str, Enum):
    """Why an entry was not read (the ``why`` of logs and the ``flickerd_files_refused_total`` label)."""

    FIFO = "fifo"
    SOCKET = "socket"
    CHAR_DEVICE = "char_device"
    BLOCK_DEVICE = "block_device"
    DIRECTORY = "directory"
    NOT_REGULAR = "not_regular"  # any other kind of entry
    LINK_OUTSIDE = "symlink_outside"  # the name the watcher has always logged
    TOO_LARGE = "too_large"


_WHAT = {
    Refusal.FIFO: "a named pipe (FIFO)",
    Refusal.SOCKET: "a socket",
    Refusal.CHAR_DEVICE: "a character device",
    Refusal.BLOCK_DEVICE: "a block device",
    Refusal.DIRECTORY: "a folder",
    Refusal.NOT_REGULAR: "not a regular file",
}


@dataclass(frozen=True, slots=True)
class Refused:
    why: Refusal
    message: str  # a sentence naming the path

    def error(self) -> UnsafeInput:
        return UnsafeInput(self.message, self.why)


def kind_of(mode: int, *, allow_dir: bool = False) -> Refusal | None:
    """None for a regular file (or a folder when ``allow_dir``), else what it is. Pure."""
    if stat.S_ISREG(mode) or (allow_dir and stat.S_ISDIR(mode)):
        return None
    for test, why in ((stat.S_ISFIFO, Refusal.FIFO), (stat.S_ISSOCK, Refusal.SOCKET),
                      (stat.S_ISCHR, Refusal.CHAR_DEVICE), (stat.S_ISBLK, Refusal.BLOCK_DEVICE),
                      (stat.S_ISDIR, Refusal.DIRECTORY)):
        if test(mode):
            return why
    return Refusal.NOT_REGULAR


def inside(path: str, root: str | os.PathLike) -> bool:
    """Whether ``path`` resolves to ``root`` or below it (both resolved)."""
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


def _special(path: str, why: Refusal) -> Refused:
    return Refused(why, f"{path}: is {_WHAT[why]}, not a regular file; flickerd reads only regular files "
                        "and left it unopened.")


def _outside(path: str, root: str | os.PathLike) -> Refused:
    return Refused(Refusal.LINK_OUTSIDE, f"{path}: links outside {root} (to {os.path.realpath(path)}); links "
                                         "leading out of a folder are never followed.")


def refusal(path: str | os.PathLike, *, root: str | os.PathLike | None = None,
            allow_dir: bool = False) -> Refused | None:
    """Why ``path`` must not be read, from metadata alone, or None. A vanished path is None
    (the caller sees it gone); with ``root`` the path must resolve inside it."""
    path = os.fspath(path)
    if root is not None and not inside(path, root):
        return _outside(path, root)
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    why = kind_of(mode, allow_dir=allow_dir)
    return _special(path, why) if why else None


def open_input(path: str | os.PathLike, kind: InputKind, *, root: str | os.PathLike | None = None) -> BinaryIO:
    """``path`` opened for reading, or ``UnsafeInput`` saying why not (see the module docstring).

    ``FileNotFoundError`` and other ``OSError`` pass through: a vanished or unreadable file is
    the caller's business, as with ``open``.
    """
    path = os.fspath(path)
    target, flags = path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    if root is not None:
        if not inside(path, root):
            raise _outside(path, root).error()
        target, flags = os.path.realpath(path), flags | os.O_NOFOLLOW
    why = kind_of(os.stat(target).st_mode)
    if why:
        raise _special(path, why).error()
    try:
        fd = os.open(target, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # made a link after it was resolved
            raise _outside(path, root or os.path.dirname(path)).error() from None
        raise
    try:
        st = os.fstat(fd)
        why = kind_of(st.st_mode)
        if why:  # swapped between the look and the open
            raise _special(path, why).error()
        cap = CAPS[kind]
        if cap and st.st_size > cap:
            raise Refused(Refusal.TOO_LARGE, f"{path}: is {st.st_size} bytes, more than the {cap} a "
                                             f"{kind.value} may have; it was not read.").error()
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_input(path: str | os.PathLike, kind: InputKind, *, root: str | os.PathLike | None = None) -> bytes:
    """The whole file through ``open_input``; never more than the kind's cap (a file still growing is refused)."""
    cap = CAPS[kind]
    with open_input(path, kind, root=root) as f:
        data = f.read(cap + 1) if cap else f.read()
    if cap and len(data) > cap:
        raise Refused(Refusal.TOO_LARGE, f"{os.fspath(path)}: grew past the {cap} bytes a {kind.value} may "
                                         "have while it was read; it was not used.").error()
    return data

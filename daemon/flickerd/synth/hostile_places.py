"""Hostile entries placed *in* a watched folder: special files and links, each with what flickerd must do.

``hostile.py`` is a corpus of bytes; this one is of directory entries a local user or a careless
operator can put in a hot folder: named pipes, sockets, device nodes, and links that lead out of
the folder or to a device, beside or inside an image sequence. ``place(folder, outside)`` creates
every case this process may create (a device node needs CAP_MKNOD) and returns what must happen.

==================== ========================================================= =====================
case                 what is placed                                            outcome
==================== ========================================================= =====================
fifo                 ``fifo.mp4``, a named pipe nobody writes to               refused: fifo
socket               ``socket.mp4``, a bound Unix socket                       refused: socket
char_device          ``zero.mp4``, a character device (1:5, /dev/zero's)       refused: char_device
sidecar_dev_zero     a sequence whose ``NAME.json`` links to /dev/zero         processed
sidecar_fifo         a sequence whose ``_sequence.json`` is a named pipe       processed
sidecar_outside      a sequence whose ``NAME.json`` links to a file outside    processed, never read
frame_outside        a sequence whose frame 4 links to an image outside        processed without it
video_sidecar_zero   a clip whose ``NAME.json`` links to /dev/zero             processed
==================== ========================================================= =====================

Refused entries get no journal row: the daemon logs ``file_ignored`` with the ``why`` and counts
``flickerd_files_refused_total{why}``. Processed ones become ordinary jobs; what the links point
at (``SECRET``, the outside frame) must never reach a report or an output.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flickerd.synth.hostile import write_clip

SECRET = "SECRET PROMPT kept outside the hot folder"
SEQUENCE_FRAMES = 8
LINKED_FRAME = 4  # frame_outside: this frame links out
SOCKET_PATH_MAX = 100  # AF_UNIX paths are limited to 108 bytes


@dataclass(frozen=True, slots=True)
class Placed:
    """One placed entry and what must happen to it."""

    name: str
    path: Path  # the input: a file, or a sequence folder
    refused: str | None  # the watcher's reason (``Refusal`` value) when refused, None when processed
    frames: int | None  # a processed sequence: frames its job must see (links out are not frames)
    about: str


def can_make_devices() -> bool:
    """Whether this process may create device nodes (root in most containers, CAP_MKNOD)."""
    probe = Path(tempfile.mkdtemp(prefix="flickerd-mknod-")) / "dev"
    try:
        os.mknod(probe, stat.S_IFCHR | 0o600, os.makedev(1, 5))
        return True
    except OSError:
        return False
    finally:
        shutil.rmtree(probe.parent, ignore_errors=True)


def _frames(folder: Path, count: int = SEQUENCE_FRAMES, *, seed: int = 0) -> None:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 190, (48, 64 + count, 3), dtype=np.uint8)
    for n in range(1, count + 1):
        cv2.imwrite(str(folder / f"shot_{n:04d}.png"), np.ascontiguousarray(base[:, n:n + 64]))


def _sequence(stage: Path, folder: Path, name: str, seed: int) -> Path:
    """A finished sequence, built in ``stage`` and renamed into ``folder`` whole (as a farm's move does)."""
    staged = stage / name
    _frames(staged, seed=seed)
    (staged / "_done").touch()
    final = folder / name
    os.rename(staged, final)
    return final


def _bound_socket(path: Path) -> None:
    """A socket file at ``path`` (bound in a short folder and moved when ``path`` is too long for AF_UNIX)."""
    short = path if len(os.fsencode(path)) < SOCKET_PATH_MAX else \
        Path(tempfile.mkdtemp(prefix="fs", dir=path.parent)) / "s"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(short))
    if short != path:
        os.rename(short, path)
        short.parent.rmdir()


def _outside(outside: Path) -> tuple[Path, Path]:
    """The files links point at: a sidecar with ``SECRET`` and a frame of the sequences' size."""
    import cv2

    outside.mkdir(parents=True, exist_ok=True)
    secret_json = outside / "secret.json"
    secret_json.write_text(json.dumps({"fps": 5, "prompt": SECRET, "seed": 7}))
    secret_png = outside / "secret.png"
    cv2.imwrite(str(secret_png), np.full((48, 64, 3), 255, np.uint8))
    return secret_json, secret_png


def place(folder: str | os.PathLike, outside: str | os.PathLike, *,
          devices: bool | None = None) -> list[Placed]:
    """Create every case in ``folder`` (links point into ``outside``); returns what each must become.

    ``devices=None`` makes the device node when this process may (``can_make_devices``).
    """
    folder, outside = Path(folder), Path(outside)
    secret_json, secret_png = _outside(outside)
    stage = Path(tempfile.mkdtemp(prefix=".stage-", dir=folder.parent))
    out: list[Placed] = []

    def case(name: str, make: Callable[[], Path], refused: str | None, frames: int | None, about: str) -> None:
        out.append(Placed(name, make(), refused, frames, about))

    def fifo() -> Path:
        os.mkfifo(folder / "fifo.mp4")
        return folder / "fifo.mp4"

    def sock() -> Path:
        _bound_socket(folder / "socket.mp4")
        return folder / "socket.mp4"

    def device() -> Path:
        os.mknod(folder / "zero.mp4", stat.S_IFCHR | 0o644, os.makedev(1, 5))
        return folder / "zero.mp4"

    def sidecar_dev_zero() -> Path:
        os.symlink("/dev/zero", folder / "zshot.json")
        return _sequence(stage, folder, "zshot", 1)

    def sidecar_fifo() -> Path:
        staged = stage / "pshot"
        staged.mkdir()
        os.mkfifo(staged / "_sequence.json")
        return _sequence(stage, folder, "pshot", 2)

    def sidecar_outside() -> Path:
        os.symlink(secret_json, folder / "sshot.json")
        return _sequence(stage, folder, "sshot", 3)

    def frame_outside() -> Path:
        staged = stage / "fshot"
        _frames(staged, seed=4)
        linked = staged / f"shot_{LINKED_FRAME:04d}.png"
        linked.unlink()
        os.symlink(secret_png, linked)
        return _sequence(stage, folder, "fshot", 4)

    def video_sidecar_zero() -> Path:
        os.symlink("/dev/zero", folder / "zclip.json")
        clip = write_clip(stage / "zclip.mp4", seed=5)
        os.rename(clip, folder / "zclip.mp4")
        return folder / "zclip.mp4"

    case("fifo", fifo, "fifo", None, "a named pipe named .mp4")
    case("socket", sock, "socket", None, "a Unix socket named .mp4")
    if devices if devices is not None else can_make_devices():
        case("char_device", device, "char_device", None, "a character device named .mp4")
    case("sidecar_dev_zero", sidecar_dev_zero, None, SEQUENCE_FRAMES, "sequence sidecar linked to /dev/zero")
    case("sidecar_fifo", sidecar_fifo, None, SEQUENCE_FRAMES, "sequence _sequence.json is a named pipe")
    case("sidecar_outside", sidecar_outside, None, SEQUENCE_FRAMES, "sequence sidecar linked outside")
    case("frame_outside", frame_outside, None, SEQUENCE_FRAMES - 1, "one frame linked outside")
    case("video_sidecar_zero", video_sidecar_zero, None, None, "clip sidecar linked to /dev/zero")
    shutil.rmtree(stage, ignore_errors=True)
    return out

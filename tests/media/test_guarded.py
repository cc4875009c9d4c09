"""The guarded opener: regular files only, links only inside their root, never blocking, never unbounded."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading

import pytest

from flickerd.errors import UnsafeInput
from flickerd.media.guarded import CAPS, InputKind, Refusal, open_input, read_input, refusal
from flickerd.media.sequence import find_sequence, sequence_fps
from flickerd.synth.hostile_places import can_make_devices

pytestmark = pytest.mark.timeout(30)


def refused(path, kind=InputKind.SIDECAR, **kw) -> Refusal:
    """The refusal ``read_input`` raises, on a thread: a read that blocks fails the test instead of hanging it."""
    got: list = []

    def read():
        try:
            read_input(path, kind, **kw)
            got.append(None)
        except UnsafeInput as exc:
            got.append(exc.why)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(5)
    assert got, f"reading {path} blocked"
    return got[0]


def test_regular_files_and_links_inside_are_read(tmp_path):
    (tmp_path / "a.json").write_text('{"fps": 12}')
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path / "a.json", tmp_path / "sub" / "b.json")
    assert read_input(tmp_path / "a.json", InputKind.SIDECAR, root=tmp_path) == b'{"fps": 12}'
    assert read_input(tmp_path / "sub" / "b.json", InputKind.SIDECAR, root=tmp_path) == b'{"fps": 12}'
    assert refusal(tmp_path / "a.json", root=tmp_path) is None


def test_pipes_sockets_and_devices_are_refused_unopened(tmp_path):
    os.mkfifo(tmp_path / "pipe.json")  # nobody writes: a plain open would wait forever
    assert refused(tmp_path / "pipe.json") is Refusal.FIFO
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(tmp_path / "sock.json"))
    assert refused(tmp_path / "sock.json") is Refusal.SOCKET
    assert refused("/dev/zero") is Refusal.CHAR_DEVICE  # a read that never ends
    assert refused(tmp_path, kind=InputKind.FRAME) is Refusal.DIRECTORY
    assert refusal(tmp_path / "pipe.json").why is Refusal.FIFO and refusal(tmp_path, allow_dir=True) is None
    if can_make_devices():
        os.mknod(tmp_path / "zero.mp4", stat.S_IFCHR | 0o600, os.makedev(1, 5))
        assert refused(tmp_path / "zero.mp4", InputKind.VIDEO) is Refusal.CHAR_DEVICE


def test_links_leading_out_are_not_followed(tmp_path):
    folder, outside = tmp_path / "in", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (outside / "secret.json").write_text('{"prompt": "not yours"}')
    os.symlink(outside / "secret.json", folder / "shot.json")
    os.symlink("/dev/zero", folder / "zero.json")
    assert refused(folder / "shot.json", root=folder) is Refusal.LINK_OUTSIDE
    assert refused(folder / "zero.json", root=folder) is Refusal.LINK_OUTSIDE
    assert refused(folder / "zero.json") is Refusal.CHAR_DEVICE  # no root: followed, still not a file
    assert "links outside" in refusal(folder / "shot.json", root=folder).message


def test_size_caps_per_kind(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (CAPS[InputKind.SIDECAR] + 1))
    assert refused(big) is Refusal.TOO_LARGE
    assert len(read_input(big, InputKind.FRAME)) == CAPS[InputKind.SIDECAR] + 1
    with open_input(big, InputKind.VIDEO) as f:  # opened blocking again: reads behave as usual
        assert os.get_blocking(f.fileno())
    assert f.closed


def test_sequence_files_go_through_the_guard(tmp_path):
    import cv2
    import numpy as np

    shot, outside = tmp_path / "shot", tmp_path / "outside"
    shot.mkdir()
    outside.mkdir()
    for n in (1, 2, 4):
        cv2.imwrite(str(shot / f"f_{n:04d}.png"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(outside / "secret.png"), np.zeros((8, 8, 3), np.uint8))
    os.symlink(outside / "secret.png", shot / "f_0003.png")
    os.mkfifo(shot / "f_0005.png")
    seq = find_sequence(shot)
    assert seq.numbers == (1, 2, 4) and seq.gaps == (3,) and seq.ignored == ("f_0003.png", "f_0005.png")
    os.symlink("/dev/zero", tmp_path / "shot.json")  # beside the folder
    os.mkfifo(shot / "_sequence.json")  # inside it
    assert sequence_fps(str(shot)) == 24  # both ignored, at once
    os.unlink(tmp_path / "shot.json")
    (tmp_path / "shot.json").write_text(json.dumps({"fps": 12}))
    assert sequence_fps(str(shot)) == 12

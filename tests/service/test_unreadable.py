"""An input the hash could not read: a name swapped for a socket is refused as a socket, never quarantined
with advice about its owner or mode; only a permission error gets that advice."""

from __future__ import annotations

import errno
import os
import socket
import threading

import pytest
from structlog.testing import capture_logs

from flickerd import config
from flickerd.service import intake
from flickerd.service.daemon import Daemon
from tests.service.helpers import make_clip, rows, wait_for, write_config

pytestmark = pytest.mark.timeout(60)


def test_only_a_permission_error_is_about_owner_or_mode():
    reason, said = intake.unreadable("/in/a.mp4", PermissionError(errno.EACCES, "Permission denied"), 990)
    assert reason == "permission" and "owner or mode" in said and "uid 990" in said
    reason, said = intake.unreadable("/in/a.mp4", OSError(errno.EIO, "Input/output error"), 990)
    assert reason == "missing_input" and "owner or mode" not in said and "Input/output error" in said


def test_a_name_swapped_for_a_socket_while_it_is_hashed_is_refused_not_quarantined(tmp_path, monkeypatch):
    cfg = write_config(tmp_path, settle_s=0.1)
    real_hash = intake.content_hash

    def swapped(path, journal, beat):
        """What the hash meets when a socket takes the name between the guarded opener's look and its open."""
        if os.path.basename(path) != "a.mp4":
            return real_hash(path, journal, beat)
        os.unlink(path)
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(path)
        with open(path, "rb"):  # ENXIO: the error a socket gives to open()
            pass

    monkeypatch.setattr(intake, "content_hash", swapped)
    daemon = Daemon(config.load(cfg), install_signals=False)
    loop = threading.Thread(target=daemon.run, daemon=True)
    with capture_logs() as logs:
        loop.start()
        try:
            make_clip(tmp_path / "stage" / "a.mp4").rename(tmp_path / "in" / "a.mp4")
            make_clip(tmp_path / "stage" / "b.mp4", seed=1).rename(tmp_path / "in" / "b.mp4")
            wait_for(lambda: rows(tmp_path, "path LIKE '%b.mp4' AND state = 'done'"), 30, what="b done")
            wait_for(lambda: any(e["event"] == "file_ignored" for e in logs), 5, what="a.mp4 refused")
        finally:
            daemon.signals.stop.set()
            loop.join(20)
    refused = next(e for e in logs if e["event"] == "file_ignored")
    assert refused["why"] == "socket" and refused["file"].endswith("a.mp4"), refused
    assert not rows(tmp_path, "path LIKE '%a.mp4'"), rows(tmp_path)
    assert not any("owner or mode" in str(e.get("error", "")) for e in logs)

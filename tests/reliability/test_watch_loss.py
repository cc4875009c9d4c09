"""A watch that dies must not die silently: a watched folder removed and made again, moved away and replaced,
or an inotify queue that overflowed, is noticed at once and rescanned (real ``flickerd run``, inotify mode,
the periodic rescan 10 minutes away)."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from tests.reliability.helpers import Daemon, make_clip, metric, rows, scrape, wait_for, write_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

BACK_S = 5.0  # a new file is journaled this soon after the watch was lost (the rescan is 600 s away)
FLOOD = 40_000  # inotify events: well over what the kernel queues for one reader (fs.inotify.max_queued_events)


def drop(root: Path, name: str, seed: int) -> Path:
    staged = make_clip(root / "stage" / name, seed=seed)
    return staged.rename(root / "in" / name)


def stopped(pid: int) -> bool:
    """Every thread of ``pid`` is stopped (SIGSTOP takes effect a moment after it is sent)."""
    states = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
        except (OSError, IndexError):
            continue
    return bool(states) and all(state in ("T", "t") for state in states)


def journaled(root: Path, path: Path) -> bool:
    return bool(rows(root, f"path = '{path}'"))


@pytest.fixture
def daemon(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.2)
    before = drop(tmp_path, "before.mp4", seed=1)  # found by the startup scan, not by an event
    d = Daemon(tmp_path, config=cfg)
    d.wait_log("daemon_started")
    wait_for(lambda: journaled(tmp_path, before), 20, what="the clip there before the start")
    yield d
    assert d.stop() == 0, d.log()[-3000:]


def test_a_watched_folder_removed_and_made_again_is_watched_again(tmp_path, daemon):
    shutil.rmtree(tmp_path / "in")
    os.mkdir(tmp_path / "in")  # within a second: no housekeeping pass sees it missing
    clip = drop(tmp_path, "after.mp4", seed=2)
    wait_for(lambda: journaled(tmp_path, clip), BACK_S, what="the clip dropped into the new folder")
    log = daemon.log()
    # noticed either by the dead watch, or (when a housekeeping pass fell between the two calls: a busy
    # box) by the folder going missing and coming back; either way it is watched again
    assert '"event": "watch_lost"' in log or ('"event": "folder_paused"' in log and '"event": "folder_resumed"' in log), \
        log[-3000:]
    later = drop(tmp_path, "later.mp4", seed=3)  # the periodic rescan is 600 s away: only a live watch finds it
    wait_for(lambda: journaled(tmp_path, later), BACK_S, what="a clip dropped after the watch came back")
    # every clip counted as seen, whether a scan or an event found it
    assert metric(scrape(daemon), "flickerd_files_seen_total", folder="in") == 3.0


def test_a_watched_folder_moved_away_and_replaced_is_watched_again(tmp_path, daemon):
    os.rename(tmp_path / "in", tmp_path / "in.old")  # the watch follows the moved folder
    os.mkdir(tmp_path / "in")
    clip = drop(tmp_path, "after.mp4", seed=2)
    wait_for(lambda: journaled(tmp_path, clip), BACK_S, what="the clip dropped into the new folder")
    assert '"event": "watch_lost"' in daemon.log() and '"why": "replaced"' in daemon.log(), daemon.log()[-3000:]
    assert not rows(tmp_path, "path LIKE '%in.old%'")


def test_an_inotify_queue_overflow_rescans_at_once(tmp_path, daemon):
    a, b = tmp_path / "in" / ".flood-a", tmp_path / "in" / ".flood-b"
    a.touch()
    b.touch()
    daemon.signal(signal.SIGSTOP)  # its inotify reader stops reading; the kernel queue fills up
    try:
        wait_for(lambda: stopped(daemon.proc.pid), 10, interval=0.01, what="the daemon stopped")
        for i in range(FLOOD // 2):
            os.utime(a, (i, i))  # two names in turn: the kernel folds only repeats of the last event
            os.utime(b, (i, i))
        clip = drop(tmp_path, "lost.mp4", seed=3)  # its event has no room left
    finally:
        daemon.signal(signal.SIGCONT)
    wait_for(lambda: journaled(tmp_path, clip), BACK_S + 5, what="the clip whose event was lost")
    log = daemon.log()
    assert '"event": "watch_events_lost"' in log, log[-3000:]
    assert metric(scrape(daemon), "flickerd_files_seen_total", folder="in") == 2.0

"""Which names become inputs: the documented formats do, every other name leaves a trace once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flickerd import config
from tests.media.clips import make_webp
from tests.service.helpers import Daemon, metric, rows, scrape, wait_for, write_config

pytestmark = pytest.mark.timeout(60)


def test_why_a_name_is_not_an_input(tmp_path):
    from flickerd.service.ignored import Skip
    from flickerd.service.watcher import WatchSpec, why_skipped

    spec = WatchSpec("in", tmp_path, config.DEFAULT_PATTERNS, recursive=False, poll=False, poll_interval_s=1.0,
                     excluded=(tmp_path / "out",))
    assert why_skipped(spec, str(tmp_path / "a.webp")) is None  # a documented input
    assert why_skipped(spec, str(tmp_path / ".a.mp4")) is Skip.HIDDEN
    assert why_skipped(spec, str(tmp_path / "a.mp4.part")) is Skip.PARTIAL
    assert why_skipped(spec, str(tmp_path / "notes.txt")) is Skip.PATTERN
    # not a name of this folder: not counted at all
    for other in (tmp_path.parent / "x.txt", tmp_path / "out" / "x.txt", tmp_path / "sub" / "x.txt",
                  tmp_path / ".hidden" / "x.txt"):
        assert why_skipped(spec, str(other)) is None


def _events(d: Daemon, event: str) -> list[dict]:
    return [e for e in map(json.loads, filter(None, d.log().splitlines())) if e.get("event") == event]


def test_webp_is_taken_and_every_ignored_name_is_logged_and_counted_once(tmp_path):
    cfg = write_config(tmp_path)  # the default patterns
    inbox = tmp_path / "in"
    (inbox / "notes.txt").write_text("not a render")  # there before the start: found by the scan
    (inbox / ".DS_Store").write_bytes(b"\0")
    d = Daemon(tmp_path, "--metrics-address", "127.0.0.1:0", config=cfg)
    try:
        d.wait_log("daemon_started")
        part = inbox / "shot.mp4.part"
        with open(part, "wb") as f:  # a download in progress: many events, one trace
            for _ in range(5):
                f.write(b"\0" * 4096)
                f.flush()
        make_webp(tmp_path / "anim.webp", frames=8)
        (tmp_path / "anim.webp").rename(inbox / "anim.webp")
        wait_for(lambda: rows(tmp_path, "state = 'done'"), 30, what="the animated WebP processed")
        wait_for(lambda: len(_events(d, "file_ignored")) >= 3, 10, what="three file_ignored lines")
        text = scrape(d)
    finally:
        assert d.stop() == 0
    assert [Path(r["path"]).name for r in rows(tmp_path)] == ["anim.webp"]
    said = {Path(e["file"]).name: e["why"] for e in _events(d, "file_ignored")}
    assert said == {"notes.txt": "pattern", ".DS_Store": "hidden", "shot.mp4.part": "partial"}
    assert len(_events(d, "file_ignored")) == 3  # once per name, however many events
    for why, n in (("pattern", 1), ("hidden", 1), ("partial", 1), ("refused", 0)):
        assert metric(text, "flickerd_files_ignored_total", folder="in", why=why) == n, why

import queue
import time
from pathlib import Path

from flickerd.service.ignored import Skip
from flickerd.service.watcher import Seen, Skipped, Watcher, WatchSpec, scan, wanted


def spec(root: Path, **kw) -> WatchSpec:
    base = dict(name="in", path=root, patterns=("*.mp4", "*.mov"), recursive=False, poll=False,
                poll_interval_s=0.2, excluded=(root / "out",))
    base.update(kw)
    return WatchSpec(**base)


def test_filters(tmp_path):
    s = spec(tmp_path)
    assert wanted(s, str(tmp_path / "a.mp4")) and wanted(s, str(tmp_path / "B.MOV"))
    for name in (".a.mp4", "a.mp4.part", "a.tmp", "a.mp4.crdownload", "a.txt", "sub/a.mp4", "out/a.mp4"):
        assert not wanted(s, str(tmp_path / name)), name
    r = spec(tmp_path, recursive=True)
    assert wanted(r, str(tmp_path / "sub" / "a.mp4"))
    assert not wanted(r, str(tmp_path / "out" / "a.mp4"))  # an output tree inside the input
    assert not wanted(r, str(tmp_path / ".hidden" / "a.mp4"))


def test_scan_skips_outputs_and_hidden(tmp_path):
    for name in ("a.mp4", "sub/b.mp4", "out/c.mp4", ".x/d.mp4", "e.txt"):
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    assert sorted(Path(p).name for p in scan(spec(tmp_path))) == ["a.mp4"]
    assert sorted(Path(p).name for p in scan(spec(tmp_path, recursive=True))) == ["a.mp4", "b.mp4"]


def _collect(q, timeout):
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got.append(q.get(timeout=0.05))
        except queue.Empty:
            pass
    return got


def test_native_and_polling_observers_queue_paths(tmp_path):
    native, polled = tmp_path / "native", tmp_path / "polled"
    native.mkdir(), polled.mkdir()
    q: queue.Queue = queue.Queue()
    w = Watcher(q)
    try:
        w.schedule(spec(native, name="native"))
        w.schedule(spec(polled, name="polled", poll=True))
        assert w.healthy()
        (native / "a.mp4").write_bytes(b"x")
        (polled / "b.mp4").write_bytes(b"x")
        (native / ".c.tmp.mp4").write_bytes(b"x")
        (native / ".c.tmp.mp4").rename(native / "c.mp4")
        got = _collect(q, 1.5)
    finally:
        w.stop()
    assert Seen("native", str(native / "a.mp4"), False) in got
    assert Seen("native", str(native / "c.mp4"), True) in got  # the rename is flagged
    assert any(s.folder == "polled" and s.path == str(polled / "b.mp4") for s in got)
    assert not any(isinstance(s, Seen) and ".c.tmp" in s.path for s in got)
    assert Skipped("native", str(native / ".c.tmp.mp4"), Skip.HIDDEN) in got  # not an input, but said

import os

from flickerd.errors import NotAContainer, NotAVideo
from flickerd.service.settle import Settled, Settler

from tests.service.helpers import make_clip


class Clock:
    def __init__(self):
        self.t = 1000.0


def states(settler, now):
    return [(c.state, os.path.basename(c.candidate.path)) for c in settler.due(now)]


def test_stable_file_ready_after_settle_time(tmp_path):
    clip = make_clip(tmp_path / "a.mp4")
    s = Settler()
    s.observe(str(clip), "in", 0.0, settle_s=2.0, settle_max_s=60)
    assert states(s, 0.0) == []  # first look records size and mtime
    assert states(s, 1.9) == []
    assert states(s, 2.0) == [(Settled.READY, "a.mp4")]
    assert len(s) == 0


def test_growing_file_is_not_ready_and_reported_after_limit(tmp_path):
    f = tmp_path / "g.mp4"
    f.write_bytes(b"x")
    s = Settler()
    s.observe(str(f), "in", 0.0, settle_s=1.0, settle_max_s=5.0)
    t = 0.0
    seen = []
    for _ in range(8):  # grows every second for 8 s
        with open(f, "ab") as fh:
            fh.write(b"y" * 10)
        t += 1.0
        seen += states(s, t)
    assert (Settled.GROWING, "g.mp4") in seen and all(st is not Settled.READY for st, _ in seen)
    assert seen.count((Settled.GROWING, "g.mp4")) == 1  # reported once, still watched
    assert str(f) in s


def test_renamed_file_skips_the_wait_but_not_the_probe(tmp_path):
    clip = make_clip(tmp_path / "r.mp4")
    s = Settler()
    s.observe(str(clip), "in", 0.0, settle_s=30.0, settle_max_s=60, renamed=True)
    assert states(s, 0.0) == [(Settled.READY, "r.mp4")]


def _cut(clip, fraction: float = 0.5):
    """A render whose writer paused: an mp4 cut before its ``moov`` (its head says ``ftyp`` already)."""
    data = clip.read_bytes()
    clip.write_bytes(data[: int(len(data) * fraction)])
    return clip


def test_unprobeable_file_backs_off_then_is_unusable(tmp_path):
    f = _cut(make_clip(tmp_path / "paused.mp4"))
    s = Settler()
    s.observe(str(f), "in", 0.0, settle_s=0.5, settle_max_s=3.0)
    results = []
    checks = []
    t = 0.0
    while t < 10 and not results:
        t += 0.25
        due_before = s.next_due()
        got = s.due(t)
        if due_before is not None and due_before <= t:
            checks.append(t)
        results += got
    assert results and results[0].state is Settled.UNUSABLE
    assert isinstance(results[0].error, NotAVideo)
    assert t >= 3.0  # not given up before settle_max_s
    gaps = [b - a for a, b in zip(checks[1:], checks[2:])]
    assert gaps == sorted(gaps)  # backoff grows


def test_vanished_file_is_gone(tmp_path):
    f = tmp_path / "v.mp4"
    f.write_bytes(b"x")
    s = Settler()
    s.observe(str(f), "in", 0.0, settle_s=1.0, settle_max_s=5.0)
    s.due(0.0)
    f.unlink()
    assert states(s, 1.0) == [(Settled.GONE, "v.mp4")]


def test_paused_folder_defers_decisions(tmp_path):
    clip = make_clip(tmp_path / "p.mp4")
    s = Settler()
    s.observe(str(clip), "in", 0.0, settle_s=0.1, settle_max_s=5.0)
    assert s.due(5.0, paused=lambda folder: True) == []
    assert str(clip) in s
    s.due(7.0)
    assert states(s, 7.2) == [(Settled.READY, "p.mp4")]


def test_file_over_a_limit_is_unusable_at_once(tmp_path):
    from flickerd.errors import LimitExceeded
    from flickerd.limits import Limits
    from flickerd.service.settle import default_probe

    clip = make_clip(tmp_path / "big.mp4", width=64, height=48)
    s = Settler(probe=lambda p: default_probe(p, Limits(max_pixels=32 * 32)))
    s.observe(str(clip), "in", 0.0, settle_s=0.5, settle_max_s=600)
    s.due(0.0)
    got = s.due(0.5)
    assert [c.state for c in got] == [Settled.UNUSABLE]
    assert isinstance(got[0].error, LimitExceeded) and "max_pixels" in str(got[0].error)


def test_a_stable_file_that_is_no_container_is_unusable_at_once(tmp_path):
    """A text file named ``.mp4`` (copy-then-rename) is not a render in progress: no hour of retries."""
    f = tmp_path / "notes.mp4"
    f.write_text("meeting notes\n" * 20)
    s = Settler()
    s.observe(str(f), "in", 0.0, settle_s=0.5, settle_max_s=3600.0, renamed=True)
    (check,) = s.due(0.0)
    assert check.state is Settled.UNUSABLE
    assert isinstance(check.error, NotAContainer) and check.error.reason == "not_a_video"
    assert "is not a video" in str(check.error) and len(s) == 0


def test_not_ready_candidates_say_why_for_run_once(tmp_path):
    paused = _cut(make_clip(tmp_path / "paused.mp4"))
    s = Settler()
    s.observe(str(paused), "in", 0.0, settle_s=0.5, settle_max_s=3600.0)
    assert s.due(0.0) == [] and s.waiting_on_writers() == []  # not looked at properly yet
    assert s.due(0.5) == []  # refused once, retried later
    (cand,) = s.waiting_on_writers()
    assert "container" in cand.not_ready or "moov" in cand.not_ready

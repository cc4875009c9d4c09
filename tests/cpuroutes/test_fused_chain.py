"""normalize → detail as one pass: the frames go on in memory, and the video is the file chain's."""

from __future__ import annotations

import os

import numpy as np

from flickerd.routes import normalize_planes as planes
from flickerd.routes.base import Step, run_chain
from flickerd.routes.detail import DetailRoute
from flickerd.routes.normalize import NormalizeRoute
from tests.restoration import clips


def _planes(path):
    return [np.concatenate([p.ravel() for p in planes.read_planes(f)]) for f in planes.decode(path)]


def test_fused_chain_writes_what_the_file_chain_writes(tmp_path):
    src, _ = clips.pair(tmp_path, "mixed", seed=1, scene="pan")
    work = tmp_path / "work"
    work.mkdir()
    seen = []
    # lossless final codec: the comparison is of the frames, not of x264's (threaded) choices
    fused = run_chain(src, [Step("normalize"), Step("detail")], str(work / "fused.mkv"), str(work),
                      final_codec="ffv1", progress=seen.append)
    assert os.listdir(work) == ["fused.mkv"]  # no intermediate file was written
    assert fused.routes == "normalize+detail"
    first, last = fused.steps
    assert first.extra["encoding"]["in_memory"] and last.extra["encoding"]["codec"] == "ffv1"
    assert first.extra["frames"] == last.extra["frames"] == 16
    assert seen == sorted(seen) and seen[-1] == 1.0 and any(0.0 < f < 0.5 for f in seen)

    step = str(tmp_path / "step0.mkv")
    NormalizeRoute().fix(src, step, {"_intermediate": True})
    DetailRoute().fix(step, str(tmp_path / "files.mkv"), {"_codec": "ffv1"})
    a, b = _planes(str(work / "fused.mkv")), _planes(str(tmp_path / "files.mkv"))
    assert len(a) == len(b) == 16 and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_fused_pass_reports_each_step_at_its_expected_share():
    from flickerd.routes.base import _steps_done

    # normalize expected to take 1 s, detail 3 s: a quarter of the frames done is normalize done
    assert _steps_done(0.125, [1.0, 3.0]) == 0.5
    assert _steps_done(0.25, [1.0, 3.0]) == 1.0
    assert _steps_done(0.625, [1.0, 3.0]) == 1.5
    assert _steps_done(1.0, [1.0, 3.0]) == 2.0
    assert _steps_done(0.5, [1.0]) == 0.5  # a step alone: its own fraction
    assert _steps_done(0.5, [0.0, 0.0]) == 1.0


def test_a_reencode_hands_every_frame_on_unchanged(tmp_path):
    """``frame_stream.reencode`` (the benches' "a fix that changed nothing"): every frame, decoded
    and encoded again at crf 16, is the source's but for x264's error; the source is untouched."""
    from flickerd.media.probe import probe
    from flickerd.routes.frame_stream import reencode

    src, _ = clips.pair(tmp_path, "luma", seed=2, scene="pan")
    before = os.stat(src).st_mtime_ns
    out = str(tmp_path / "same.mp4")
    step = reencode(src, out, probe(src))
    a, b = _planes(src), _planes(out)
    assert len(a) == len(b) == step.extra["frames"] == 16 and step.output == out
    mse = np.mean([np.mean((x.astype(np.float64) - y) ** 2) for x, y in zip(a, b)])
    assert 10 * np.log10(255.0**2 / mse) > 40.0  # a frame out of place in the pan would cost far more
    assert os.stat(src).st_mtime_ns == before

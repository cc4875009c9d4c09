"""Decoding started before the measures load (``plan.start``), and the CLI's exit paths."""

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from flickerd.diagnose import plan, run
from flickerd.diagnose.settings import FLOW_PRESETS, DiagnoseSettings
from flickerd.errors import MissingInput
from flickerd.media.probe import MediaInfo

FLICKERD = str(Path(sys.executable).with_name("flickerd"))


def _decoders() -> int:
    return sum(t.name == "flickerd-decode" for t in threading.enumerate())


def test_the_plan_and_the_decoder_load_without_numpy_or_opencv(make_clip):
    """What ``flickerd diagnose`` imports before decoding its first file: PyAV only."""
    code = ("import sys; from flickerd.diagnose import plan, settings; "
            "s = plan.start(sys.argv[1], settings.DiagnoseSettings()); "
            "loaded = sorted({'numpy', 'cv2', 'torch'} & set(sys.modules)); "
            "s.reader.close(); print(','.join(loaded))")
    r = subprocess.run([sys.executable, "-c", code, make_clip("luma")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_a_started_file_diagnoses_exactly_as_a_fresh_run(make_clip):
    path = make_clip("texture", frames=80)  # long enough to skip frames (stride > 2)
    s = DiagnoseSettings(max_pairs=16, every_pair_up_to=0)
    started = plan.start(path, s)
    assert started.plan.stride > 2 and started.plan.total == 80
    ahead, fresh = run(path, s, started=started), run(path, s)
    assert ahead.scores == fresh.scores
    assert ahead.verdict == fresh.verdict and ahead.frames == fresh.frames == 80
    assert [p.luma for p in ahead.timeline] == [p.luma for p in fresh.timeline]
    assert _decoders() == 0


def test_the_plan_matches_the_settings():
    fields = dict(path="x", container="mov", codec="h264", width=1920, height=1080, fps=24.0, fps_num=24, fps_den=1,
                  frame_count=300, frame_count_exact=True, duration_s=12.5, pix_fmt="yuv420p", bit_depth=8,
                  color_range=1, color_primaries=1, color_trc=1, colorspace=1, has_audio=False, audio_codec=None,
                  bitrate=None, rotation=0, size_bytes=1, metadata={})
    p = plan.Plan.of(MediaInfo(**fields), DiagnoseSettings())
    assert p.stride == 19 and p.codec_per_triple == 2  # ceil(2*300/32); 16 triples for 24 codec samples
    # halved until 1280 px (960), then until 400 px (240): power-of-two steps keep the 8x8 grid whole
    assert (p.detail_scale, p.scale, p.factor) == (0.5, 0.125, 4)
    wanted = [t for t in range(40) if p.wanted(t)]
    assert wanted == [0, 1, 18, 19, 20, 37, 38, 39]  # the triples (t-1, t, t+1) around every 19th frame
    # the codec measures take the middle frame of each triple and the next: frames decoded anyway
    assert [t for t in range(300) if p.codec_sample(t)][:6] == [0, 1, 19, 20, 38, 39]
    assert sum(map(p.codec_sample, range(300))) == 32 and all(map(p.wanted, filter(p.codec_sample, range(300))))
    assert [t for t in range(40) if p.sampled_pair(t)] == [0, 1, 19, 20, 38, 39]  # pair (t-1, t)
    short = plan.Plan.of(MediaInfo(**fields | {"frame_count": 20, "width": 320, "height": 240}), DiagnoseSettings())
    assert short.stride == 1 and short.scale == 1.0
    assert all(map(short.codec_sample, range(20)))  # fewer frames than codec samples: every one


def test_a_started_reader_closed_unread_stops_its_thread(make_clip):
    started = plan.start(make_clip("clean", frames=80), DiagnoseSettings())
    assert _decoders() == 1
    started.reader.close()
    assert _decoders() == 0


def test_started_for_another_file_is_refused(make_clip):
    started = plan.start(make_clip("clean"), DiagnoseSettings())
    try:
        with pytest.raises(ValueError, match="started for"):
            run(make_clip("luma"), started=started)
    finally:
        started.reader.close()


def test_a_bad_first_file_is_still_reported_in_its_turn(tmp_path, make_clip):
    with pytest.raises(MissingInput):
        plan.start(tmp_path / "missing.mp4", DiagnoseSettings())
    r = subprocess.run([FLICKERD, "diagnose", "--json", tmp_path / "missing.mp4", make_clip("luma")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [f"flickerd diagnose: {tmp_path / 'missing.mp4'}: no such file."]
    assert '"verdict": "generative_flicker"' in r.stdout


def test_a_closed_pipe_is_not_a_traceback(make_clip):
    """``flickerd diagnose --json ... | head -c 10``: the reader leaves early."""
    a = make_clip("luma")
    p = subprocess.Popen([FLICKERD, "diagnose", "--json", a, a, a], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.read(10)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_settings_name_the_flow_presets_the_flow_module_has():
    from flickerd.flow import PRESETS

    assert set(FLOW_PRESETS) == set(PRESETS)

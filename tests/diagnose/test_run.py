"""``diagnose.run`` end to end: records, settings, bad input, and no torch on the import path."""

import os
import subprocess
import sys

import av
import numpy as np
import pytest

from flickerd.diagnose import DiagnoseSettings, Verdict, run
from flickerd.errors import ConfigError, CorruptInput, EmptyInput, InputError, MissingInput, NotAVideo


def test_diagnosis_record_is_complete(diagnosed):
    d = diagnosed("luma")
    assert d.verdict is Verdict.GENERATIVE_FLICKER
    assert 0.5 <= d.confidence <= 1
    assert d.frames == 24 and len(d.timeline) == 24 and d.fps == pytest.approx(24.0)
    assert (d.width, d.height) == (160, 96)
    assert d.timeline[0].warp_error is None and d.timeline[5].warp_error is not None
    assert any(s.kind == "luma" for s in d.segments)
    j = d.to_json()
    assert j["schema"] == 5 and j["verdict"] == "generative_flicker" and len(j["timeline"]) == 24


def test_progress_reaches_one(make_clip):
    seen = []
    run(make_clip("clean", frames=40), progress=seen.append)
    assert seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen) and len(seen) >= 2


def test_pair_stride_samples_but_keeps_the_verdict(make_clip):
    path = make_clip("luma", frames=40)
    d = run(path, DiagnoseSettings(pair_stride=4))
    assert d.verdict is Verdict.GENERATIVE_FLICKER
    measured = sum(p.warp_error is not None for p in d.timeline)
    assert measured < 30


def test_settings_from_mapping():
    s = DiagnoseSettings.from_mapping({"max_side": 256, "flow_preset": "fast", "grid": [4, 4], "luma_threshold": 1})
    assert (s.max_side, s.flow_preset, s.grid, s.luma_threshold) == (256, "fast", (4, 4), 1.0)
    with pytest.raises(ConfigError, match=r"diagnose\.nope: unknown key"):
        DiagnoseSettings.from_mapping({"nope": 1})
    with pytest.raises(ConfigError, match=r"cfg\.max_side: expected int"):
        DiagnoseSettings.from_mapping({"max_side": "x"}, "cfg")
    with pytest.raises(ConfigError, match="flow_preset"):
        DiagnoseSettings.from_mapping({"flow_preset": "slowest"})


@pytest.fixture
def bad_files(tmp_path, make_clip):
    good = make_clip("clean")
    files = {}
    files["missing"] = tmp_path / "missing.mp4"
    (tmp_path / "empty.mp4").write_bytes(b"")
    files["empty"] = tmp_path / "empty.mp4"
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 50)
    files["text"] = tmp_path / "text.mp4"
    data = open(good, "rb").read()
    (tmp_path / "trunc.mp4").write_bytes(data[: len(data) // 3])
    files["truncated"] = tmp_path / "trunc.mp4"
    audio = tmp_path / "audio.m4a"
    with av.open(str(audio), "w") as out:
        s = out.add_stream("aac", rate=48000)
        s.layout = "mono"
        for i in range(20):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = 48000, i * 1024
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    files["audio"] = audio
    return files


def test_bad_input_raises_input_errors(bad_files):
    with pytest.raises(MissingInput):
        run(bad_files["missing"])
    with pytest.raises(EmptyInput):
        run(bad_files["empty"])
    with pytest.raises(NotAVideo):
        run(bad_files["text"])
    with pytest.raises(NotAVideo):
        run(bad_files["audio"])
    with pytest.raises(InputError):  # the moov atom is gone: container or decode failure
        run(bad_files["truncated"])


def test_truncated_mkv_tail_is_corrupt_or_diagnosed(tmp_path, make_clip):
    """A stream cut mid-way either decodes what is there or says it is corrupt; never a traceback."""
    import subprocess as sp

    from flickerd.media.ffmpeg import ffmpeg_exe

    mkv = tmp_path / "a.mkv"
    sp.run([ffmpeg_exe(), "-v", "error", "-i", make_clip("clean"), "-c", "copy", str(mkv)], check=True)
    data = mkv.read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: int(len(data) * 0.6)])
    try:
        d = run(tmp_path / "cut.mkv")
        assert 0 < d.frames < 24
    except CorruptInput:
        pass


def test_torch_stays_out_of_the_diagnose_path(make_clip):
    code = (
        "import sys; from flickerd.diagnose import run; "
        f"run({make_clip('clean')!r}); "
        "import flickerd.commands.diagnose; "
        "bad = [m for m in ('torch', 'diffusers', 'transformers', 'ray') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("ext,args", [
    ("webm", ["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "30", "-cpu-used", "8"]),
    ("gif", []),
    ("mkv", ["-c:v", "libx264", "-pix_fmt", "yuv420p10le"]),
    ("webp", ["-c:v", "libwebp_anim", "-lossless", "1"]),
])
def test_other_containers_and_10_bit(tmp_path, make_clip, ext, args):
    """Luma flicker is found whatever the container; intra-only WebP keeps its flicker score."""
    from flickerd.media.ffmpeg import ffmpeg_exe

    out = tmp_path / f"clip.{ext}"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", make_clip("luma"), *args, str(out)], check=True)
    d = run(out)
    assert d.frames == 24
    assert d.scores["luma_flicker"] > 1.0


def test_score_names_are_exactly_the_scores(diagnosed):
    from flickerd.diagnose.verdict import SCORE_NAMES

    assert set(diagnosed("clean").scores) == set(SCORE_NAMES)
    import flickerd.diagnose as pkg

    assert all(name in pkg.__doc__ for name in SCORE_NAMES)

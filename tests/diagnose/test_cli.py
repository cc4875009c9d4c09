"""``flickerd diagnose`` and ``flickerd sample`` as a user runs them (subprocess)."""

import json
import os
import subprocess
import sys
from pathlib import Path

FLICKERD = str(Path(sys.executable).with_name("flickerd"))
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _run(*args):
    return subprocess.run([FLICKERD, *map(str, args)], capture_output=True, text=True, env=ENV, timeout=120)


def test_json_schema_one_line_per_file(make_clip):
    a, b = make_clip("clean"), make_clip("luma")
    r = _run("diagnose", "--json", a, b)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2
    docs = [json.loads(line) for line in lines]
    for doc, path in zip(docs, (a, b)):
        assert doc["schema"] == 5 and doc["file"] == path
        assert {"verdict", "confidence", "scores", "frames", "fps", "timeline", "segments", "cuts"} <= doc.keys()
        assert doc["frames"] == 24 and len(doc["timeline"]) == 24
        assert {"luma_flicker", "chroma_flicker", "local_flicker", "texture_flicker", "banding", "blocking",
                "incoherence", "warp_error", "mean_diff"} <= doc["scores"].keys()
    assert [d["verdict"] for d in docs] == ["clean", "generative_flicker"]
    assert r.stderr == ""  # no progress bar off a TTY


def test_human_table(make_clip):
    r = _run("diagnose", make_clip("luma"))
    assert r.returncode == 0
    assert "verdict     generative_flicker" in r.stdout
    assert "global luma flicker" in r.stdout


def test_bad_files_fail_one_line_each_and_good_files_still_run(tmp_path, make_clip):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("hello\n" * 100)
    good = make_clip("clean")
    r = _run("diagnose", "--json", tmp_path / "missing.mp4", empty, good, text)
    assert r.returncode == 1
    assert len(r.stdout.strip().splitlines()) == 1
    assert json.loads(r.stdout)["file"] == good
    errors = r.stderr.strip().splitlines()
    assert len(errors) == 3, r.stderr
    assert all(e.startswith("flickerd diagnose: ") for e in errors)
    assert "Traceback" not in r.stderr
    assert "missing.mp4" in errors[0] and "empty" in errors[1]


def test_scale_option_is_recorded(make_clip):
    r = _run("diagnose", "--json", "--scale", "0.5", make_clip("clean"))
    assert r.returncode == 0
    assert json.loads(r.stdout)["settings"]["scale"] == 0.5
    bad = _run("diagnose", "--scale", "-1", make_clip("clean"))
    assert bad.returncode == 2 and "scale" in bad.stderr and "Traceback" not in bad.stderr


def test_sample_writes_a_clip_that_diagnoses_as_its_kind(tmp_path):
    out = tmp_path / "s.mp4"
    r = _run("sample", out, "--kind", "chroma", "--size", "160x96", "--frames", "24")
    assert r.returncode == 0, r.stderr
    d = json.loads(_run("diagnose", "--json", out).stdout)
    assert d["verdict"] == "generative_flicker" and d["width"] == 160
    assert _run("sample", out, "--size", "big").returncode == 2


def test_json_lines_stream_the_timeline_and_match_one_dump():
    """``write_json`` encodes the timeline in batches; the text is what one ``json.dumps`` gives."""
    import io
    import math

    from flickerd.commands.diagnose import TIMELINE_BATCH, _finite, write_json
    from flickerd.diagnose.model import Diagnosis, FramePoint, Segment, Verdict

    n = 2 * TIMELINE_BATCH + 7  # three batches, the last one short
    timeline = tuple(FramePoint(index=t, time_s=t / 24, luma=100.0 + t % 3, warp_error=None if t % 5 else 0.01,
                                cut=t == 40, keyframe=t % 250 == 0) for t in range(n))
    d = Diagnosis(file='odd "timeline": [] name.mp4', verdict=Verdict.MIXED, confidence=0.5,
                  scores={"luma_flicker": 0.7, "texture_flicker": math.nan}, frames=n, fps=24.0, width=64,
                  height=48, duration_s=n / 24, timeline=timeline, segments=(Segment(3, 9, "luma", 0.7),),
                  cuts=(40,), rotation=90)
    out = io.StringIO()
    write_json(d, out)
    text = out.getvalue()
    assert text == json.dumps(_finite(d.to_json()), allow_nan=False) + "\n"
    doc = json.loads(text)
    assert len(doc["timeline"]) == n and doc["scores"]["texture_flicker"] is None and doc["rotation"] == 90

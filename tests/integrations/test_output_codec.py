"""A folder's ``output_codec`` reaches the last step of any chain; the container follows the codec."""

import os
import subprocess
import sys

import pytest

from flickerd.media import probe
from flickerd.media.writer import output_extension
from flickerd.process import process_file
from flickerd.routes.base import Step

from tests.service.helpers import make_clip

FLICKERD = os.path.join(os.path.dirname(sys.executable), "flickerd")


def test_output_extension_follows_the_codec():
    assert output_extension(".mp4", None) == ".mp4"
    assert output_extension(".mp4", "prores") == ".mov"
    assert output_extension(".mov", "prores4444") == ".mov"
    assert output_extension(".mp4", "ffv1") == ".mkv"
    assert output_extension(".webm", "h265") == ".mp4"


def _codec_tag(path):
    import av

    with av.open(str(path)) as c:
        return c.streams.video[0].codec_context.codec_tag


@pytest.mark.parametrize("route,codec,expect", [("normalize", "prores", "prores"), ("ffmpeg", "h265", "hevc"),
                                                ("normalize", "h265", "hevc"), ("normalize+ffmpeg", "ffv1", "ffv1")])
def test_chain_writes_the_folder_codec(tmp_path, route, codec, expect):
    src = str(make_clip(tmp_path / "flicker.mp4", frames=8, flicker=20))
    steps = [Step(r, {"preset": "ultrafast"}) for r in route.split("+")]
    work = tmp_path / "work"
    work.mkdir()
    outcome = process_file(src, work, route_override=steps, output_codec=codec, compare=False)
    assert outcome.output, outcome.reason
    info = probe(outcome.output)
    assert info.codec == expect and info.frame_count == 8
    assert os.path.splitext(outcome.output)[1] == output_extension(".mp4", codec)
    if expect == "hevc":  # QuickTime and Apple players refuse H.265 tagged hev1 in mp4/mov
        assert _codec_tag(outcome.output) == "hvc1"


def test_fix_cli_codec_flag(tmp_path):
    src = str(make_clip(tmp_path / "clip.mp4", frames=8, flicker=20))
    res = subprocess.run([FLICKERD, "fix", src, "--route", "normalize", "--codec", "prores", "--no-compare"],
                         capture_output=True, text=True, timeout=120)
    out = tmp_path.parent / (tmp_path.name + ".fixed") / "clip.mov"
    assert res.returncode == 0, res.stdout + res.stderr
    assert probe(out).codec == "prores"
    bad = subprocess.run([FLICKERD, "fix", src, "--codec", "divx"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown codec" in bad.stderr

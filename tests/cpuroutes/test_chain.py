"""normalize → ffmpeg as one chain: a lossless intermediate, one output, nothing left behind."""

import os

from flickerd.media import probe
from flickerd.routes.base import Step, run_chain
from flickerd.routes.registry import get_route
from tests.cpuroutes import clips


def test_normalize_then_ffmpeg(tmp_path):
    src = str(tmp_path / "in.mp4")
    clips.write(src, clips.flickered(clips.chroma_cast(), n=14), audio=True)
    work = tmp_path / "work"
    work.mkdir()
    out = str(work / "in.fixed.mp4")
    seen = []
    result = run_chain(src, [Step("normalize", {"window": 4}), Step("ffmpeg", {"preset": "ultrafast"})], out,
                       str(work), progress=seen.append)
    assert result.routes == "normalize+ffmpeg"
    assert os.listdir(work) == ["in.fixed.mp4"]  # the intermediate is gone
    first = result.steps[0]
    assert first.extra["encoding"]["codec"] == "ffv1" and first.extra["encoding"]["intermediate"]
    assert first.extra["encoding"]["pix_fmt"] == "yuv420p"  # the input's subsampling
    info = probe(out)
    assert info.frame_count == 14 and info.has_audio and info.pix_fmt == "yuv420p"
    assert seen == sorted(seen) and seen[-1] == 1.0
    cast_in = clips.second_difference(clips.channel_means(clips.load(src))[:, 1])
    cast_out = clips.second_difference(clips.channel_means(clips.load(out))[:, 1])
    assert cast_out < cast_in / 4


def test_routes_are_registered():
    assert get_route("normalize").name == "normalize"
    assert get_route("ffmpeg").name == "ffmpeg"

import numpy as np
import pytest

from flickerd.media import iter_frames, probe
from flickerd.media.writer import EncodeSettings, VideoWriter

from .clips import make_clip


def _copy(src, dst, **kw):
    info = probe(src)
    deep = info.bit_depth > 8
    with VideoWriter(dst, info, **kw) as w:
        for f in iter_frames(src, deep=deep):
            w.write(f.image)
    return probe(dst)


def test_audio_frame_count_and_fps_survive(tmp_path):
    src = make_clip(tmp_path / "s.mp4", frames=24, fps=12, audio=True)
    out = _copy(src, tmp_path / "o.mp4")
    assert out.has_audio and out.audio_codec == "aac"
    assert out.frame_count == 24 and out.fps == pytest.approx(12)


def test_ten_bit_in_ten_bit_out_with_colour_metadata(tmp_path):
    src = make_clip(tmp_path / "s.mov", frames=6, pix_fmt="yuv420p10le", bt709=True)
    out = _copy(src, tmp_path / "o.mov")
    assert out.pix_fmt == "yuv420p10le" and out.bit_depth == 10
    assert (out.color_primaries, out.color_trc, out.colorspace) == (1, 1, 1)


@pytest.mark.parametrize("ext", ["mkv", "webm", "gif", "mov"])
def test_container_follows_extension(tmp_path, ext):
    src = make_clip(tmp_path / "s.mp4", frames=8, fps=10)
    out = _copy(src, tmp_path / f"o.{ext}")
    assert out.frame_count == 8
    assert out.codec == {"mkv": "h264", "webm": "vp9", "gif": "gif", "mov": "h264"}[ext]


def test_lossless_intermediate_is_exact(tmp_path):
    src = make_clip(tmp_path / "s.mp4", frames=4, pix_fmt="yuv444p")
    dst = tmp_path / "i.mkv"
    info = probe(src)
    originals = [f.image for f in iter_frames(src)]
    with VideoWriter(dst, info, settings=EncodeSettings(crf=0, preset="ultrafast", pix_fmt="yuv444p")) as w:
        for im in originals:
            w.write(im)
    back = [f.image for f in iter_frames(dst)]
    assert len(back) == 4
    # RGB→YUV444→RGB rounding only
    assert max(np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(originals, back)) <= 3

import numpy as np
import pytest

from flickerd.errors import CorruptInput
from flickerd.media import iter_frames, probe
from flickerd.media.reader import analysis_size

from .clips import gradient_frame, make_clip, make_webp


def test_frames_match_source_content(tmp_path):
    path = make_clip(tmp_path / "c.mp4", frames=6, pix_fmt="yuv444p")
    frames = list(iter_frames(path))
    assert [f.index for f in frames] == list(range(6))
    for f in frames:
        ref = gradient_frame(f.index, 64, 48).astype(np.float32)
        assert np.abs(f.image.astype(np.float32) - ref).mean() < 4.0
    assert frames[0].keyframe and frames[0].pict_type == 1


def test_downscale_and_luma_only(tmp_path):
    path = make_clip(tmp_path / "c.mp4", frames=4, w=128, h=96)
    f = next(iter(iter_frames(path, scale=0.5, gray=True)))
    assert f.image.shape == (48, 64) and f.image.dtype == np.uint8
    f = next(iter(iter_frames(path, max_side=32)))
    assert f.image.shape == (24, 32, 3)


def test_analysis_size_is_even_and_bounded():
    assert analysis_size(1920, 1080, 1.0, 640) == (640, 360)
    assert analysis_size(101, 77, 0.5) == (50, 38)
    assert analysis_size(20, 20, 0.1) == (16, 16)


def test_ten_bit_keeps_precision_when_deep(tmp_path):
    path = make_clip(tmp_path / "d.mkv", pix_fmt="yuv420p10le", fmt="matroska", frames=3)
    f = next(iter(iter_frames(path, deep=True)))
    assert f.image.dtype == np.uint16
    assert f.image.max() > 255 * 100  # full 16-bit range, not 8-bit values
    assert probe(path).bit_depth == 10


def test_reader_is_a_stream(tmp_path):
    path = make_clip(tmp_path / "c.mp4", frames=12)
    it = iter_frames(path, max_frames=5)
    first = next(it)
    assert first.index == 0
    assert len(list(it)) == 4


def test_webp_frames(tmp_path):
    frames = list(iter_frames(make_webp(tmp_path / "a.webp", frames=5), gray=True))
    assert len(frames) == 5 and frames[0].image.shape == (48, 64)
    assert frames[1].time_s == pytest.approx(1 / 12, abs=0.01)


def test_truncated_mid_stream_raises_or_ends(tmp_path):
    path = make_clip(tmp_path / "c.mkv", frames=30, w=128, h=96, fmt="matroska")
    data = open(path, "rb").read()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    got = list(iter_frames(cut, tolerant=True))
    assert 0 < len(got) < 30


def test_text_file_fails_cleanly(tmp_path):
    p = tmp_path / "x.mp4"
    p.write_text("hello " * 100)
    with pytest.raises(Exception) as exc:
        list(iter_frames(p))
    assert "x.mp4" in str(exc.value)
    assert isinstance(exc.value, (CorruptInput,)) or type(exc.value).__name__ == "NotAVideo"

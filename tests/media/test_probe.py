import av
import pytest

from flickerd.errors import CorruptInput, EmptyInput, MissingInput, NotAVideo
from flickerd.media import probe

from .clips import make_clip, make_webp

CONTAINERS = [
    ("mp4", "libx264", "yuv420p", None),
    ("mov", "libx264", "yuv420p", None),
    ("mkv", "libx264", "yuv420p", "matroska"),
    ("webm", "libvpx-vp9", "yuv420p", None),
    ("gif", "gif", "rgb8", None),
]


@pytest.mark.parametrize("ext,codec,pix_fmt,fmt", CONTAINERS)
def test_probe_reads_geometry_timing_and_count(tmp_path, ext, codec, pix_fmt, fmt):
    fps = 10 if ext == "gif" else 12  # GIF stores centiseconds: 12 fps is not representable
    path = make_clip(tmp_path / f"c.{ext}", frames=10, w=64, h=48, fps=fps, codec=codec, pix_fmt=pix_fmt, fmt=fmt)
    info = probe(path)
    assert (info.width, info.height) == (64, 48)
    assert info.frame_count == 10
    assert info.fps == pytest.approx(fps, rel=0.01)
    assert info.duration_s == pytest.approx(10 / fps, rel=0.1)
    assert info.bit_depth == 8
    assert not info.has_audio


def test_probe_ten_bit_audio_and_colour(tmp_path):
    path = make_clip(tmp_path / "deep.mov", pix_fmt="yuv420p10le", audio=True, bt709=True)
    info = probe(path, decode_check=2)
    assert info.bit_depth == 10
    assert info.pix_fmt == "yuv420p10le"
    assert info.has_audio and info.audio_codec == "aac"
    assert (info.color_primaries, info.color_trc, info.colorspace) == (1, 1, 1)


def test_probe_animated_webp(tmp_path):
    info = probe(make_webp(tmp_path / "a.webp", frames=8, fps=12))
    assert (info.width, info.height, info.frame_count) == (64, 48, 8)
    assert info.fps == pytest.approx(12)


def test_missing_file(tmp_path):
    with pytest.raises(MissingInput, match="no such file"):
        probe(tmp_path / "nope.mp4")


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    with pytest.raises(EmptyInput, match="empty"):
        probe(p)


def test_text_named_mp4(tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video\n" * 50)
    with pytest.raises(NotAVideo):
        probe(p)


def test_audio_only_is_not_a_video(tmp_path):
    import av
    import numpy as np

    p = str(tmp_path / "a.m4a")
    out = av.open(p, "w")
    a = out.add_stream("aac", rate=44100)
    for k in range(20):
        f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        f.sample_rate, f.pts = 44100, k * 1024
        for pk in a.encode(f):
            out.mux(pk)
    for pk in a.encode():
        out.mux(pk)
    out.close()
    with pytest.raises(NotAVideo, match="no video stream"):
        probe(p)


def test_header_only_truncation_fails_the_decode_gate(tmp_path):
    src = make_clip(tmp_path / "full.mkv", frames=12, fmt="matroska")
    data = open(src, "rb").read()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[:400])
    with pytest.raises((CorruptInput, NotAVideo)):
        probe(cut, decode_check=2)


@pytest.mark.parametrize("ext,codec,pix_fmt,fmt", CONTAINERS)
def test_probe_open_hands_back_an_unread_container_or_none(tmp_path, ext, codec, pix_fmt, fmt):
    """A container whose header gives the frame count comes back unread (every frame still to decode);
    one whose packets had to be counted is closed (it was read to its end)."""
    from flickerd.media.probe import probe_open

    fps = 10 if ext == "gif" else 12
    path = make_clip(tmp_path / f"c.{ext}", frames=10, w=64, h=48, fps=fps, codec=codec, pix_fmt=pix_fmt, fmt=fmt)
    info, container = probe_open(path)
    assert info == probe(path)
    if container is None:
        assert ext in ("webm", "mkv", "gif")  # no frame count in these headers
        return
    with container:
        assert sum(1 for _ in container.decode(video=0)) == 10


def test_a_gif_whose_delays_alternate_keeps_its_rate(tmp_path):
    """8 fps in centiseconds alternates 13 and 12 cs delays; the demuxer's average reads the first
    frames alone (25/3). The rate the frames last the file for is the one reported (and written)."""
    path = make_clip(tmp_path / "eight.gif", frames=16, w=64, h=48, fps=8, codec="gif", pix_fmt="rgb8")
    with av.open(path) as c:
        delays = [f.duration for f in c.decode(video=0)]
    assert sorted(set(delays)) == [12, 13] and sum(delays) in (200, 201)
    info = probe(path)
    assert (info.fps_num, info.fps_den) == (8, 1)
    assert info.duration_s == pytest.approx(2.0, abs=0.011)

"""Resource limits: the ``[limits]`` table and ``check_limits`` on declared values, including
real files whose headers declare absurd sizes (decompression bombs) in a few kilobytes."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np
import pytest

from flickerd import config
from flickerd.errors import ConfigError, InputError
from flickerd.limits import BOMB_MIN_DECODED_BYTES, Limits, check_limits
from flickerd.media.probe import MediaInfo, probe


def info(**overrides) -> MediaInfo:
    values = dict(
        path="clip.mp4", container="mov,mp4,m4a,3gp,3g2,mj2", codec="h264", width=1280, height=720,
        fps=24.0, fps_num=24, fps_den=1, frame_count=240, frame_count_exact=True, duration_s=10.0,
        pix_fmt="yuv420p", bit_depth=8, color_range=1, color_primaries=1, color_trc=1, colorspace=1,
        has_audio=False, audio_codec=None, bitrate=4_000_000, rotation=0, size_bytes=5_000_000, metadata={},
    )
    values.update(overrides)
    return MediaInfo(**values)


def test_an_ordinary_render_passes():
    assert check_limits(info(), Limits()) is None


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (dict(width=30_000, height=30_000), "declares 30000×30000 pixels per frame, more than the limit of 35,389,440 pixels (limits.max_pixels)"),
        (dict(frame_count=1_000_000, duration_s=1_000_000 / 24, size_bytes=9_000),
         "declares 1,000,000 frames, more than the limit of 216,000 (limits.max_frames)"),
        (dict(frame_count=100_000, duration_s=4 * 3600.0), "declares a duration of 14400 s, more than the limit of 3600 s (limits.max_duration_s)"),
        (dict(duration_s=float("nan")), "declares a duration of nan s"),
        (dict(size_bytes=20 * 1024**3), "The file is 20.0 GiB, more than the limit of 16.0 GiB (limits.max_file_bytes)"),
        (dict(width=4096, height=4096, frame_count=20_000, duration_s=800.0, size_bytes=40_000),
         "(468.8 GiB decoded) in only 39.1 KiB: a ratio of 12,582,912 to 1, above the limit of 1,000,000 (limits.max_expansion); this looks like a decompression bomb"),
    ],
)
def test_each_limit_gives_its_reason(overrides, expected):
    reason = check_limits(info(**overrides), Limits())
    assert reason is not None and expected in reason


def test_a_static_clip_is_not_a_bomb():
    # 20 s of a flat grey 1080p frame, as x264 stores it (measured: 51,963 bytes)
    static = info(width=1920, height=1080, frame_count=600, duration_s=20.0, size_bytes=51_963)
    assert check_limits(static, Limits()) is None


def test_small_decoded_volume_is_never_a_bomb():
    tiny = info(width=64, height=48, frame_count=10, duration_s=1.0, size_bytes=1)
    assert 64 * 48 * 10 * 1.5 < BOMB_MIN_DECODED_BYTES
    assert check_limits(tiny, Limits()) is None


def test_zero_turns_a_limit_off():
    huge = info(width=30_000, height=30_000, frame_count=1_000_000, duration_s=1e6, size_bytes=10**12)
    off = Limits(max_pixels=0, max_frames=0, max_duration_s=0, max_file_bytes=0, max_expansion=0)
    assert check_limits(huge, off) is None
    assert check_limits(huge, Limits(max_pixels=0, max_duration_s=0, max_file_bytes=0, max_expansion=0)) is not None


def test_limits_from_config_and_from_mapping():
    cfg = config.loads("[limits]\nmax_pixels = 100\nmax_frames = 5\nmax_duration_s = 1.5\nmax_file_bytes = 7\n"
                       "job_timeout_s = 2\nmax_expansion = 3\n")
    assert cfg.limits == Limits(100, 5, 1.5, 7, 2.0, 3.0)
    assert Limits.from_mapping({"max_frames": 9}) == Limits(max_frames=9)
    with pytest.raises(ConfigError, match=r"^limits\.max_framez: unknown key; did you mean 'max_frames'\?$"):
        Limits.from_mapping({"max_framez": 9})
    with pytest.raises(ConfigError, match=r"^x\.job_timeout_s: expected a number, got 'slow'\.$"):
        Limits.from_mapping({"job_timeout_s": "slow"}, "x")


# --- real files with lying headers ------------------------------------------------------


def _avi(path: Path, codec: str, frames: int = 4) -> Path:
    """A tiny real AVI (64×48, 10 fps)."""
    container = av.open(str(path), "w", format="avi")
    stream = container.add_stream(codec, rate=10)
    stream.width, stream.height = 64, 48
    stream.pix_fmt = {"mjpeg": "yuvj420p", "rawvideo": "bgr24"}[codec]
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 30 * i, np.uint8), format="rgb24")
        for packet in stream.encode(frame.reformat(format=stream.pix_fmt)):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def _declare(path: Path, *, frames: int | None = None, size: tuple[int, int] | None = None) -> None:
    """Rewrite what the AVI header declares (avih, strh, BITMAPINFOHEADER), not its data."""
    data = bytearray(path.read_bytes())
    avih, strh, strf = (data.find(tag) + 8 for tag in (b"avih", b"strh", b"strf"))
    if frames is not None:
        struct.pack_into("<I", data, avih + 16, frames)  # dwTotalFrames
        struct.pack_into("<I", data, strh + 32, frames)  # dwLength
    if size is not None:
        struct.pack_into("<II", data, avih + 32, *size)
        struct.pack_into("<ii", data, strf + 4, *size)  # biWidth, biHeight
    path.write_bytes(bytes(data))


def test_a_million_frames_declared_in_a_tiny_file(tmp_path):
    path = _avi(tmp_path / "million.avi", "mjpeg")
    _declare(path, frames=1_000_000)
    probed = probe(path)
    assert probed.frame_count == 1_000_000 and probed.size_bytes < 20_000
    reason = check_limits(probed, Limits())
    assert reason is not None and "1,000,000 frames" in reason


def test_huge_declared_frame_size(tmp_path):
    path = _avi(tmp_path / "wide.avi", "rawvideo")
    _declare(path, size=(15_000, 15_000))
    probed = probe(path)
    assert (probed.width, probed.height) == (15_000, 15_000)
    reason = check_limits(probed, Limits())
    assert reason is not None and "limits.max_pixels" in reason


def test_30000_square_declared_is_refused_by_probe_or_limits(tmp_path):
    path = _avi(tmp_path / "bomb.avi", "rawvideo")
    _declare(path, size=(30_000, 30_000))
    try:
        probed = probe(path)
    except InputError:
        return  # FFmpeg itself refuses the size: the probe gate stops it
    reason = check_limits(probed, Limits())
    assert reason is not None and "limits.max_pixels" in reason


def test_decompression_bomb_within_the_size_and_frame_limits(tmp_path):
    path = _avi(tmp_path / "bomb.avi", "rawvideo")
    _declare(path, frames=30_000, size=(4096, 4096))
    probed = probe(path)
    limits = Limits()
    assert probed.pixels <= limits.max_pixels and probed.frame_count <= limits.max_frames
    assert probed.duration_s <= limits.max_duration_s
    reason = check_limits(probed, limits)
    assert reason is not None and "decompression bomb" in reason
    assert check_limits(probe(_avi(tmp_path / "honest.avi", "rawvideo")), limits) is None

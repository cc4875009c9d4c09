"""The reader and the writer keep one swscale context per conversion for a whole stream (a new one a
frame cost ~1 ms at 832x480): the pixels must be exactly what a fresh context per frame gives."""

from __future__ import annotations

import av
import numpy as np
import pytest

from flickerd.media import iter_frames, probe
from flickerd.media.reader import VIA_444
from flickerd.media.writer import VideoWriter

W, H, N = 96, 64, 5


def _noisy_clip(path, pix_fmt: str, bt709: bool) -> str:
    """Frames of noise (smooth gradients would hide a rounding difference)."""
    rng = np.random.default_rng(7)
    out = av.open(str(path), "w")
    v = out.add_stream("libx264", rate=12)
    v.width, v.height, v.pix_fmt = W, H, pix_fmt
    v.options = {"crf": "8"}
    if bt709:
        cc = v.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range = 1, 1, 1, 1
    for _ in range(N):
        for p in v.encode(av.VideoFrame.from_ndarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8), format="rgb24")):
            out.mux(p)
    for p in v.encode():
        out.mux(p)
    out.close()
    return str(path)


def _fresh_per_frame(path: str, w: int, h: int, fmt: str) -> list[np.ndarray]:
    """The reader's conversion as it was: ``frame.reformat`` (a new context) for every frame."""
    images = []
    with av.open(path) as c:
        for frame in c.decode(video=0):
            if frame.format.name in VIA_444:
                frame = frame.reformat(format=VIA_444[frame.format.name], width=w, height=h,
                                       interpolation="BICUBIC" if (w, h) == (frame.width, frame.height) else "AREA")
            images.append(frame.to_ndarray(format=fmt, width=w, height=h))
    return images


@pytest.mark.parametrize("pix_fmt, bt709, deep", [("yuv420p", False, False), ("yuv420p", True, False),
                                                   ("yuv444p", False, False), ("yuv420p10le", True, True)])
@pytest.mark.parametrize("max_side", [None, 48])
def test_reader_frames_equal_a_fresh_conversion_per_frame(tmp_path, pix_fmt, bt709, deep, max_side):
    path = _noisy_clip(tmp_path / "n.mkv", pix_fmt, bt709)
    got = [f.image for f in iter_frames(path, max_side=max_side, deep=deep)]
    w, h = (W, H) if max_side is None else (48, 32)
    want = _fresh_per_frame(path, w, h, "rgb48le" if deep else "rgb24")
    assert len(got) == len(want) == N
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_writer_rgb_to_yuv_equals_a_fresh_conversion_per_frame(tmp_path):
    """A BT.709 source: ``write`` converts with the tagged matrix itself (the reused context)."""
    src = _noisy_clip(tmp_path / "s.mp4", "yuv420p", True)
    info = probe(src)
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(N)]
    out = str(tmp_path / "o.mkv")
    from flickerd.media.writer import EncodeSettings

    with VideoWriter(out, info, settings=EncodeSettings(codec="ffv1", pix_fmt="yuv420p"), copy_audio=False) as wr:
        for im in images:
            wr.write(im)
    with av.open(out) as c:
        decoded = [f.to_ndarray() for f in c.decode(video=0)]
    want = [av.VideoFrame.from_ndarray(im, format="rgb24").reformat(format="yuv420p", dst_colorspace=info.colorspace)
            .to_ndarray() for im in images]
    assert len(decoded) == N
    for a, b in zip(decoded, want):
        assert np.array_equal(a, b)


def test_one_reformatter_follows_frames_that_change_size_and_format():
    """A stream may change size or format mid-way (review 17): the reused context must set itself up
    again, giving what a fresh one gives."""
    from av.video.reformatter import VideoReformatter

    rng = np.random.default_rng(11)
    shared = VideoReformatter()
    for (w, h), fmt in [((96, 64), "yuv420p"), ((81, 61), "yuv444p"), ((80, 60), "yuv420p"), ((96, 64), "gray")]:
        frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), format="rgb24").reformat(format=fmt)
        got = shared.reformat(frame, format="rgb24", width=48, height=32).to_ndarray()
        want = frame.reformat(format="rgb24", width=48, height=32).to_ndarray()
        assert np.array_equal(got, want), (w, h, fmt)

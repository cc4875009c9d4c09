import cv2
import numpy as np
import pytest

from flickerd.media import iter_frames, probe
from flickerd.media.sequence import SequenceWriter, find_sequence, read_image
from flickerd.media.writer import EncodeSettings, VideoWriter, choose_pix_fmt

from .clips import gradient_frame, make_clip


def _transcode(src, dst, settings):
    info = probe(src)
    with VideoWriter(dst, info, settings=settings) as w:
        for f in iter_frames(src, deep=info.bit_depth > 8):
            w.write(f.image)
    return probe(dst)


def test_prores_ten_bit_round_trip_stays_ten_bit(tmp_path):
    src = make_clip(tmp_path / "master.mov", frames=6, codec="prores_ks", pix_fmt="yuv422p10le")
    assert probe(src).bit_depth == 10
    out = _transcode(src, tmp_path / "out.mov", EncodeSettings(codec="prores"))
    assert out.codec == "prores" and out.pix_fmt == "yuv422p10le" and out.frame_count == 6


@pytest.mark.parametrize("codec,ext,expect", [("h265", "mp4", "hevc"), ("ffv1", "mkv", "ffv1"), ("prores4444", "mov", "prores")])
def test_output_codecs(tmp_path, codec, ext, expect):
    src = make_clip(tmp_path / "s.mp4", frames=5)
    out = _transcode(src, tmp_path / f"o.{ext}", EncodeSettings(codec=codec, preset="ultrafast"))
    assert out.codec == expect and out.frame_count == 5


def test_pix_fmt_follows_input_depth_and_subsampling(tmp_path):
    deep444 = probe(make_clip(tmp_path / "a.mkv", frames=2, pix_fmt="yuv444p10le", fmt="matroska"))
    assert choose_pix_fmt("libx264", deep444) == "yuv444p10le"
    assert choose_pix_fmt("libvpx-vp9", deep444) == "yuv444p10le"
    assert choose_pix_fmt("prores_ks", deep444) == "yuva444p10le"
    plain = probe(make_clip(tmp_path / "b.mp4", frames=2))
    assert choose_pix_fmt("libx264", plain) == "yuv420p"
    assert choose_pix_fmt("ffv1", plain) == "yuv420p"


def _write_png_sequence(folder, numbers, sixteen=False):
    folder.mkdir()
    for n in numbers:
        im = gradient_frame(n, 64, 48)
        if sixteen:
            im = im.astype(np.uint16) * 257
        cv2.imwrite(str(folder / f"render_{n:04d}.png"), cv2.cvtColor(im, cv2.COLOR_RGB2BGR))


def test_png_sequence_with_gap_is_one_render(tmp_path):
    folder = tmp_path / "shot"
    _write_png_sequence(folder, [1, 2, 3, 5, 6])
    (tmp_path / "shot.json").write_text('{"fps": 12}')
    info = probe(folder)
    assert info.is_sequence and info.frame_count == 5 and info.sequence_gaps == (4,)
    assert info.fps == 12 and info.bit_depth == 8
    frames = list(iter_frames(folder))
    assert len(frames) == 5
    assert np.abs(frames[3].image.astype(int) - gradient_frame(5, 64, 48).astype(int)).max() <= 1


def test_sixteen_bit_tiff_sequence(tmp_path):
    folder = tmp_path / "tiffs"
    folder.mkdir()
    for n in range(3):
        im = (gradient_frame(n, 64, 48).astype(np.uint16) * 257) + 7  # low bits that 8-bit would lose
        cv2.imwrite(str(folder / f"f{n:03d}.tif"), cv2.cvtColor(im, cv2.COLOR_RGB2BGR))
    info = probe(folder)
    assert info.bit_depth == 16 and info.codec == "tif"
    deep = next(iter(iter_frames(folder, deep=True))).image
    assert deep.dtype == np.uint16 and (deep % 257 == 7).mean() > 0.9


def test_sequence_writer_round_trip_png16_and_exr(tmp_path):
    folder = tmp_path / "in"
    _write_png_sequence(folder, [10, 11, 12], sixteen=True)
    seq = find_sequence(folder)
    out = tmp_path / "out"
    with SequenceWriter(out, seq, sixteen_bit=True) as w:
        for f in iter_frames(folder, deep=True):
            w.write(f.image)
    assert sorted(p.name for p in out.iterdir()) == ["render_0010.png", "render_0011.png", "render_0012.png"]
    assert read_image(str(out / "render_0011.png")).dtype == np.uint16

    exr_seq = find_sequence(folder)
    exr_template = type(exr_seq)(str(out), "render_", ".exr", 4, (1, 2), ())
    exr_out = tmp_path / "exr"
    with SequenceWriter(exr_out, exr_template, sixteen_bit=True) as w:
        w.write(gradient_frame(1, 64, 48))
        w.write(gradient_frame(2, 64, 48))
    info = probe(exr_out)
    assert info.codec == "exr" and info.bit_depth == 32 and info.frame_count == 2
    back = next(iter(iter_frames(exr_out))).image
    assert np.abs(back.astype(int) - gradient_frame(1, 64, 48).astype(int)).max() <= 2

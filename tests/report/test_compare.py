"""The side-by-side clip: the source's size per half up to a cap, its rate, and a zoom on the flicker."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from flickerd.config import loads
from flickerd.errors import ConfigError
from flickerd.media.writer import reproducible
from flickerd.report.compare import GAP, flicker_box, panel_size, write_compare
from flickerd.report.settings import ReportSettings

W, H, N = 192, 108, 12


def _write(path, frames, fps=8):
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = reproducible("libx264", {"crf": "12", "preset": "ultrafast"})
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return str(path)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A panning texture (motion in both files) whose lower-right corner breathes in the source only."""
    d = tmp_path_factory.mktemp("compare")
    rng = np.random.default_rng(2)
    world = cv2.GaussianBlur(rng.integers(40, 215, (H, W + 3 * N, 3), dtype=np.uint8), (3, 3), 0)
    clean = [np.ascontiguousarray(world[:, 3 * i:3 * i + W]) for i in range(N)]
    flicker = []
    for i, f in enumerate(clean):
        g = f.astype(np.int16)
        g[H // 2:, 2 * W // 3:] += 30 if i % 2 else -30
        flicker.append(np.clip(g, 0, 255).astype(np.uint8))
    return _write(d / "src.mp4", flicker), _write(d / "fixed.mp4", clean)


def _read(path):
    with av.open(path) as c:
        s = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(s)]
        return s.codec_context.width, s.codec_context.height, float(s.average_rate), frames


def test_source_size_source_rate_and_a_zoom_row(pair, tmp_path):
    src, fixed = pair
    w, h, rate, frames = _read(write_compare(str(tmp_path / "c.mp4"), src, fixed))
    assert (w, h) == (2 * W + GAP, 2 * H + GAP)  # halves at the source's size, zoom row below
    assert rate == pytest.approx(8.0) and len(frames) == N  # the source's 8 fps, every frame
    w, h, rate, _ = _read(write_compare(str(tmp_path / "slow.mp4"), src, fixed, speed=0.5, zoom=0))
    assert (w, h, rate) == (2 * W + GAP, H, pytest.approx(4.0))


def test_the_zoom_finds_the_region_that_flickers(pair, tmp_path):
    src, fixed = pair
    from flickerd.report.compare import layout

    x, y, bw, bh = layout(src, fixed, max_width=1920, zoom=3).box
    cx, cy = x + bw / 2, y + bh / 2
    assert cx > 2 * W / 3 and cy > H / 2, (x, y, bw, bh)  # inside the breathing corner, not where it pans
    assert bw == pytest.approx(W / 3, abs=2) and bh == pytest.approx(H / 3, abs=2)


def test_verification_makes_the_zoom_map_so_the_clip_needs_no_first_pass(pair, monkeypatch):
    src, fixed = pair
    from flickerd.report import compare
    from flickerd.verify import check

    decoded = compare.layout(src, fixed, max_width=1920, zoom=3).box
    v = check(src, fixed, None, None, rediagnose=None)
    assert v.change_map is not None and v.change_map.shape == compare.change_map(src, fixed, True).shape

    def no_pass(*a, **k):
        raise AssertionError("decoded both files again")

    monkeypatch.setattr(compare, "change_map", no_pass)
    assert compare.layout(src, fixed, max_width=1920, zoom=3, change=v.change_map).box == decoded


def test_frames_verification_kept_give_the_same_clip_without_decoding(pair, tmp_path, monkeypatch):
    src, fixed = pair
    from flickerd.media.spill import PairSpill
    from flickerd.media.writer import VideoWriter
    from flickerd.report import compare
    from flickerd.verify import check

    drawn: list[bytes] = []
    write = VideoWriter.write
    monkeypatch.setattr(VideoWriter, "write", lambda self, rgb: (drawn.append(rgb.tobytes()), write(self, rgb))[1])
    v = check(src, fixed, None, None, rediagnose=None)
    write_compare(str(tmp_path / "decoded.mp4"), src, fixed, change=v.change_map)
    decoded, drawn[:] = drawn[:], []
    with PairSpill(str(tmp_path / ".frames.tmp")) as kept:
        v = check(src, fixed, None, None, rediagnose=None, keep=kept.add)
        assert kept.usable and kept.count == N

        def no_decode(*a, **k):
            raise AssertionError("decoded both files again")

        monkeypatch.setattr(compare, "iter_frames", no_decode)
        write_compare(str(tmp_path / "kept.mp4"), src, fixed, change=v.change_map, frames=kept.pairs)
    assert drawn == decoded  # the same canvases (x264 itself is not bit-reproducible with threads)
    assert not (tmp_path / ".frames.tmp").exists()


def test_wide_sources_are_capped_and_the_box_stays_inside():
    assert panel_size(1280, 720, 1920) == (958, 538)
    assert panel_size(480, 368, 1920) == (480, 368)  # never upscaled
    change = np.zeros((90, 160))
    change[-5:, -5:] = 1  # the very corner
    x, y, w, h = flicker_box(change, 1280, 720, 4)
    assert x + w <= 1280 and y + h <= 720 and x > 800 and y > 400


def test_reports_table_is_validated_with_its_key_path():
    cfg = loads('[reports]\ncompare_speed = 0.5\ncompare_zoom = 0\n[[folders]]\npath = "in"\n')
    assert cfg.reports == ReportSettings(compare_speed=0.5, compare_zoom=0.0)
    with pytest.raises(ConfigError, match=r"reports\.compare_max_width"):
        loads('[reports]\ncompare_max_width = 10\n[[folders]]\npath = "in"\n')
    with pytest.raises(ConfigError, match=r"reports\.speed: unknown key"):
        loads('[reports]\nspeed = 1\n[[folders]]\npath = "in"\n')


def test_an_rgb_gif_source_keeps_its_levels_in_the_clip(tmp_path):
    """qa17 F15 read the clip of a GIF ~1 level darker than its source: that was ffmpeg's default
    YUV→RGB conversion (no accurate rounding) in the check, not the clip. Read exactly (flickerd's
    reader; ffmpeg with ``scale=flags=accurate_rnd+full_chroma_int`` agrees), MagicTime's clip is
    within 0.1 level of its GIF. This dithered, saturated test pattern keeps a bias of about half a
    level from 4:2:0 chroma (what players need); a wrong matrix or range would be several levels."""
    import subprocess

    from flickerd.media.ffmpeg import ffmpeg_exe
    from flickerd.media.reader import iter_frames

    src = tmp_path / "src.gif"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=160x96:r=10", "-vf", "gblur=sigma=3", "-frames:v", "12",
                    str(src)], check=True)
    out = write_compare(str(tmp_path / "c.mp4"), str(src), str(src), zoom=0)
    a = np.stack([f.image for f in iter_frames(str(src))]).astype(float)
    b = np.stack([f.image for f in iter_frames(out)]).astype(float)[:, :96, :160]
    assert len(a) == len(b) == 12
    below_label = np.s_[:, 30:, :]
    bias = (b[below_label] - a[below_label]).mean(axis=(0, 1, 2))
    assert np.abs(bias).max() < 0.75, bias


@pytest.mark.parametrize("status, label", [("done", "fixed"), ("rejected", "rejected fix"), ("report_only", "refused fix")])
def test_the_fix_half_says_whether_the_fix_was_published(pair, tmp_path, monkeypatch, status, label):
    """qa19: a rejected fix's clip in _failed/, and a refused guided fix's beside no video, said "fixed"."""
    from types import SimpleNamespace

    import flickerd.report as report
    from flickerd.report import compare, write_reports

    said = []
    monkeypatch.setattr(compare, "write_compare", lambda path, *a, labels=("original", "fixed"), **k: said.append(labels))
    monkeypatch.setattr(report, "_plot", lambda *a, **k: "")  # only the clip is looked at here
    monkeypatch.setattr(report, "build", lambda **k: {})
    monkeypatch.setattr(report, "write_json", lambda path, doc: path)  # no JSON: it is not a real report
    src, fixed = pair
    v = SimpleNamespace(accepted=status == "done", reasons=["x"], metrics={}, change_map=None)
    write_reports(str(tmp_path), "c", source=src, fixed=fixed, before=None, decision=None, chain=None,
                  verification=v, status=status)
    assert said == [("original", label)]

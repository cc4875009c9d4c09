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


def test_gif_output_does_not_dither_anew_every_frame(tmp_path):
    """A GIF's dither must stay put where the picture does: a fixed rgb8 palette with error
    diffusion re-dithered the whole frame whenever anything moved (it doubled a real render's
    warping error); one palette for the clip with ordered dithering changes only what moved."""
    src = make_clip(tmp_path / "s.mp4", frames=2, fps=10)
    info = probe(src)
    h, w = 96, 128
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    sky = np.dstack([40 + 0.9 * x, 90 + 0.6 * y, 180 + 0.3 * x]).clip(0, 255)  # smooth gradients
    frames = []
    for t in range(6):
        f = sky.copy()
        f[10:30, 10 + 4 * t:30 + 4 * t] = (240, 40, 40)  # a small object moves 4 px a frame
        frames.append(f.astype(np.uint8))
    with VideoWriter(tmp_path / "o.gif", info, size=(w, h)) as writer:
        for f in frames:
            writer.write(f)
    out = [fr.image.astype(np.int16) for fr in iter_frames(tmp_path / "o.gif")]
    assert len(out) == 6 and not list(tmp_path.glob(".o.gif*"))  # the lossless frames are gone
    still = np.ones((h, w), bool)
    still[5:35, 5:60] = False  # where the object went
    changed = [float((np.abs(b - a).max(axis=2) > 0)[still].mean()) for a, b in zip(out, out[1:])]
    assert max(changed) < 0.01, changed
    # and the picture is still the picture: within a few grey levels of what was written
    assert float(np.abs(out[0] - frames[0].astype(np.int16)).mean()) < 6.0


def _leftovers(byte: int):
    """glibc fills fresh heap blocks with ``byte ^ 0xff`` while set (0: off); None where there is no mallopt."""
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return None
    return mallopt(-6, byte)  # M_PERTURB


def test_x264_encode_does_not_depend_on_heap_leftovers(tmp_path):
    """The same frames must give the same file: x264's AVX-512 MB-tree code read memory it never
    wrote, so a chain's other threads (reshuffling the heap) made ``fix`` irreproducible. Two encodes,
    each with different leftovers in every fresh heap block, must be byte-identical."""
    src = make_clip(tmp_path / "s.mp4", frames=2, w=64, h=64)
    info = probe(src)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:64, 0:64]
    frames = []
    for i in range(16):
        base = 128 + 60 * np.sin((xx + 3 * i) / 17.0) * np.cos((yy - 2 * i) / 23.0)
        rgb = np.stack([base, np.roll(base, i, 1), 255 - base], -1) + rng.normal(0, 4, (64, 64, 3))
        frames.append(np.clip(rgb, 0, 255).astype(np.uint8))
    outs = []
    for k, byte in enumerate((0x11, 0xEE)):
        if _leftovers(byte) is None:
            pytest.skip("no glibc mallopt to vary the heap's leftovers")
        try:
            with VideoWriter(tmp_path / f"o{k}.mp4", info, settings=EncodeSettings(crf=16, preset="slow")) as w:
                w._v.codec_context.thread_count = 1  # x264's own threads are deterministic; keep it fast
                for im in frames:
                    w.write(im)
        finally:
            _leftovers(0)
        outs.append((tmp_path / f"o{k}.mp4").read_bytes())
    assert outs[0] == outs[1]


def test_reproducible_options_ask_x264_for_its_avx2_code_where_avx512_is_there():
    from flickerd.media.writer import reproducible, reproducible_args, x264_params

    given = {"crf": "16"}
    opts = reproducible("libx264", given)
    assert given == {"crf": "16"}  # the caller's options are not changed
    assert opts.get("x264-params") == x264_params() and opts["crf"] == "16"
    assert reproducible("libx265", given) == given  # only x264 has that code
    assert reproducible_args() == (["-x264-params", x264_params()] if x264_params() else [])


@pytest.mark.parametrize("name, codec", [("o.mp4", None), ("o.mov", "prores"), ("o.mkv", "h265"), ("o.webm", None)])
def test_a_full_range_rgb_source_keeps_its_levels_in_yuv(tmp_path, name, codec):
    """An RGB source (an image sequence, an RGB codec) is tagged full range; its YUV output must
    hold full-range values, not limited-range ones read back as full (+12 levels at 30 before);
    ProRes, which records limited range whatever it is told, gets limited values. Nor is the YUV
    tagged with the RGB matrix (HEVC decoded it as G, B, R; VP9 refused to encode)."""
    import cv2

    folder = tmp_path / "shot"
    folder.mkdir()
    ramp = np.tile(np.linspace(0, 255, 96, dtype=np.float32), (64, 1))
    frames = [np.repeat(ramp[..., None], 3, axis=2).astype(np.uint8) for _ in range(4)]
    for t, f in enumerate(frames):
        cv2.imwrite(str(folder / f"frame_{t:04d}.png"), f)
    info = probe(str(folder))
    assert info.color_range == 2  # full range, as RGB is
    with VideoWriter(tmp_path / name, info, settings=EncodeSettings(crf=0, preset="ultrafast", codec=codec)) as w:
        for f in frames:
            w.write(f)
    back = [f.image.astype(np.float32) for f in iter_frames(str(tmp_path / name))]
    assert abs(float(np.mean(back[0][:, :8])) - float(np.mean(frames[0][:, :8]))) < 2  # black stays black
    assert abs(float(np.mean(back[0][:, -8:])) - float(np.mean(frames[0][:, -8:]))) < 2  # white stays white

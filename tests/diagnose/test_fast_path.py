"""The fast analysis path: planes straight from the decoder, skipped frames, and the vectorised measures.

Each fast piece is checked against the slow, obvious form it replaced, on real decoded video.
"""

import threading

import av
import cv2
import numpy as np
import pytest

from flickerd import flow as of
from flickerd.diagnose import DiagnoseSettings, Verdict, codec, global_flicker, run, warping
from flickerd.quality import texture
from flickerd.diagnose.frames import FrameView, Geometry
from flickerd.media import iter_frames
from flickerd.media.planes import PlaneReader, iter_planes


def _decode_all(path):
    """Reference: every frame's Y plane through PyAV's own conversion, by display index."""
    with av.open(str(path)) as c:
        c.streams.video[0].thread_type = "NONE"
        return [np.frombuffer(f.planes[0], np.uint8).reshape(f.height, -1)[:, : f.width].copy() for f in c.decode(video=0)]


def test_planes_are_the_decoded_frames(make_clip):
    path = make_clip("clean", frames=30)
    ref = _decode_all(path)
    got = list(iter_planes(path))
    assert [p.index for p in got] == list(range(30))
    for p, y in zip(got, ref):
        assert np.array_equal(p.y, y)
        assert p.cb.shape == (y.shape[0] // 2, y.shape[1] // 2) and not p.full_range


def test_skipping_keeps_every_wanted_frame_exact(make_clip):
    """Only frames nobody predicts from are skipped, so the decoded ones match a full decode bit for bit."""
    path = make_clip("clean", seed=5, frames=60)
    ref = _decode_all(path)
    reader = PlaneReader(path, wanted=lambda t: t % 10 == 0)
    got = list(reader)
    indices = [p.index for p in got]
    assert reader.frames == 60
    assert set(range(0, 60, 10)) <= set(indices)
    assert len(got) < 60, "an x264 clip with B-frames should let some frames be skipped"
    assert indices == sorted(set(indices))
    for p in got:
        assert np.array_equal(p.y, ref[p.index]), p.index


def test_breaking_out_stops_the_decoder_thread(make_clip):
    before = threading.active_count()
    for p in iter_planes(make_clip("clean", frames=40)):
        if p.index == 3:
            break
    assert threading.active_count() == before


def test_frame_view_matches_the_rgb_reader(make_clip):
    path = make_clip("chroma")
    geometry = Geometry.of(160, 96, 1.0, 1)
    for p, f in zip(iter_planes(path), iter_frames(path)):
        view = FrameView(p, geometry)
        diff = np.abs(view.rgb.astype(int) - f.image.astype(int))
        assert diff.mean() < 1.5 and np.percentile(diff, 99) <= 6
        assert np.abs(view.gray.astype(int) - cv2.cvtColor(f.image, cv2.COLOR_RGB2GRAY)).mean() < 1.0
        means = cv2.mean(cv2.cvtColor(f.image, cv2.COLOR_RGB2YCrCb))
        assert view.means() == pytest.approx([means[0], means[2], means[1]], abs=1.0)  # sampled from the planes
        view.histogram()
        assert view.means() == pytest.approx([means[0], means[2], means[1]], abs=1.0)  # from the thumbnails


def test_histogram_thumbnail_and_its_reused_half_plane_match_direct_resizes(make_clip):
    """The thumbnail halves Y first (one grey level of rounding at most); the analysis luma reuses that half exactly."""
    path = make_clip("chroma", width=256, height=128)
    geometry = Geometry.of(256, 128, 1.0, 2)
    for p in iter_planes(path, max_frames=4):
        view = FrameView(p, geometry)
        view.histogram()
        direct = cv2.resize(p.y, view.thumb.shape[::-1], interpolation=cv2.INTER_AREA)
        assert np.abs(view.thumb.astype(int) - direct).max() <= 1
        assert np.array_equal(view.gray, FrameView(p, geometry).gray)
        assert np.array_equal(view.rgb, FrameView(p, geometry).rgb)


def test_ten_bit_and_gif_go_through_the_fallback(tmp_path, make_clip):
    import subprocess

    from flickerd.media.ffmpeg import ffmpeg_exe

    for ext, args in (("mkv", ["-c:v", "libx264", "-pix_fmt", "yuv420p10le"]), ("gif", [])):
        out = tmp_path / f"clip.{ext}"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-i", make_clip("clean"), *args, str(out)], check=True)
        frames = list(iter_planes(out))
        ref = next(iter_frames(out, gray=True)).image
        assert len(frames) == 24 and frames[0].y.dtype == np.uint8
        luma = cv2.LUT(frames[0].y, np.clip((np.arange(256) - 16) * 255 / 219, 0, 255).astype(np.uint8)) \
            if not frames[0].full_range else frames[0].y
        assert np.abs(luma.astype(int) - ref.astype(int)).mean() < 2.0


def test_long_clip_samples_skips_and_keeps_the_verdict(make_clip):
    path = make_clip("luma", seed=4, frames=120)
    d = run(path, DiagnoseSettings(max_pairs=24, every_pair_up_to=0))
    full = run(path, DiagnoseSettings(max_pairs=0))
    assert d.frames == full.frames == 120 and len(d.timeline) == 120
    assert d.verdict is full.verdict is Verdict.GENERATIVE_FLICKER
    assert sum(p.warp_error is not None for p in d.timeline) < 40
    assert d.settings["pair_stride"] > 2
    assert d.scores["luma_flicker"] == pytest.approx(full.scores["luma_flicker"], rel=0.5)


# --- vectorised measures against their obvious forms -------------------------------------------


@pytest.fixture(scope="module")
def pair(make_clip):
    it = iter_planes(make_clip("breathing", seed=3, width=256, height=144))
    geometry = Geometry.of(256, 144, 1.0, 1)
    views = [FrameView(next(it), geometry) for _ in range(6)]
    it.close()
    return views[4], views[5]


def test_occlusion_mask_matches_lais_formula(pair):
    a, b = pair
    fw, bw = of.flow(a.gray, b.gray), of.flow(b.gray, a.gray)
    bw_at = of.warp(bw, fw)
    fb = fw + bw_at
    mag_fw, mag_bw = (fw**2).sum(-1), (bw_at**2).sum(-1)
    occluded = (fb**2).sum(-1) > 0.01 * (mag_fw + mag_bw) + 0.5
    du_y, du_x = np.gradient(fw[..., 0])
    dv_y, dv_x = np.gradient(fw[..., 1])
    boundary = du_x**2 + du_y**2 + dv_x**2 + dv_y**2 > 0.01 * mag_fw + 0.002
    expected = ~(occluded | boundary)
    got = of.occlusion_mask(fw, bw)
    assert 0.05 < expected.mean() < 1.0
    assert (got != expected).mean() < 1e-4


def test_warp_and_mask_match_their_plain_forms_bit_for_bit(pair):
    """``warp`` builds one two-channel map and ``occlusion_mask`` works in place: same numbers as the plain forms."""
    a, b = pair
    fw, bw = of.flow(a.gray, b.gray), of.flow(b.gray, a.gray)
    gx, gy = of.pixel_grid(*fw.shape[:2])

    def plain_warp(image, f):
        return cv2.remap(image, gx + f[..., 0], gy + f[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    for image in (b.rgb, b.gray, bw, b.rgb.astype(np.float32)):
        assert np.array_equal(of.warp(image, fw), plain_warp(image, fw))
    u, v = cv2.split(fw)
    bu, bv = cv2.split(plain_warp(bw, fw))
    mag_fw = u * u + v * v
    fu, fv = u + bu, v + bv
    occluded = fu * fu + fv * fv > 0.01 * (mag_fw + bu * bu + bv * bv) + 0.5

    def grad_sq(c):
        gyc, gxc = np.gradient(c)
        return gxc * gxc + gyc * gyc

    boundary = grad_sq(u) + grad_sq(v) > 0.01 * mag_fw + 0.002
    assert np.array_equal(of.occlusion_mask(fw, bw), ~(occluded | boundary))


def test_warp_error_and_offsets_match_their_definitions(pair):
    a, b = pair
    c = warping.compensate(a.rgb, b.rgb, "ultrafast", a.gray, b.gray)
    expected = ((c.residual / 255.0) ** 2).sum(-1)[c.mask].mean()
    assert warping.warp_error(c.residual, c.mask) == pytest.approx(expected, rel=1e-4)
    step = max(1, int(np.sqrt(c.mask.size / global_flicker.MEDIAN_SAMPLES)))
    r = c.residual[::step, ::step][c.mask[::step, ::step]]
    medians = np.median(r, axis=0)
    assert np.array_equal(global_flicker.pair_offsets(c.residual, c.mask), medians.astype(np.float32) @ global_flicker.YCC.T)


def test_blocking_matches_the_line_by_line_form(pair):
    def slow(y, period):
        f = y.astype(np.float32)
        ratios = []
        for d in (np.abs(np.diff(f, axis=1)).mean(0), np.abs(np.diff(f, axis=0)).mean(1)):
            for i in range(period - 1, d.size - 1, period):
                near = (d[i - 1] + d[i + 1]) / 2
                if near > 0.05:
                    ratios.append(d[i] / near)
        return float(np.median(ratios)) if ratios else 1.0

    h, w = pair[0].gray.shape
    offsets = np.random.default_rng(0).integers(-8, 9, (h // 8, w // 8))
    blocky = np.clip(pair[0].gray.astype(int) + np.kron(offsets, np.ones((8, 8), int)), 0, 255).astype(np.uint8)
    for y in (pair[0].gray, blocky):
        for period in (2, 4, 8):
            assert codec.blocking(y, period) == pytest.approx(slow(y, period))
    assert codec.blocking(blocky, 8) > 1.15 > codec.blocking(pair[0].gray, 8)


def test_banding_counts_match_the_fractions_of_the_window(make_clip):
    """``banding`` tests whole pixel counts per 9x9 window: the same answers as the fractions of box-blurred masks."""
    def plain(y):
        f = y.astype(np.int16)
        g = np.zeros(f.shape, np.int16)
        g[:, :-1] = np.abs(np.diff(f, axis=1))
        g[:-1] = np.maximum(g[:-1], np.abs(np.diff(f, axis=0)))
        flat = cv2.blur(((g == 0) & (f > 5) & (f < 250)).astype(np.float32), (9, 9))
        ones = cv2.blur((g == 1).astype(np.float32), (9, 9))
        steps = cv2.blur(((g >= 3) & (g <= 12)).astype(np.float32), (9, 9))
        smooth = flat + ones + steps > 0.97
        banded = smooth & (steps > 0.02) & (ones < 0.5 * steps + 0.05) & (flat > 0.5)
        n = int(smooth.sum())
        return float(banded.sum() / n) if n > 64 else 0.0

    x = np.linspace(0, 1, 320)[None, :] * np.ones((180, 1))
    ramp = (40 + 150 * x).astype(np.uint8)
    stepped = (40 + 6 * np.floor(25 * x)).astype(np.uint8)
    frames = [ramp, stepped] + [p.y.copy() for kind in ("banding", "clean") for p in iter_planes(make_clip(kind), max_frames=3)]
    values = [codec.banding(y) for y in frames]
    assert values == [plain(y) for y in frames]
    assert values[1] > 0.1 > values[0] and any(0 < v < 1 for v in values[2:])


def test_texture_ratio_matches_its_definition(pair):
    a, b = pair
    c = warping.compensate(a.rgb, b.rgb, "ultrafast", a.gray, b.gray)
    prev = a.gray.astype(np.float32)
    warped = prev - c.residual @ global_flicker.YCC[0]
    hp_a = prev - cv2.GaussianBlur(prev, (0, 0), texture.HIGH_PASS_SIGMA)
    hp_b = warped - cv2.GaussianBlur(warped, (0, 0), texture.HIGH_PASS_SIGMA)
    detail = ((hp_a ** 2 + hp_b ** 2) / 2)[c.mask].mean()
    expected = ((hp_a - hp_b) ** 2)[c.mask].mean() / detail
    assert texture.texture_ratio(prev, warped, c.mask) == pytest.approx(expected, rel=1e-5)


def test_image_sequence_goes_through_the_rgb_fallback(tmp_path):
    from PIL import Image

    from flickerd.synth.corpus import ClipSpec, frames

    for i, f in enumerate(frames(ClipSpec(seed=3, kind="luma"))):
        Image.fromarray(f).save(tmp_path / f"frame_{i:04d}.png")
    planes = list(iter_planes(tmp_path))
    assert [p.index for p in planes] == list(range(24)) and planes[0].full_range
    d = run(tmp_path)
    assert d.frames == 24 and d.verdict is Verdict.GENERATIVE_FLICKER


@pytest.mark.parametrize("codec, pix_fmt, ext", [("libx264", "yuvj420p", "mp4"), ("mjpeg", "yuvj420p", "avi")])
def test_full_range_video_at_analysis_size_is_diagnosed(tmp_path, codec, pix_fmt, ext):
    """Full-range planes are used as decoded; their padded rows must not reach DIS (it needs contiguous rows)."""
    path = tmp_path / f"full.{ext}"
    rng = np.random.default_rng(3)
    base = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=12)
        v.width, v.height, v.pix_fmt = 100, 72, pix_fmt  # rows padded by the decoder
        for t in range(16):
            img = cv2.resize(np.roll(base, t, axis=1), (100, 72), interpolation=cv2.INTER_LINEAR)
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
    diag = run(path)
    assert diag.frames == 16 and diag.verdict in set(Verdict)
    assert any(p.warp_error is not None for p in diag.timeline)

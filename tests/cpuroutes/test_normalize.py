"""The normalize route on real encoded clips with known, injected flicker."""

import os

import numpy as np
import pytest

from flickerd.errors import ConfigError, InputError
from flickerd.media import probe
from flickerd.routes.normalize import NormalizeParams, NormalizeRoute
from tests.cpuroutes import clips


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("n") / "clean.mp4")
    clips.write(path, clips.flickered(None))
    return clips.load(path)


def run(tmp_path, frames, name, **params):
    src, out = str(tmp_path / f"{name}.mp4"), str(tmp_path / f"{name}.fixed.mp4")
    clips.write(src, frames)
    result = NormalizeRoute().fix(src, out, params, lambda f: None)
    return clips.load(src), clips.load(out), result


def test_removes_global_luma_flicker(tmp_path, clean):
    inp, out, result = run(tmp_path, clips.flickered(clips.global_luma()), "luma")
    before, after = clips.second_difference(clips.channel_means(inp)[:, 0]), clips.second_difference(clips.channel_means(out)[:, 0])
    assert after < before / 10
    assert clips.psnr(out, clean) > clips.psnr(inp, clean) + 4
    assert result.route == "normalize" and result.extra["frames"] == len(inp)


def test_removes_a_chroma_cast_that_jumps(tmp_path, clean):
    inp, out, _ = run(tmp_path, clips.flickered(clips.chroma_cast()), "chroma")
    for c in (1, 2):
        before = clips.second_difference(clips.channel_means(inp)[:, c])
        after = clips.second_difference(clips.channel_means(out)[:, c])
        assert after < before / 5, (c, before, after)
    assert clips.psnr(out, clean) > clips.psnr(inp, clean) + 2


def test_calms_a_breathing_region_without_touching_the_rest(tmp_path, clean):
    # a 128×80 clip needs a finer grid than the default to resolve a region a third of its width
    inp, out, _ = run(tmp_path, clips.flickered(clips.breathing()), "breath", grid=8)
    region = (slice(25, 55), slice(20, 55))  # the blob's core, left half
    err = lambda frames: np.array([(f[region] - c[region]).mean() for f, c in zip(frames, clean)])  # noqa: E731
    assert np.std(err(out)) < np.std(err(inp)) / 2.5
    right = (slice(None), slice(90, None))  # far from the blob: must stay as it was
    drift = np.mean([np.abs((o[right] - i[right]).mean()) for o, i in zip(out, inp)])
    assert drift < 0.01


def test_keeps_a_clean_fast_motion_clip(tmp_path):
    inp, out, _ = run(tmp_path, clips.flickered(None, speed=4.0), "fast")
    scores = [clips.ssim(o, i) for o, i in zip(out, inp)]
    assert min(scores) >= 0.98


def test_does_not_flatten_a_slow_exposure_ramp(tmp_path):
    inp, out, _ = run(tmp_path, clips.flickered(clips.ramp()), "ramp")
    y_in, y_out = clips.channel_means(inp)[:, 0], clips.channel_means(out)[:, 0]
    rise_in, rise_out = y_in[-1] - y_in[0], y_out[-1] - y_out[0]
    assert rise_in > 0.15
    assert abs(rise_out - rise_in) < 0.1 * rise_in
    assert np.max(np.abs(y_out - y_in)) < 0.01


def test_ten_bit_in_ten_bit_out(tmp_path):
    src, out = str(tmp_path / "deep.mp4"), str(tmp_path / "deep.fixed.mp4")
    clips.write(src, clips.flickered(clips.global_luma(), n=12), deep=True)
    NormalizeRoute().fix(src, out, {}, lambda f: None)
    info = probe(out)
    assert info.bit_depth == 10 and info.frame_count == 12
    y_in, y_out = clips.channel_means(clips.load(src))[:, 0], clips.channel_means(clips.load(out))[:, 0]
    assert clips.second_difference(y_out) < clips.second_difference(y_in) / 5


def test_does_not_normalise_across_a_cut(tmp_path):
    src, out = str(tmp_path / "cut.mp4"), str(tmp_path / "cut.fixed.mp4")
    first = list(clips.moving_scene(seed=1, n=10))
    second = [np.clip(f * 0.45, 0, 1) for f in clips.moving_scene(seed=9, n=10)]  # a darker shot
    clips.write(src, first + second)
    result = NormalizeRoute().fix(src, out, {}, lambda f: None)
    assert result.extra["cuts_detected"] == [10]
    y_in, y_out = clips.channel_means(clips.load(src))[:, 0], clips.channel_means(clips.load(out))[:, 0]
    assert np.max(np.abs(y_out - y_in)) < 0.01  # both shots keep their own brightness


def test_params_are_checked():
    assert NormalizeParams.from_mapping({"window": 4, "_intermediate": True}).window == 4
    with pytest.raises(ConfigError, match=r"params\.windw: unknown parameter"):
        NormalizeParams.from_mapping({"windw": 4})
    with pytest.raises(ConfigError, match=r"params\.grid: expected int"):
        NormalizeParams.from_mapping({"grid": "8"})
    with pytest.raises(ConfigError, match="strength"):
        NormalizeParams.from_mapping({"strength": 2})
    with pytest.raises(ConfigError, match="cuts"):
        NormalizeParams.from_mapping({"cuts": [3, -1]})


def test_corrupt_input_gives_a_clear_error_and_writes_nothing(tmp_path):
    good = tmp_path / "good.mp4"
    clips.write(str(good), clips.flickered(None, n=10))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(good.read_bytes()[:2000])  # truncated: the index is gone
    with pytest.raises(InputError, match="bad.mp4"):
        NormalizeRoute().fix(str(bad), str(tmp_path / "out.mp4"), {}, lambda f: None)
    data = clips.faststart(str(good), str(tmp_path / "fs.mp4"))
    os.unlink(tmp_path / "fs.mp4")
    bad.write_bytes(data[: len(data) // 2])  # the index up front survives, half the frames do not
    with pytest.raises(InputError, match="bad.mp4"):
        NormalizeRoute().fix(str(bad), str(tmp_path / "out.mp4"), {}, lambda f: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4", "good.mp4"]


def test_planar_sources_are_corrected_in_place_and_rgb_sources_through_rgb(tmp_path):
    import av

    # planar YUV: at strength 0 the planes pass through untouched (only the encode differs)
    src = str(tmp_path / "yuv.mp4")
    clips.write(src, clips.flickered(None, n=8))
    out = str(tmp_path / "yuv.out.mp4")
    result = NormalizeRoute().fix(src, out, {"strength": 0.0, "crf": 0}, lambda f: None)
    assert result.extra["working_space"] == "yuv420p planes"
    assert clips.psnr(clips.load(out), clips.load(src)) > 48

    # an RGB master (FFV1 bgr0) has no planes to correct in place: the RGB path runs
    rgb_src = str(tmp_path / "rgb.mkv")
    with av.open(rgb_src, "w") as container:
        stream = container.add_stream("ffv1", rate=12)
        stream.width, stream.height, stream.pix_fmt = clips.W, clips.H, "bgr0"
        for rgb in clips.flickered(clips.global_luma(), n=12):
            frame = av.VideoFrame.from_ndarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    rgb_out = str(tmp_path / "rgb.out.mp4")
    result = NormalizeRoute().fix(rgb_src, rgb_out, {}, lambda f: None)
    assert result.extra["working_space"] == "rgb"
    y_in, y_out = clips.channel_means(clips.load(rgb_src))[:, 0], clips.channel_means(clips.load(rgb_out))[:, 0]
    assert clips.second_difference(y_out) < clips.second_difference(y_in) / 5

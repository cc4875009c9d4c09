"""The rife route end to end: real encodes in, real encodes out, through the route protocol."""

import av
import numpy as np
import pytest
import torch
from structlog.testing import capture_logs

from flickerd.errors import ConfigError, ModelError
from flickerd.media import probe
from flickerd.routes.base import Route, Step, run_chain
from flickerd.routes.registry import get_route
from flickerd.routes.rife.route import RifeParams, RifeRoute
from tests.rife import clips


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    """12 frames, 128×96 at 12 fps, 6 px/frame pan and a square at 9 px/frame, with AAC audio."""
    images = clips.frames(12, dx=6.0, seed=1)
    path = tmp_path_factory.mktemp("rife") / "moving.mp4"
    return clips.write(path, images, audio=True), images


def test_registered_and_satisfies_the_route_protocol():
    route = get_route("rife")
    assert isinstance(route, RifeRoute) and isinstance(route, Route)
    assert route.name == "rife" and route.version == "1"


def test_smooth_keeps_frames_fps_audio_and_names_the_hdv3_backend(moving, tmp_path):
    src, _ = moving
    out = tmp_path / "out.mp4"
    seen = []
    result = RifeRoute().fix(src, str(out), {"threads": 1}, seen.append)
    before, after = probe(src), probe(out)
    assert after.frame_count == before.frame_count == 12
    assert (after.fps_num, after.fps_den) == (before.fps_num, before.fps_den)
    assert after.has_audio and after.audio_codec == "aac"
    assert abs(after.duration_s - before.duration_s) < 0.1
    assert result.backend.startswith("rife-hdv3 (torch ") and "cpu, fp32" in result.backend
    assert result.params["mode"] == "smooth" and result.params["strength"] == 0.5 and result.params["scale"] == 1.0
    assert result.extra["weights"]["sha256"] == "fe854fc8996547c953f732aaa3b78cae76cc0a12833ae856ea0749c4c570d7d8"
    stats = result.extra["blend_weight"][0]
    assert len(stats["per_frame_coarse"]) == len(stats["per_frame_fine"]) == 12
    assert 0 < stats["fine_mean"] <= stats["coarse_mean"] <= 0.5
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_smoothing_clean_fast_motion_keeps_it_sharp(moving, tmp_path):
    src, _ = moving
    out = tmp_path / "smooth.mkv"
    RifeRoute().fix(src, str(out), {"_intermediate": True}, lambda f: None)
    scores = [clips.ssim(a, b) for a, b in zip(clips.decode(src), clips.decode(out))]
    assert len(scores) == 12
    assert min(scores) >= 0.98, scores


def test_smoothing_removes_luma_flicker_on_moving_content(tmp_path):
    clean = clips.frames(12, dx=3.0, seed=2)
    gains = [1.0, 1.08, 0.93, 1.06, 0.95, 1.09, 0.92, 1.05, 0.94, 1.07, 0.93, 1.0]
    src = clips.write(tmp_path / "luma.mp4", clips.flicker(clean, lambda img, t: img * gains[t]))
    out = tmp_path / "fixed.mkv"
    RifeRoute().fix(src, str(out), {"_intermediate": True}, lambda f: None)
    truth = [clips.to_u8(c) for c in clean]
    before = clips.clip_psnr(clips.decode(src), truth)
    after = clips.clip_psnr(clips.decode(out), truth)
    assert after - before > 2.0, (before, after)


def test_interpolate_doubles_frames_and_fps_and_keeps_source_frames(moving, tmp_path):
    src, _ = moving
    out = tmp_path / "x2.mkv"
    result = RifeRoute().fix(src, str(out), {"mode": "interpolate", "factor": 2, "_intermediate": True}, lambda f: None)
    info = probe(out)
    assert info.frame_count == 24 and info.fps == pytest.approx(24.0)
    assert info.has_audio
    source, doubled = clips.decode(src), clips.decode(out)
    for i, frame in enumerate(source):
        assert clips.psnr(doubled[2 * i], frame) > 36  # only the 4:2:0 colour round trip of the intermediate
    # inserted frames lie between their neighbours, not on either of them
    assert clips.psnr(doubled[1], source[0]) < 30 and clips.psnr(doubled[1], source[1]) < 30
    assert result.extra["frames_out"] == 24 and "not a flicker fix" in " ".join(result.notes)


def test_ten_bit_input_stays_ten_bit(tmp_path):
    src = clips.write(tmp_path / "deep.mkv", clips.frames(5, width=64, height=64, dx=2.0), ten_bit=True)
    out = tmp_path / "deep-out.mkv"
    RifeRoute().fix(src, str(out), {"crf": 0, "preset": "ultrafast"}, lambda f: None)
    info = probe(out)
    assert info.bit_depth == 10 and info.frame_count == 5
    with av.open(str(out)) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="rgb48le")
    assert len(np.unique(frame % 256)) > 16  # real 16-bit samples, not 8-bit values scaled up


def test_missing_weights_fall_back_to_dis_and_say_so(moving, tmp_path):
    src, _ = moving
    out = tmp_path / "dis.mp4"
    with capture_logs() as logs:
        result = RifeRoute().fix(src, str(out), {"weights": str(tmp_path / "absent.pkl")}, lambda f: None)
    assert [e["event"] for e in logs] == ["rife_weights_unavailable"] and logs[0]["log_level"] == "warning"
    assert result.backend.startswith("dis-flow fallback")
    assert "absent.pkl" in result.notes[0] and "DIS-flow fallback" in result.notes[0]
    assert probe(out).frame_count == 12
    scores = [clips.ssim(a, b) for a, b in zip(clips.decode(src), clips.decode(out))]
    assert min(scores) >= 0.95


def test_backend_rife_refuses_to_fall_back(moving, tmp_path):
    src, _ = moving
    out = tmp_path / "never.mp4"
    with pytest.raises(ModelError, match="absent.pkl"):
        RifeRoute().fix(src, str(out), {"backend": "rife", "weights": str(tmp_path / "absent.pkl")}, lambda f: None)
    assert not out.exists()


def test_chain_step_writes_a_lossless_intermediate(moving, tmp_path):
    src, _ = moving
    out = tmp_path / "final.mp4"
    result = run_chain(src, [Step("rife", {"strength": 0.3}), Step("rife", {"mode": "interpolate"})], str(out), str(tmp_path))
    assert result.routes == "rife+rife"
    assert result.steps[0].output.endswith("step0.mkv") and not (tmp_path / "step0.mkv").exists()
    assert probe(out).frame_count == 24


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"windw": 3}, r"params\.windw: unknown parameter"),
        ({"mode": "blur"}, r"params\.mode: expected one of 'smooth', 'interpolate'"),
        ({"factor": 3}, r"params\.factor: expected 2 or 4"),
        ({"strength": 0}, r"params\.strength: expected a value in \(0, 1\]"),
        ({"iterations": "2"}, r"params\.iterations: expected a number"),
        ({"scale": 0.3}, r"params\.scale: expected one of 0.25, 0.5, 1, 2"),
        ({"frames_in_flight": 1.5}, r"params\.frames_in_flight: expected an integer"),
        ({"threads": True}, r"params\.threads: expected a number"),
        ({"device": "cpu", "precision": "fp16"}, r"params\.precision: fp16 needs a CUDA device"),
        ({"layout": "rows"}, r"params\.layout: expected one of .channels_last., .contiguous."),
        ({"mode": "interpolate", "iterations": 2}, r"params\.iterations: only applies to mode = \"smooth\""),
    ],
)
def test_bad_parameters_name_the_key(params, message):
    with pytest.raises(ConfigError, match=message):
        RifeParams.from_mapping(params)


def test_parameters_carry_the_config_path_and_defaults():
    p = RifeParams.from_mapping({"mode": "interpolate", "factor": 4, "scale": 1}, "folders[0].rules[1].steps[0].params")
    assert (p.mode, p.factor, p.scale, p.strength) == ("interpolate", 4, 1.0, 0.5)
    with pytest.raises(ConfigError, match=r"^folders\[0\]\.rules\[1\]\.steps\[0\]\.params\.bogus"):
        RifeParams.from_mapping({"bogus": 1}, "folders[0].rules[1].steps[0].params")


def test_truncated_input_gives_a_clear_error_and_no_output(moving, tmp_path):
    from flickerd.errors import InputError

    src, _ = moving
    data = open(src, "rb").read()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[: len(data) // 3])
    out = tmp_path / "never.mp4"
    with pytest.raises(InputError) as err:
        RifeRoute().fix(str(broken), str(out), {}, lambda f: None)
    assert "broken.mp4" in str(err.value)
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when CUDA is absent")
def test_asking_for_cuda_without_one_is_a_clear_error(moving, tmp_path):
    src, _ = moving
    with pytest.raises(ModelError, match="no CUDA device is available"):
        RifeRoute().fix(src, str(tmp_path / "x.mp4"), {"device": "cuda"}, lambda f: None)
    assert not (tmp_path / "x.mp4").exists()

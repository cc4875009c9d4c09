"""RegenerateRoute end to end on CPU: tiny saved pipelines loaded through the real loader, real files.

Every family renders a 40×32, 12-frame, 12 fps H.264 clip with an AAC tone; the output must drop in
for it: same frame count, fps and size, audio carried over. OOM is injected at the device-call seam.
"""

from __future__ import annotations

import json
import os

import pytest
import torch

from flickerd.errors import ConfigError, ModelError, RouteError
from flickerd.media.probe import probe
from flickerd.routes.base import StepResult
from flickerd.routes.regenerate.device import GpuOutOfMemory, call_pipeline
from flickerd.routes.regenerate.families import FAMILIES
from flickerd.routes.regenerate.loader import PipelineCache, default_loader
from flickerd.routes.regenerate.route import RegenerateRoute

from tests.regenerate.conftest import make_render

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:diffusers")

TINY = {"device": "cpu", "steps": 2, "width": 32, "height": 32, "max_sequence_length": 16, "overlap": 2}
CASES = {
    "cogvideox-v2v": ("cogvideox", {"window": 9}),
    "wan-v2v": ("wan", {"window": 9}),
    "svd": ("svd", {"window": 7}),
    "cogvideox-i2v": ("cogvideox-i2v", {"window": 9}),
    "wan-i2v": ("wan-i2v", {"window": 9, "pin_last_frame": True}),
}


def new_route(**kwargs) -> RegenerateRoute:
    return RegenerateRoute(cache=PipelineCache(default_loader(FAMILIES)), **kwargs)


def assert_drop_in(out: str, src: str) -> None:
    a, b = probe(src), probe(out)
    assert (b.width, b.height, b.frame_count, b.fps) == (a.width, a.height, a.frame_count, a.fps)
    assert b.has_audio and b.audio_codec == a.audio_codec
    assert abs(b.duration_s - a.duration_s) < 0.15


@pytest.mark.parametrize("family", sorted(CASES))
def test_every_family_regenerates_a_drop_in_replacement(family, tiny_models, render, tmp_path):
    folder, extra = CASES[family]
    out = str(tmp_path / "out.mp4")
    seen: list[float] = []
    result = new_route().fix(render, out, {"family": family, "model": tiny_models[folder], "prompt": "a test card", **TINY, **extra}, seen.append)
    assert isinstance(result, StepResult) and result.route == "regenerate" and result.version == "1"
    assert FAMILIES[family].pipeline in result.backend
    assert_drop_in(out, render)
    assert seen == sorted(seen) and seen[-1] == 1.0
    steps_run = 1 if FAMILIES[family].mode.value == "v2v" else 2  # v2v at strength 0.5 runs half the steps
    assert len(seen) == steps_run * len(result.extra["windows"]) + 1  # one per denoising step, then done
    assert result.extra["family"] == family and result.extra["memory_mode"] == "none"
    scores = result.extra["acceptance"]
    assert scores["frames"] == 12 and scores["flicker_before"] >= 0 and -1 <= scores["structure"] <= 1
    if family == "svd":
        assert result.params["noise_aug_strength"] == 0.02 and result.params["motion_bucket_id"] == 40


def test_long_clip_runs_in_cross_faded_windows_with_progress_per_window(tiny_models, tmp_path):
    src = make_render(str(tmp_path / "long.mp4"), frames=24, fps=12)
    out = str(tmp_path / "out.mp4")
    seen: list[float] = []
    result = new_route().fix(src, out, {"family": "wan-v2v", "model": tiny_models["wan"], **TINY, "window": 9, "overlap": 3}, seen.append)
    windows = result.extra["windows"]
    assert len(windows) >= 3 and windows[0][0] == 0 and windows[-1][1] == 24
    assert all(b[0] <= a[1] - 3 for a, b in zip(windows, windows[1:]))
    # a progress value at each window's end: k / n for every window k
    for k in range(1, len(windows)):
        assert any(abs(v - 0.95 * k / len(windows)) < 1e-6 for v in seen), (k, seen)
    assert_drop_in(out, src)


def test_text_to_video_from_a_sidecar(tiny_models, tmp_path):
    src = make_render(str(tmp_path / "clip.mp4"))
    (tmp_path / "clip.json").write_text(json.dumps(
        {"prompt": "a red fox in snow", "negative_prompt": "blurry", "seed": 7, "model": "cogvideox", "family": "cogvideox-t2v"}
    ))
    out = str(tmp_path / "out.mp4")
    root = os.path.dirname(tiny_models["cogvideox"])
    result = new_route().fix(src, out, {"family": "cogvideox-v2v", "model_root": root, **TINY, "window": 9}, lambda f: None)
    assert result.extra["family"] == "cogvideox-t2v" and result.extra["sidecar"]["seed"] == 7
    assert result.params["prompt"] == "a red fox in snow" and result.params["seed"] == 7
    assert result.extra["model"] == os.path.realpath(tiny_models["cogvideox"])
    assert_drop_in(out, src)


def test_sidecar_model_outside_the_model_root_is_refused(tiny_models, tmp_path):
    src = make_render(str(tmp_path / "clip.mp4"))
    (tmp_path / "clip.json").write_text(json.dumps({"prompt": "x", "seed": 1, "model": "../cogvideox"}))
    with pytest.raises(Exception, match="not a path"):
        new_route().fix(src, str(tmp_path / "o.mp4"), {"model_root": str(tmp_path), **TINY}, lambda f: None)


def test_out_of_memory_retries_once_with_the_next_memory_mode(tiny_models, render, tmp_path):
    calls: list[str] = []

    def flaky(pipe, kwargs):
        calls.append("call")
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return call_pipeline(pipe, kwargs)

    out = str(tmp_path / "out.mp4")
    result = new_route(device_call=flaky).fix(render, out, {"family": "cogvideox-v2v", "model": tiny_models["cogvideox"], **TINY, "window": 9}, lambda f: None)
    assert len(calls) == 2
    assert [(a["mode"], bool(a["error"])) for a in result.extra["attempts"]] == [("none", True), ("vae_slicing", False)]
    assert result.extra["memory_mode"] == "vae_slicing"
    assert any("out of memory" in n for n in result.notes)
    assert_drop_in(out, render)


def test_out_of_memory_twice_fails_the_step_for_the_rule_fallback(tiny_models, render, tmp_path):
    def always_oom(pipe, kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    out = str(tmp_path / "out.mp4")
    with pytest.raises(GpuOutOfMemory, match="none, vae_slicing") as info:
        new_route(device_call=always_oom).fix(render, out, {"family": "cogvideox-v2v", "model": tiny_models["cogvideox"], **TINY, "window": 9}, lambda f: None)
    assert isinstance(info.value, RouteError) and info.value.reason == "out_of_memory"
    assert not os.path.exists(out)


def test_missing_model_folder_fails_before_writing_anything(render, tmp_path):
    missing = tmp_path / "models" / "CogVideoX-5b"
    out = str(tmp_path / "out.mp4")
    with pytest.raises(ModelError, match=f"Model folder {missing} does not exist"):
        new_route().fix(render, out, {"family": "cogvideox-v2v", "model": str(missing), **TINY}, lambda f: None)
    assert not os.path.exists(out)


@pytest.mark.parametrize(
    "params,error,message",
    [
        ({"family": "svd", "noise_aug_strength": 0.1}, ConfigError, "noise_aug_strength: 0.1 is above 0.05"),
        ({"memory_mode": "model_offload"}, ConfigError, "needs a CUDA device"),
        ({"device": "auto"}, RouteError, 'set device = "cpu"'),
        ({"window": 8}, ConfigError, "params.window: 8 frames is not valid"),
        ({"family": "wan-i2v", "pin_last_frame": False}, ConfigError, "first-last-frame checkpoint and needs pin_last_frame"),
        ({"strength": "high"}, ConfigError, "params.strength: expected a number"),
    ],
)
def test_bad_settings_fail_with_clear_errors(params, error, message, tiny_models, render, tmp_path):
    model = tiny_models["wan-i2v" if params.get("family") == "wan-i2v" else "cogvideox"]
    base = {"family": "cogvideox-v2v", "model": model, **TINY, "window": 9}
    route = new_route(has_cuda=lambda: False)
    with pytest.raises(error, match=message):
        route.fix(render, str(tmp_path / "o.mp4"), {**base, **params}, lambda f: None)


def test_registry_builds_a_route_instance():
    from flickerd.routes.registry import get_route

    route = get_route("regenerate")
    assert isinstance(route, RegenerateRoute) and route.name == "regenerate"


class _Frames:
    def __init__(self, frames):
        self.frames = frames


def identity_video(pipe, kwargs):
    """A device call that returns the video it was given: isolates the route's own mapping and windows."""
    import numpy as np

    video = np.stack([np.asarray(im, dtype=np.float32) / 255.0 for im in kwargs["video"]])
    return _Frames(video[None])


def test_frames_come_back_in_place_through_windows_and_cross_fades(tiny_models, tmp_path):
    import numpy as np

    from flickerd.media.reader import iter_frames

    from flickerd.media.writer import VideoWriter

    base = make_render(str(tmp_path / "base.mp4"), frames=24, fps=12)
    src = str(tmp_path / "clip.mp4")
    x = np.arange(40, dtype=np.float32)
    with VideoWriter(src, probe(base)) as w:  # a fast pan: every frame differs clearly from its neighbours
        for t in range(24):
            row = (np.sin((x + 3 * t) / 3.0) * 100 + 128).astype(np.uint8)
            w.write(np.stack([np.tile(row, (32, 1))] * 3, axis=2))
    out = str(tmp_path / "out.mp4")
    params = {**TINY, "family": "wan-v2v", "model": tiny_models["wan"], "width": 40, "height": 32, "model_fps": 12.0,
              "window": 9, "overlap": 3, "assess": False}
    result = new_route(device_call=identity_video).fix(src, out, params, lambda f: None)
    assert len(result.extra["windows"]) >= 3
    def psnr(a, b):
        mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
        return 10 * np.log10(255**2 / max(mse, 1e-6))

    source = [f.image for f in iter_frames(src)]
    output = [f.image for f in iter_frames(out)]
    assert len(output) == len(source) == 24
    for i, frame in enumerate(output):
        same = psnr(frame, source[i])
        neighbour = max(psnr(frame, source[j]) for j in (i - 1, i + 1) if 0 <= j < 24)
        assert same > 25 and same > neighbour + 3, (i, same, neighbour)  # every frame is itself, not a neighbour


def test_prompt_from_container_metadata_is_used(tiny_models, tmp_path):
    sidecar = json.dumps({"prompt": "tagged in the container", "seed": 11})
    src = make_render(str(tmp_path / "clip.mp4"), metadata={"comment": sidecar})
    result = new_route().fix(src, str(tmp_path / "out.mp4"), {"family": "cogvideox-v2v", "model": tiny_models["cogvideox"], **TINY, "window": 9}, lambda f: None)
    assert result.params["prompt"] == "tagged in the container" and result.params["seed"] == 11

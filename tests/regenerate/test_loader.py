"""Model folders: up-front validation with one clear message, offline loading, the pipeline cache."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from flickerd.errors import ModelError
from flickerd.routes.regenerate.families import get_family
from flickerd.routes.regenerate.loader import ModelKey, PipelineCache, load_pipeline, validate_model_dir


@pytest.fixture
def cog_copy(tiny_models, tmp_path):
    target = tmp_path / "CogVideoX-tiny"
    shutil.copytree(tiny_models["cogvideox"], target)
    return target


def test_missing_folder_names_the_expected_path(tmp_path):
    missing = tmp_path / "models" / "CogVideoX-5b"
    with pytest.raises(ModelError, match=f"Model folder {missing} does not exist.*model_index.json"):
        validate_model_dir(missing, get_family("cogvideox-v2v"))


def test_missing_index_names_the_expected_file(tmp_path):
    with pytest.raises(ModelError, match=f"{tmp_path}/model_index.json is missing"):
        validate_model_dir(tmp_path, get_family("wan-v2v"))


def test_every_problem_is_listed_in_one_message(cog_copy):
    for f in (cog_copy / "transformer").glob("*.safetensors"):
        f.unlink()
    (cog_copy / "scheduler" / "scheduler_config.json").unlink()
    shutil.rmtree(cog_copy / "tokenizer")
    with pytest.raises(ModelError) as info:
        validate_model_dir(cog_copy, get_family("cogvideox-v2v"))
    message = str(info.value)
    assert f"{cog_copy}/transformer/ holds no weights file" in message
    assert f"{cog_copy}/scheduler/scheduler_config.json is missing" in message
    assert f"{cog_copy}/tokenizer/ is missing" in message
    assert message.count("Model folder") == 1


def test_a_component_the_pipeline_needs_must_be_listed(cog_copy):
    index = json.loads((cog_copy / "model_index.json").read_text())
    del index["vae"]
    (cog_copy / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ModelError, match="component 'vae' is not listed in model_index.json"):
        validate_model_dir(cog_copy, get_family("cogvideox-v2v"))


def test_sharded_weights_need_every_shard(cog_copy):
    (cog_copy / "vae" / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "diffusion_pytorch_model-00002-of-00002.safetensors"}})
    )
    with pytest.raises(ModelError, match="00002-of-00002.safetensors is missing"):
        validate_model_dir(cog_copy, get_family("cogvideox-v2v"))


def test_wan_loads_with_its_vae_kept_in_float32(tiny_models):
    import torch

    components = validate_model_dir(tiny_models["wan"], get_family("wan-v2v"))
    assert components["vae"] == "AutoencoderKLWan"
    pipe = load_pipeline(tiny_models["wan"], get_family("wan-v2v"), "cpu")
    assert type(pipe).__name__ == "WanVideoToVideoPipeline"  # a T2V folder serves video-to-video
    assert pipe.vae.dtype == torch.float32 and pipe.transformer.dtype == torch.float32  # CPU: float32 throughout
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_cache_keeps_the_last_model_and_unloads_when_idle():
    now = [0.0]
    loads = []

    def loader(key):
        loads.append(key.path)
        return object()

    cache = PipelineCache(loader, idle_s=60, clock=lambda: now[0])
    a, b = ModelKey("a", "wan-v2v", "cpu", "float32"), ModelKey("b", "svd", "cpu", "float32")
    first = cache.get(a).pipe
    now[0] = 30
    assert cache.get(a).pipe is first and loads == ["a"]
    cache.get(b)
    assert cache.current == b and loads == ["a", "b"]
    now[0] = 200
    assert cache.sweep() and cache.current is None
    assert not cache.sweep()
    cache.get(b)
    assert loads == ["a", "b", "b"]


def test_timer_unloads_an_idle_model_without_another_job():
    import time

    cache = PipelineCache(lambda key: object(), idle_s=0.0, timer=True)
    cache.get(ModelKey("a", "svd", "cpu", "float32"))
    deadline = time.monotonic() + 5
    while cache.current is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.current is None
    cache.clear()

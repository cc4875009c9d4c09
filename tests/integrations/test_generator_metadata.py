import json

import av
import numpy as np
from PIL import Image, PngImagePlugin

from flickerd.media import probe
from flickerd.media.generator_metadata import from_parameters_text, from_png, from_tags, from_text_chunks

API_GRAPH = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 123456, "steps": 30, "positive": ["6", 0], "negative": ["7", 0], "model": ["4", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "wan2.1_t2v_1.3B.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox running through snow", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry, flicker", "clip": ["4", 1]}},
}
WORKFLOW = {"last_node_id": 7, "nodes": [{"id": 3, "type": "KSampler"}]}


def test_comfyui_workflow_in_mp4_comment_tag(tmp_path):
    path = str(tmp_path / "render.mp4")
    out = av.open(path, "w")
    out.metadata["comment"] = json.dumps({"prompt": API_GRAPH, "workflow": WORKFLOW})
    v = out.add_stream("libx264", rate=8)
    v.width, v.height, v.pix_fmt = 32, 32, "yuv420p"
    for i in range(4):
        for p in v.encode(av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 40, np.uint8), format="rgb24")):
            out.mux(p)
    for p in v.encode():
        out.mux(p)
    out.close()
    meta = from_tags(probe(path).metadata)
    assert meta is not None and meta.source == "comfyui-tag"
    assert meta.prompt == "a red fox running through snow"
    assert meta.negative_prompt == "blurry, flicker"
    assert meta.seed == 123456 and meta.model == "wan2.1_t2v_1.3B.safetensors"
    assert meta.workflow == WORKFLOW


def test_png_text_chunks_of_a_sequence_frame(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", json.dumps(API_GRAPH))
    info.add_text("workflow", json.dumps(WORKFLOW))
    p = tmp_path / "frame_0001.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(p, pnginfo=info)
    meta = from_png(str(p))
    assert meta.source == "comfyui-png" and meta.seed == 123456 and meta.prompt.startswith("a red fox")


def test_a1111_parameters():
    meta = from_parameters_text("portrait of a cat\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, Seed: 987, Model: sd15")
    assert (meta.prompt, meta.negative_prompt, meta.seed, meta.model) == ("portrait of a cat", "lowres", 987, "sd15")


def test_malformed_and_oversized_metadata_is_ignored():
    assert from_tags({"comment": "{not json"}) is None
    assert from_tags({"comment": "{" + " " * (3 * 1024 * 1024) + "}"}) is None
    assert from_tags({"comment": json.dumps({"prompt": "x" * 10})}) is None
    assert from_text_chunks({"prompt": json.dumps([1, 2, 3])}) is None
    deep = {"prompt": {"1": {"class_type": "KSampler", "inputs": {"seed": True, "positive": ["1", 0]}}}}
    assert from_tags({"comment": json.dumps(deep)}) is None  # a self-loop, a bool seed: nothing usable
    huge = {"prompt": {"1": {"class_type": "CLIPTextEncode", "inputs": {"text": "y" * 100_000}}}}
    assert len(from_tags({"comment": json.dumps(huge)}).prompt) == 4000


def test_regeneration_sidecar_is_filled_from_a_comfyui_tag(tmp_path):
    import pytest

    from flickerd.routes.regenerate.sidecar import SidecarError, read_sidecar

    video = tmp_path / "render.mp4"
    video.write_bytes(b"")
    side = read_sidecar(video, {"comment": json.dumps({"prompt": API_GRAPH, "workflow": WORKFLOW})})
    assert side.prompt == "a red fox running through snow" and side.seed == 123456
    assert side.negative_prompt == "blurry, flicker" and side.model is None  # a checkpoint file is not a model folder
    # a tag that is neither our sidecar nor a workflow is ignored, never fatal
    assert read_sidecar(video, {"comment": json.dumps({"camera": "A7", "iso": 800})}) is None
    # the sidecar file beside the render stays strict
    (tmp_path / "render.json").write_text(json.dumps({"prompt": 5}))
    with pytest.raises(SidecarError):
        read_sidecar(video, {})

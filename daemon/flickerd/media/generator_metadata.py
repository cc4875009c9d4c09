"""What the generator wrote about a render: prompt, negative prompt, seed, model, workflow.

Sources, in the places generators put them:
- ComfyUI's video nodes: the container's ``comment`` (or ``description``) tag holds JSON
  ``{"prompt": <API graph>, "workflow": <UI graph>}``;
- ComfyUI image saves: PNG text chunks ``prompt`` (API graph) and ``workflow``;
- AUTOMATIC1111-style ``parameters`` text: ``PROMPT\\nNegative prompt: …\\nSteps: …, Seed: 42, Model: …``.

Metadata comes from an untrusted folder: anything malformed or oversized is ignored with a
warning (``None`` is returned), never fatal. Pure functions except ``from_png``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

MAX_METADATA_BYTES = 2 * 1024 * 1024
MAX_PROMPT_CHARS = 4000
MAX_NODES = 5000
TAG_KEYS = ("comment", "description", "COMMENT", "DESCRIPTION")
PNG_KEYS = ("prompt", "workflow", "parameters")

# ComfyUI node classes and the input that names the model they load.
MODEL_INPUTS = {
    "CheckpointLoaderSimple": "ckpt_name",
    "CheckpointLoader": "ckpt_name",
    "UNETLoader": "unet_name",
    "ImageOnlyCheckpointLoader": "ckpt_name",
    "DownloadAndLoadCogVideoModel": "model",
    "WanVideoModelLoader": "model",
    "LoadWanVideoT5TextEncoder": None,
}
SAMPLER_CLASSES = ("KSampler", "KSamplerAdvanced", "SamplerCustom", "CogVideoSampler", "WanVideoSampler")
SEED_INPUTS = ("seed", "noise_seed")

log = structlog.get_logger("flickerd.metadata")


@dataclass(frozen=True, slots=True)
class GeneratorMetadata:
    source: str  # "comfyui-tag", "comfyui-png", "a1111"
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    model: str | None = None
    workflow: Mapping[str, Any] | None = None  # the UI graph, kept for the report

    def to_dict(self) -> dict:
        return {
            "source": self.source, "prompt": self.prompt, "negative_prompt": self.negative_prompt,
            "seed": self.seed, "model": self.model, "has_workflow": self.workflow is not None,
        }


def _load_json(text: str, where: str) -> Any:
    if len(text) > MAX_METADATA_BYTES:
        log.warning("metadata_ignored", where=where, why=f"larger than {MAX_METADATA_BYTES} bytes")
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        log.warning("metadata_ignored", where=where, why="not valid JSON")
        return None


def _clip(text: Any) -> str:
    return text[:MAX_PROMPT_CHARS] if isinstance(text, str) else ""


def _seed(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64 else None


def _node_text(graph: Mapping[str, Any], link: Any, depth: int = 0) -> str:
    """Follow a ``[node_id, output]`` link back to the text of a prompt encoder."""
    if depth > 8 or not (isinstance(link, list) and link and isinstance(link[0], (str, int))):
        return ""
    node = graph.get(str(link[0]))
    if not isinstance(node, Mapping):
        return ""
    inputs = node.get("inputs") if isinstance(node.get("inputs"), Mapping) else {}
    for key in ("text", "positive_prompt", "negative_prompt", "prompt"):
        if isinstance(inputs.get(key), str):
            return _clip(inputs[key])
    for key in ("conditioning", "positive", "negative", "text"):  # pass-through nodes
        if isinstance(inputs.get(key), list):
            return _node_text(graph, inputs[key], depth + 1)
    return ""


def from_api_graph(graph: Any, *, source: str, workflow: Any = None) -> GeneratorMetadata | None:
    """Prompt, seed and model from a ComfyUI API-format graph ``{id: {class_type, inputs}}``."""
    if not isinstance(graph, Mapping) or not graph or len(graph) > MAX_NODES:
        return None
    prompt = negative = ""
    seed = model = None
    for node in graph.values():
        if not isinstance(node, Mapping):
            continue
        cls = node.get("class_type")
        inputs = node.get("inputs") if isinstance(node.get("inputs"), Mapping) else {}
        if cls in MODEL_INPUTS and MODEL_INPUTS[cls] and isinstance(inputs.get(MODEL_INPUTS[cls]), str):
            model = model or inputs[MODEL_INPUTS[cls]][:256]
        if cls in SAMPLER_CLASSES or any(k in inputs for k in SEED_INPUTS):
            for key in SEED_INPUTS:
                seed = seed if seed is not None else _seed(inputs.get(key))
            prompt = prompt or _node_text(graph, inputs.get("positive"))
            negative = negative or _node_text(graph, inputs.get("negative"))
            if isinstance(inputs.get("positive_prompt"), str):
                prompt = prompt or _clip(inputs["positive_prompt"])
            if isinstance(inputs.get("negative_prompt"), str):
                negative = negative or _clip(inputs["negative_prompt"])
    if not prompt:  # no sampler links: take the first text encoder
        texts = [_clip(n["inputs"]["text"]) for n in graph.values() if isinstance(n, Mapping)
                 and isinstance(n.get("inputs"), Mapping) and isinstance(n["inputs"].get("text"), str)]
        prompt = texts[0] if texts else ""
    if not (prompt or seed is not None or model):
        return None
    return GeneratorMetadata(source, prompt, negative, seed, model,
                             workflow if isinstance(workflow, Mapping) else None)


_A1111_SEED = re.compile(r"(?:^|,\s*)Seed:\s*(\d+)")
_A1111_MODEL = re.compile(r"(?:^|,\s*)Model:\s*([^,\n]+)")


def from_parameters_text(text: str) -> GeneratorMetadata | None:
    """AUTOMATIC1111-style ``parameters``: prompt, optional negative, then a settings line."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_METADATA_BYTES:
        return None
    lines = text.strip().splitlines()
    settings = lines.pop() if lines and "Steps:" in lines[-1] else ""
    body = "\n".join(lines)
    prompt, _, negative = body.partition("Negative prompt:")
    seed = _A1111_SEED.search(settings)
    model = _A1111_MODEL.search(settings)
    return GeneratorMetadata("a1111", _clip(prompt.strip()), _clip(negative.strip()),
                             _seed(int(seed.group(1))) if seed else None, model.group(1).strip()[:256] if model else None)


def from_tags(tags: Mapping[str, str]) -> GeneratorMetadata | None:
    """From container tags (``MediaInfo.metadata``)."""
    for key in TAG_KEYS:
        text = tags.get(key)
        if not isinstance(text, str) or not text.lstrip().startswith("{"):
            continue
        data = _load_json(text, f"container tag {key}")
        if isinstance(data, Mapping):
            graph = data.get("prompt")
            if isinstance(graph, str):
                graph = _load_json(graph, f"container tag {key}.prompt")
            found = from_api_graph(graph, source="comfyui-tag", workflow=data.get("workflow"))
            if found:
                return found
    return None


def from_text_chunks(chunks: Mapping[str, str]) -> GeneratorMetadata | None:
    """From PNG text chunks (ComfyUI's ``prompt``/``workflow``, or A1111's ``parameters``)."""
    if isinstance(chunks.get("prompt"), str):
        graph = _load_json(chunks["prompt"], "png text prompt")
        workflow = _load_json(chunks["workflow"], "png text workflow") if isinstance(chunks.get("workflow"), str) else None
        found = from_api_graph(graph, source="comfyui-png", workflow=workflow)
        if found:
            return found
    if isinstance(chunks.get("parameters"), str):
        return from_parameters_text(chunks["parameters"])
    return None


def from_png(path: str) -> GeneratorMetadata | None:
    """Read the text chunks of one PNG frame (the first frame of a sequence), through the guard."""
    from PIL import Image, UnidentifiedImageError

    from flickerd.errors import UnsafeInput
    from flickerd.media.guarded import InputKind, open_input

    try:
        with open_input(path, InputKind.FRAME, root=os.path.dirname(path) or ".") as fh, Image.open(fh) as im:
            chunks = {k: v for k, v in (getattr(im, "text", None) or {}).items() if k in PNG_KEYS and isinstance(v, str)}
    except (OSError, UnidentifiedImageError, ValueError, UnsafeInput) as exc:
        log.warning("metadata_ignored", where=path, why=str(exc))
        return None
    return from_text_chunks(chunks)

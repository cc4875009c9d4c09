"""Test support: tiny image sequences with known content, written like renderers write them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, PngImagePlugin

W, H = 64, 48

API_GRAPH = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 123456, "steps": 30, "positive": ["6", 0],
                                                "negative": ["7", 0], "model": ["4", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "wan2.1_t2v_1.3B.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox running through snow", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry, flicker", "clip": ["4", 1]}},
}
WORKFLOW = {"last_node_id": 7, "nodes": [{"id": 3, "type": "KSampler"}]}


def frame(i: int, *, flicker: int = 20, seed: int = 0, size: tuple[int, int] = (W, H), deep: bool = False) -> np.ndarray:
    """RGB frame ``i``: a smooth drifting pattern, brighter on odd frames by ``flicker`` grey levels."""
    y, x = np.mgrid[0:size[1], 0:size[0]].astype(np.float64)
    phase = seed * 0.7 + i * 0.15  # a slow drift: real motion for the flow
    base = np.stack([110 + 50 * np.sin(x / 9 + phase) * np.cos(y / 7),
                     120 + 40 * np.cos(x / 11 - phase),
                     100 + 45 * np.sin(y / 8 + phase)], axis=-1)
    img = np.clip(np.rint(base) + (flicker if i % 2 else -flicker), 0, 255).astype(np.int32)
    if deep:
        return (img * 257 + (i % 7)).astype(np.uint16)  # low bits set: a true 16-bit frame
    return img.astype(np.uint8)


def write_frame(folder: Path, name: str, rgb: np.ndarray, *, pnginfo: PngImagePlugin.PngInfo | None = None) -> Path:
    """Write under a hidden temp name, then rename into place (what careful renderers do)."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    tmp = folder / f".{name}.tmp{final.suffix}"
    if pnginfo is not None:
        Image.fromarray(rgb).save(tmp, format="PNG", pnginfo=pnginfo)
    else:
        assert cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    os.replace(tmp, final)
    return final


def write_sequence(folder: Path, numbers, *, prefix: str = "shot_", ext: str = ".png", deep: bool = False,
                   seed: int = 0, fps: float | None = None, suffix: str = "") -> list[Path]:
    paths = [write_frame(folder, f"{prefix}{n:04d}{suffix}{ext}", frame(n, seed=seed, deep=deep)) for n in numbers]
    if fps is not None:
        (folder / "_sequence.json").write_text(json.dumps({"fps": fps}))
    return paths


def comfy_chunks() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", json.dumps(API_GRAPH))
    info.add_text("workflow", json.dumps(WORKFLOW))
    return info


def snapshot_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}

"""Tiny clips from the shared synthetic corpus with their clean ground truth, read back as RGB frames."""

from __future__ import annotations

import os

import numpy as np

from flickerd.media import iter_frames
from flickerd.synth import corpus


def pair(tmp: str | os.PathLike, kind: str, *, seed: int = 0, scene: str = "auto", width: int = 128,
         height: int = 80, frames: int = 16) -> tuple[str, str]:
    """(flickering clip, clean clip) paths for one corpus spec."""
    spec = corpus.ClipSpec(seed=seed, kind=kind, width=width, height=height, frames=frames, scene=scene)
    src = corpus.write_clip(spec, os.path.join(tmp, f"{spec.name}.mp4"))
    clean = corpus.write_clip(spec, os.path.join(tmp, f"{spec.name}.clean.mp4"), clean=True)
    return src, clean


def load(path: str) -> list[np.ndarray]:
    return [f.image for f in iter_frames(path)]


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """PSNR over a whole clip (mean squared error pooled over frames)."""
    mse = np.mean([np.mean((x.astype(np.float32) - y.astype(np.float32)) ** 2) for x, y in zip(a, b)])
    return float(10 * np.log10(255.0**2 / max(float(mse), 1e-9)))

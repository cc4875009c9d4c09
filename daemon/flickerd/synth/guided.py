"""Test material for guided consistency: a stable source, a restyled truth, a jittered render.

A video-to-video restyle, an AI upscale or a per-frame image edit starts from a source video
that is temporally consistent. To have a truth, the source is a real render (the *guide*), the
truth is that render under one fixed per-clip stylisation (``STYLES``: a colour grade plus
sharpening, a posterise, or a painterly filter — the same for every frame), and the processed
input is the truth with a per-frame jitter (``JITTERS``: a random sharpening amount,
re-quantisation, grading jitter, or the project's texture injector). A fix that copies the
guide scores badly against the truth: the style is not in the guide.

``GuidedCase`` fully determines a clip: same render, same case, same pixels.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from flickerd.synth import inject

STYLES = ("grade_sharpen", "posterize", "painterly")
JITTERS = ("sharpen", "requantize", "grade", "texture")
SHARPEN_SIGMA = 1.5  # px: the unsharp mask's radius, in the style and in the jitter
SHARPEN_JITTER = 0.8  # ± extra unsharp amount per frame at strength 1 (negative: softer)
QUANT_STEPS = (6.0, 20.0)  # grey levels: the re-quantisation step drawn per frame at strength 1
GRADE_GAIN = 0.05  # ± gain per channel per frame at strength 1
GRADE_OFFSET = 5.0  # ± grey levels per channel per frame at strength 1

Stylise = Callable[[np.ndarray], np.ndarray]
Jitter = Callable[[np.ndarray, int], np.ndarray]


@dataclass(frozen=True, slots=True)
class GuidedCase:
    source: str  # file name of the render (the guide)
    style: str  # one of STYLES
    jitter: str  # one of JITTERS
    strength: float = 1.0
    seed: int = 0

    @property
    def name(self) -> str:
        stem = os.path.splitext(self.source)[0]
        return f"{stem}.guided-{self.style}-{self.jitter}-{self.strength:g}-s{self.seed}"

    def rng(self, part: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, 29, STYLES.index(self.style), JITTERS.index(self.jitter), part])


def case_for(source: str, index: int, seed: int = 0, strength: float = 1.0) -> GuidedCase:
    """The ``index``-th render's case: styles and jitters cycle so every pairing occurs over 12 renders."""
    return GuidedCase(source, STYLES[index % len(STYLES)], JITTERS[index % len(JITTERS)], strength, seed)


def _grade(rng: np.random.Generator) -> Stylise:
    gain = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    gamma = float(rng.uniform(0.8, 1.25))
    lift = rng.uniform(-10, 10, 3).astype(np.float32)
    sat = float(rng.uniform(0.7, 1.4))
    y = np.float32([0.299, 0.587, 0.114])

    def apply(img: np.ndarray) -> np.ndarray:
        x = 255.0 * np.power(np.clip(img / 255.0, 0, 1), gamma) * gain + lift
        grey = (x @ y)[..., None]
        return grey + sat * (x - grey)

    return apply


def _unsharp(img: np.ndarray, amount: float) -> np.ndarray:
    return img + amount * (img - cv2.GaussianBlur(img, (0, 0), SHARPEN_SIGMA))


def stylisation(case: GuidedCase) -> Stylise:
    """The case's fixed stylisation, float RGB in, float RGB out (unclipped)."""
    rng = case.rng(0)
    grade = _grade(rng)
    if case.style == "grade_sharpen":
        amount = float(rng.uniform(0.5, 1.5))
        return lambda img: _unsharp(grade(img), amount)
    if case.style == "posterize":
        step = float(rng.uniform(16, 32))
        return lambda img: np.floor(np.clip(grade(img), 0, 255) / step) * step + step / 2
    if case.style == "painterly":
        sigma_color = float(rng.uniform(30, 60))
        step = float(rng.uniform(8, 16))

        def paint(img: np.ndarray) -> np.ndarray:
            x = np.clip(grade(img), 0, 255).astype(np.float32)
            for _ in range(2):
                x = cv2.bilateralFilter(x, 7, sigma_color, 5)
            return np.floor(x / step) * step + step / 2

        return paint
    raise ValueError(f"unknown style {case.style!r}; known: {', '.join(STYLES)}")


def _signs(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice([-1.0, 1.0], n) * rng.uniform(0.4, 1.0, n)


def jitter(case: GuidedCase, frames: int) -> Jitter:
    """The case's per-frame jitter: ``apply(truth_float_rgb, t) -> processed`` (unclipped)."""
    rng = case.rng(1)
    s = case.strength
    if case.jitter == "sharpen":
        amount = s * SHARPEN_JITTER * _signs(rng, frames)
        return lambda img, t: _unsharp(img, float(amount[t]))
    if case.jitter == "requantize":
        lo, hi = QUANT_STEPS
        step = np.maximum(1.0, s * rng.uniform(lo, hi, frames))
        offset = rng.uniform(0, 1, frames) * step
        # floor to a grid shifted per frame, then back to the step's centre: unbiased over frames
        return lambda img, t: np.floor((img + offset[t]) / step[t]) * step[t] + step[t] / 2 - offset[t]
    if case.jitter == "grade":
        gain = 1.0 + s * GRADE_GAIN * _signs(rng, frames)[:, None] * rng.uniform(0.6, 1.0, (frames, 3))
        offset = s * GRADE_OFFSET * rng.uniform(-1, 1, (frames, 3))
        gain, offset = gain.astype(np.float32), offset.astype(np.float32)
        return lambda img, t: img * gain[t] + offset[t]
    if case.jitter == "texture":
        return inject.texture(rng, frames, s)
    raise ValueError(f"unknown jitter {case.jitter!r}; known: {', '.join(JITTERS)}")


def _u8(img: np.ndarray) -> np.ndarray:
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def truth(case: GuidedCase, guide: Sequence[np.ndarray]) -> Iterator[np.ndarray]:
    """The truth's frames (RGB uint8): every guide frame under the one stylisation."""
    style = stylisation(case)
    for img in guide:
        yield _u8(style(img.astype(np.float32)))


def processed(case: GuidedCase, guide: Sequence[np.ndarray]) -> Iterator[np.ndarray]:
    """The processed input's frames (RGB uint8): the truth with the per-frame jitter."""
    jit = jitter(case, len(guide))
    for t, img in enumerate(truth(case, guide)):
        yield _u8(jit(img.astype(np.float32), t))

"""Generative-style flicker injected into clean frames, in image space.

Each injector is built once per clip (it draws its random parameters from the clip's
generator) and then called per frame: ``inj(frame_float_rgb, t) -> frame``. They work on
any footage, so benchmarks also use them on real clips. ``strength`` 1.0 is clearly
visible flicker; 0.3 is subtle.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Injector = Callable[[np.ndarray, int], np.ndarray]

LUMA_GAIN = 0.05  # ± fraction of brightness per frame at strength 1
CHROMA_SHIFT = 6.0  # ± grey levels per channel at strength 1
BREATH_LEVELS = 14.0  # ± grey levels of the breathing region at strength 1
BREATH_CONTRAST = 0.2
TEXTURE_SIGMA = 1.0  # the scale (px) of the detail that is regenerated

_Y = np.array([0.299, 0.587, 0.114], np.float32)


def _signs(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random per-frame values in ±[0.4, 1]: always a visible jump, never a smooth drift."""
    return rng.choice([-1.0, 1.0], n) * rng.uniform(0.4, 1.0, n)


def luma(rng: np.random.Generator, frames: int, strength: float) -> Injector:
    gain = 1.0 + strength * LUMA_GAIN * _signs(rng, frames)

    def apply(img: np.ndarray, t: int) -> np.ndarray:
        return img * gain[t]

    return apply


def chroma(rng: np.random.Generator, frames: int, strength: float) -> Injector:
    shift = strength * CHROMA_SHIFT * rng.uniform(-1, 1, (frames, 3)).astype(np.float32)
    shift += strength * CHROMA_SHIFT * 0.5 * _signs(rng, frames)[:, None] * np.array([1, -0.5, -1], np.float32)
    shift -= (shift @ _Y)[:, None]  # a colour cast, not a brightness change

    def apply(img: np.ndarray, t: int) -> np.ndarray:
        return img + shift[t]

    return apply


def texture(rng: np.random.Generator, frames: int, strength: float) -> Injector:
    """Fine detail re-sampled every frame while the coarse structure stays."""
    mix = min(1.0, 0.85 * strength)
    seeds = rng.integers(0, 2**31, frames)

    def apply(img: np.ndarray, t: int) -> np.ndarray:
        low = cv2.GaussianBlur(img, (0, 0), TEXTURE_SIGMA)
        detail = img - low
        amp = np.sqrt(cv2.GaussianBlur(detail**2, (0, 0), 3.0))
        r = np.random.default_rng(int(seeds[t]))
        noise = r.standard_normal(img.shape[:2]).astype(np.float32)
        noise = noise - cv2.GaussianBlur(noise, (0, 0), TEXTURE_SIGMA)
        noise /= noise.std() + 1e-6
        new = noise[..., None] * amp * np.sqrt(2.0)
        return img + mix * (new - detail)

    return apply


def breathing(rng: np.random.Generator, frames: int, strength: float, width: int, height: int) -> Injector:
    """One soft region whose brightness and contrast oscillate."""
    cx, cy = rng.uniform(0.25, 0.75) * width, rng.uniform(0.25, 0.75) * height
    radius = rng.uniform(0.18, 0.3) * min(width, height) * 1.5
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    mask = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (radius / 1.6) ** 2))[..., None]
    period = rng.uniform(2.5, 5.0)
    phase = rng.uniform(0, 2 * np.pi)
    wave = np.sin(2 * np.pi * np.arange(frames) / period + phase) * 0.7 + 0.3 * _signs(rng, frames)
    level = strength * BREATH_LEVELS * wave
    contrast = 1.0 + strength * BREATH_CONTRAST * wave

    def apply(img: np.ndarray, t: int) -> np.ndarray:
        mean = cv2.GaussianBlur(img, (0, 0), radius / 2)
        return img + mask * ((img - mean) * (contrast[t] - 1.0) + level[t])

    return apply


BANDING_STEP = 10.0  # grey levels per band at strength 1


def posterize(img: np.ndarray, strength: float) -> np.ndarray:
    """Quantisation banding: smooth areas collapse into flat steps; detailed areas keep their detail."""
    step = max(2.0, BANDING_STEP * strength)
    low = cv2.GaussianBlur(img, (0, 0), 2.0)
    detail = img - low
    smooth = np.sqrt(cv2.GaussianBlur((detail**2).mean(-1), (0, 0), 4.0)) < 4.0
    quant = np.floor(low / step) * step + step / 2
    return np.where(smooth[..., None], quant, img)


IDENTITY_AREA = 0.15  # fraction of the frame the changing object covers at strength 1
IDENTITY_SPAN = 6  # frames a swapped object stays swapped, or a morph takes


class IdentityChange:
    """An object-sized region changes identity without a cut: the ground truth of incoherence.

    The region's content becomes another video's (``donor(t)``: float RGB frames of the same
    size), either swapped in for ``IDENTITY_SPAN`` frames and back (``mode`` "swap"), or
    cross-faded into it over that many frames and kept ("morph"). The donor moves as its own
    video does, so what appears is coherent content of another identity, not noise.
    ``frames`` is the range [start, end) where the change happens.
    """

    MODES = ("swap", "morph")

    def __init__(self, rng: np.random.Generator, frames: int, strength: float, width: int, height: int,
                 donor: Callable[[int], np.ndarray], mode: str = "swap") -> None:
        if mode not in self.MODES:
            raise ValueError(f"identity change mode must be one of {self.MODES}, got {mode!r}")
        area = IDENTITY_AREA * (0.4 + 0.6 * strength)
        aspect = rng.uniform(0.6, 1.6)
        ax = np.sqrt(area * width * height / np.pi * aspect)
        ay = area * width * height / (np.pi * ax)
        cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        inside = (((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2 <= 1).astype(np.float32)
        self.mask = cv2.GaussianBlur(inside, (0, 0), max(1.0, 0.08 * min(ax, ay)))[..., None]
        span = max(2, min(IDENTITY_SPAN, frames // 4))
        start = int(rng.integers(max(1, frames // 4), max(2, frames // 2)))
        self.mode = mode
        self.alpha = np.zeros(frames, np.float32)
        if self.mode == "morph":
            self.alpha[start:] = np.clip((np.arange(start, frames) - start + 1) / span, 0, 1)
        else:
            self.alpha[start:start + span] = 1.0
        self.frames = (start, min(frames, start + span + (self.mode == "swap")))
        self.donor = donor

    def __call__(self, img: np.ndarray, t: int) -> np.ndarray:
        if self.alpha[t] == 0:
            return img
        return img + self.alpha[t] * self.mask * (self.donor(t) - img)


LIGHT_GAIN = 0.9  # the lit region's gain at strength 1 (and LIGHT_OFFSET grey levels, warm), at its centre
LIGHT_OFFSET = (60.0, 45.0, 20.0)
LIGHT_SPAN = 6  # frames the light takes to come on (and to go off again)


def light_change(rng: np.random.Generator, frames: int, strength: float, width: int, height: int) -> Injector:
    """A region lit up without any change of identity (a lamp coming on, an aurora brightening):
    the picture that is there gains ``LIGHT_GAIN`` and a warm offset, falling off smoothly from the
    light's centre, over ``LIGHT_SPAN`` frames, and dims again as slowly. Not incoherence: the
    ground truth the cross-fade look must not take for a fade (its steps are as steady)."""
    area = 1.5 * IDENTITY_AREA * (0.4 + 0.6 * strength)
    aspect = rng.uniform(0.6, 1.6)
    ax = np.sqrt(area * width * height / np.pi * aspect)
    ay = area * width * height / (np.pi * ax)
    cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    light = np.exp(-1.5 * (((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2))[..., None]
    start = int(rng.integers(max(1, frames // 4), max(2, frames // 2)))
    t = np.arange(frames)
    level = np.clip(np.minimum(t - start + 1, start + 2 * LIGHT_SPAN - t) / LIGHT_SPAN, 0, 1).astype(np.float32)
    gain, offset = LIGHT_GAIN * strength * light, np.float32(LIGHT_OFFSET) * strength * light

    def inject(img: np.ndarray, t: int) -> np.ndarray:
        return img * (1 + level[t] * gain) + level[t] * offset

    return inject

"""Procedural scenes with real structure and real motion, rendered one frame at a time.

A scene is a textured world (smooth gradient, low-frequency colour noise, flat shapes and
fine detail that is absent in "sky" regions) seen by a camera that pans and zooms, with
textured objects moving over it and an optional slow exposure ramp (which is not flicker).
``incoherent`` scenes add one large object whose identity is replaced every few frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SCENES = ("pan", "zoom", "static", "objects", "ramp")
# The world is larger than the frame so the camera can pan without leaving it.
WORLD_MARGIN = 1.7
FINE_AMPLITUDE = 14.0  # grey levels of the fine detail layer


def _smooth_noise(rng: np.random.Generator, h: int, w: int, sigma: float, channels: int = 1) -> np.ndarray:
    noise = rng.standard_normal((h, w, channels)).astype(np.float32)
    out = cv2.GaussianBlur(noise, (0, 0), sigma)
    if out.ndim == 2:
        out = out[..., None]
    out /= out.std() + 1e-6
    return out


def _gradient(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (np.cos(angle) * xx / w + np.sin(angle) * yy / h)
    t = (t - t.min()) / (np.ptp(t) + 1e-6)
    a, b = rng.uniform(30, 225, 3), rng.uniform(30, 225, 3)
    return (a[None, None] * (1 - t[..., None]) + b[None, None] * t[..., None]).astype(np.float32)


@dataclass(slots=True)
class _Sprite:
    rgb: np.ndarray  # h x w x 3 float32
    alpha: np.ndarray  # h x w float32 in [0, 1]
    x: float  # centre in world coordinates
    y: float
    vx: float
    vy: float


def _sprite(rng: np.random.Generator, size: int, x: float, y: float, speed: float) -> _Sprite:
    size = max(8, size)
    h = size
    w = int(size * rng.uniform(0.7, 1.5))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    nx, ny = (xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)
    if rng.random() < 0.5:
        d = np.sqrt(nx**2 + ny**2)  # ellipse
    else:
        d = np.maximum(np.abs(nx), np.abs(ny))  # rectangle
    alpha = np.clip((1.0 - d) * size / 3.0, 0, 1).astype(np.float32)
    base = rng.uniform(20, 235, 3).astype(np.float32)
    mid = _smooth_noise(rng, h, w, max(1.5, size / 8), 3) * rng.uniform(10, 30)
    fine = _smooth_noise(rng, h, w, 0.7, 1) * FINE_AMPLITUDE
    rgb = np.clip(base[None, None] + mid + fine, 0, 255)
    angle = rng.uniform(0, 2 * np.pi)
    return _Sprite(rgb, alpha, x, y, speed * np.cos(angle), speed * np.sin(angle))


class Scene:
    """Renders frame ``t`` of one shot: ``Scene(rng, w, h, kind).render(t)`` → HxWx3 float32 RGB."""

    def __init__(self, rng: np.random.Generator, width: int, height: int, kind: str, frames: int,
                 incoherent: float = 0.0, sky: float = 0.0) -> None:
        self.w, self.h, self.frames = width, height, frames
        ww, wh = int(width * WORLD_MARGIN), int(height * WORLD_MARGIN)
        world = _gradient(rng, wh, ww)
        world += _smooth_noise(rng, wh, ww, max(wh, ww) / 10, 3) * rng.uniform(8, 20)
        for _ in range(int(rng.integers(2, 6))):  # flat shapes give edges to track
            c = tuple(float(v) for v in rng.uniform(20, 235, 3))
            p = (int(rng.integers(0, ww)), int(rng.integers(0, wh)))
            r = int(rng.integers(min(wh, ww) // 12, min(wh, ww) // 5))
            if rng.random() < 0.5:
                cv2.circle(world, p, r, c, -1, cv2.LINE_AA)
            else:
                cv2.rectangle(world, p, (p[0] + r, p[1] + int(r * rng.uniform(0.5, 2))), c, -1, cv2.LINE_AA)
        # Fine detail everywhere except in smooth "sky" areas, where banding would show.
        detail = np.clip(_smooth_noise(rng, wh, ww, max(wh, ww) / 8)[..., 0] * 1.5 + 0.6, 0, 1)
        if sky > 0:  # a smooth sky over the top part of the world
            yy = np.linspace(0, 1, wh, dtype=np.float32)[:, None]
            detail *= np.clip((yy - 0.55 * sky) * 8, 0, 1)
        world += (_smooth_noise(rng, wh, ww, 0.7)[..., 0] * FINE_AMPLITUDE * detail)[..., None]
        self.world = world
        self.cx, self.cy = ww / 2, wh / 2
        self.vx = self.vy = 0.0
        self.zoom_rate = 0.0
        self.ramp = 0.0
        if kind == "pan":
            speed = rng.uniform(0.6, 2.0) * width / 160
            a = rng.uniform(0, 2 * np.pi)
            self.vx, self.vy = speed * np.cos(a), speed * np.sin(a) * 0.5
        elif kind == "zoom":
            self.zoom_rate = rng.choice([-1, 1]) * rng.uniform(0.004, 0.012)
        elif kind == "ramp":
            self.ramp = rng.choice([-1, 1]) * rng.uniform(0.12, 0.3)  # exposure change over the shot
            self.vx = rng.uniform(-0.5, 0.5)
        n_obj = int(rng.integers(1, 4)) if kind != "static" else int(rng.integers(0, 2))
        speed = 0.0 if kind == "static" else rng.uniform(0.5, 2.0) * width / 160
        self.sprites = [
            _sprite(rng, int(height * rng.uniform(0.2, 0.4)), rng.uniform(0.3, 0.7) * ww,
                    rng.uniform(0.3, 0.7) * wh, speed)
            for _ in range(n_obj)
        ]
        # Incoherence: a large object whose texture, shape and colour change wholesale.
        self.identities: list[_Sprite] = []
        if incoherent > 0:
            size = int(height * (0.55 + 0.2 * min(incoherent, 1.5)))
            self.period = int(rng.integers(2, 4))
            x, y = self.cx + rng.uniform(-0.1, 0.1) * width, self.cy + rng.uniform(-0.1, 0.1) * height
            self.identities = [_sprite(rng, size, x, y, 0.3) for _ in range(frames // self.period + 2)]

    def _camera(self, t: int) -> np.ndarray:
        """2x3 matrix from frame to world coordinates."""
        z = (1.0 + self.zoom_rate) ** t
        cx, cy = self.cx + self.vx * t, self.cy + self.vy * t
        return np.array([[1 / z, 0, cx - self.w / (2 * z)], [0, 1 / z, cy - self.h / (2 * z)]], np.float32)

    def _paste(self, img: np.ndarray, s: _Sprite, t: int, cam: np.ndarray) -> None:
        # world position of the sprite's top-left, then mapped through the inverse camera
        wx, wy = s.x + s.vx * t - s.rgb.shape[1] / 2, s.y + s.vy * t - s.rgb.shape[0] / 2
        z = 1.0 / cam[0, 0]
        m = np.array([[z, 0, (wx - cam[0, 2]) * z], [0, z, (wy - cam[1, 2]) * z]], np.float32)
        rgb = cv2.warpAffine(s.rgb, m, (self.w, self.h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        a = cv2.warpAffine(s.alpha, m, (self.w, self.h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        img *= 1 - a[..., None]
        img += rgb * a[..., None]

    def render(self, t: int) -> np.ndarray:
        cam = self._camera(t)
        img = cv2.warpAffine(self.world, cam, (self.w, self.h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REFLECT)
        for s in self.sprites:
            self._paste(img, s, t, cam)
        if self.identities:
            self._paste(img, self.identities[t // self.period], t, cam)
        if self.ramp:
            img *= 1.0 + self.ramp * t / max(1, self.frames - 1)
        return img

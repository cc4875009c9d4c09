"""Variants of a real render: flicker injected, codec damage, an identity change, fast camera motion.

The render as decoded (capped in length and size) is the ground truth of every variant made
from it. ``Variant`` fully determines a clip: same render, same variant, same pixels. The
real-render bench (``python -m bench real_renders``) and the tests that use real renders build
their clips here; neither copies a render anywhere but into its own temporary clips.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from flickerd.synth import codec_forms, inject
from flickerd.synth.corpus import HIGH_CRF, NORMAL_CRF, injector

FLICKER = ("luma", "chroma", "texture", "breathing")  # generative flicker kinds
INJECTED = (*FLICKER, "codec", "identity")
MOTION = ("pan", "zoom", "skip")  # fast motion made from the render itself: still one coherent shot
EXPECTED = {**{k: "generative_flicker" for k in FLICKER}, "codec": "codec_artifacts", "identity": "incoherent",
            **{k: "codec_artifacts" for k in codec_forms.FORMS}}  # the forms: a stress set, not INJECTED
PAN_SPEEDS = (20, 40, 60)  # px/frame of the crop window, in the render's pixels
ZOOM_RATES = (0.02, 0.04)  # fractional change of the crop's size per frame
SKIP = 3  # every n-th frame: the render's own motion, n times faster
# harsher than the bench's own (``bench real_renders --harsh``): every 4th or 6th frame ("fastskip",
# strength = n), and a pan of every 3rd frame ("panskip", strength = px/frame)
HARSH_MOTION = {"fastskip": (4, 6), "panskip": (30,)}
# a larger stress set (``bench real_renders --stress``), seeded kinds at every seed: pans, zooms in and out,
# every k-th frame, every k-th frame shown twice ("dup": a 24 -> 30 fps conversion is k = 4), a pan of every 3rd
# frame, and a hand-held crop ("shake", strength = the jitter's px/frame)
STRESS_MOTION = {"pan": (20, 30, 40, 50, 60), "zoom": (0.02, 0.04, 0.06), "fastskip": (2, 4, 5, 6), "dup": (2, 4),
                 "panskip": (20, 30, 40), "shake": (8, 16)}
SEEDED_MOTION = ("pan", "panskip", "shake")  # kinds whose seed changes the clip (a pan's direction, a hand's path)
CROP = 0.6  # the moving crop window's side, as a fraction of the render's


@dataclass(frozen=True, slots=True)
class Variant:
    source: str  # file name of the render
    kind: str  # "asis", one of INJECTED, MOTION, HARSH_MOTION or codec_forms.FORMS
    strength: float = 1.0  # injected kinds; for "pan" px/frame, for "zoom" size change per frame
    seed: int = 0

    @property
    def name(self) -> str:
        stem = os.path.splitext(self.source)[0]
        if self.kind == "asis":
            return f"{stem}.asis"
        return f"{stem}.{self.kind}-{self.strength:g}-s{self.seed}"

    @property
    def expected(self) -> str | None:
        """The correct verdict of an injected variant (None: the render's own, unknown)."""
        return EXPECTED.get(self.kind)

    @property
    def identity_mode(self) -> str:
        """The identity kind's change: even seeds swap the object in and out, odd seeds cross-fade it."""
        return inject.IdentityChange.MODES[self.seed % 2]

    @property
    def crf(self) -> int:
        """x264 CRF of the clip. The codec kind at strength 1 is the synthetic corpus's CRF 45; each
        halving of the strength doubles the bits (x264: about -6 CRF), so 0.5 is CRF 39. Halving
        the CRF distance instead would give CRF 30, an ordinary web encode rather than damage."""
        if self.kind == "codec":
            return int(round(HIGH_CRF + 6 * math.log2(max(self.strength, 1 / 64))))
        return NORMAL_CRF


def frame_step(v: Variant) -> int:
    """How many of the render's frames make one of the variant's."""
    return {"skip": SKIP, "panskip": SKIP, "fastskip": int(v.strength)}.get(v.kind, 1)


def load(path: str | os.PathLike, max_frames: int, max_side: int) -> tuple[list[np.ndarray], float]:
    """The first ``max_frames`` frames (RGB uint8, even sides, longest side ≤ ``max_side``) and the fps."""
    from flickerd.media import iter_frames, probe

    info = probe(path)
    scale = min(1.0, max_side / max(info.width, info.height))
    frames = [np.ascontiguousarray(f.image) for f in iter_frames(path, scale=scale, max_frames=max_frames)]
    h, w = frames[0].shape[:2]
    frames = [f[: h - h % 2, : w - w % 2] for f in frames]
    return frames, float(info.fps or 25.0)


def frames(v: Variant, render: Sequence[np.ndarray], donor: Sequence[np.ndarray] | None = None) -> Iterator[np.ndarray]:
    """The variant's frames (RGB uint8), made from the render's ``render`` frames.

    ``donor``: another render's frames, the new identity of the "identity" kind.
    """
    n = len(render)
    h, w = render[0].shape[:2]
    rng = np.random.default_rng([v.seed, 17, INJECTED.index(v.kind) if v.kind in INJECTED else 99])
    if v.kind in ("asis", "codec", *codec_forms.FORMS):  # the damage is the encode's (``encode_variant``)
        yield from render
    elif v.kind in FLICKER:
        inj = injector(v.kind, rng, n, v.strength, w, h)
        for t, img in enumerate(render):
            yield _u8(inj(img.astype(np.float32), t))
    elif v.kind == "identity":
        if donor is None:
            raise ValueError("the identity kind needs a donor render")
        inj = identity(rng, v.strength, render, donor, v.identity_mode)
        for t, img in enumerate(render):
            yield _u8(inj(img.astype(np.float32), t))
    elif v.kind == "pan":
        yield from _pan(render, v.strength, rng)
    elif v.kind == "zoom":
        yield from _zoom(render, v.strength)
    elif v.kind in ("skip", "fastskip"):
        yield from render[:: frame_step(v)]
    elif v.kind == "panskip":
        yield from _pan(render[:: frame_step(v)], v.strength, rng)
    elif v.kind == "dup":
        k = int(v.strength)
        for t, img in enumerate(render):
            yield img
            if t % k == k - 1:
                yield img
    elif v.kind == "shake":
        yield from _shake(render, v.strength, rng)
    else:
        raise ValueError(f"unknown variant kind {v.kind!r}")


def identity(rng: np.random.Generator, strength: float, render: Sequence[np.ndarray],
             donor: Sequence[np.ndarray], mode: str = "swap") -> inject.IdentityChange:
    """The identity-change injector with ``donor``'s frames resized onto the render's."""
    h, w = render[0].shape[:2]

    def donor_frame(t: int) -> np.ndarray:
        d = donor[min(t, len(donor) - 1)]
        return cv2.resize(d, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)

    return inject.IdentityChange(rng, len(render), strength, w, h, donor_frame, mode)


def _u8(img: np.ndarray) -> np.ndarray:
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _crop_size(h: int, w: int) -> tuple[int, int]:
    ch, cw = int(h * CROP), int(w * CROP)
    return ch - ch % 2, cw - cw % 2


def _pan(render: Sequence[np.ndarray], speed: float, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """A crop window moving ``speed`` px/frame, bouncing off the frame's edges (a fast camera pan)."""
    h, w = render[0].shape[:2]
    ch, cw = _crop_size(h, w)
    angle = rng.uniform(-0.35, 0.35) + (np.pi if rng.random() < 0.5 else 0.0)  # mostly horizontal
    vx, vy = speed * np.cos(angle), speed * np.sin(angle)
    x, y = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
    for img in render:
        yield np.ascontiguousarray(img[int(y): int(y) + ch, int(x): int(x) + cw])
        x, vx = _bounce(x + vx, vx, w - cw)
        y, vy = _bounce(y + vy, vy, h - ch)


def _bounce(pos: float, velocity: float, limit: float) -> tuple[float, float]:
    if pos < 0:
        return -pos, -velocity
    if pos > limit:
        return 2 * limit - pos, -velocity
    return pos, velocity


def _shake(render: Sequence[np.ndarray], jitter: float, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """A hand-held crop: the window's centre and angle wander (a damped random walk, ``jitter`` px and
    0.5 degree per frame), within the frame."""
    h, w = render[0].shape[:2]
    ch, cw = _crop_size(h, w)
    room = np.array([(w - cw) / 2, (h - ch) / 2]) * 0.8
    p, angle = np.zeros(2), 0.0
    for img in render:
        p = np.clip(0.8 * p + rng.normal(0, jitter, 2), -room, room)
        angle = 0.8 * angle + rng.normal(0, 0.5)
        m = cv2.getRotationMatrix2D((w / 2 + p[0], h / 2 + p[1]), angle, 1.0)
        m[:, 2] -= (w / 2 + p[0] - cw / 2, h / 2 + p[1] - ch / 2)  # the window's corner to the origin
        yield cv2.warpAffine(img, m, (cw, ch), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _zoom(render: Sequence[np.ndarray], rate: float) -> Iterator[np.ndarray]:
    """A centred crop shrinking (zoom in) then growing (zoom out) by ``rate`` per frame, shown at a fixed size."""
    h, w = render[0].shape[:2]
    ch, cw = _crop_size(h, w)
    size, direction = 1.0, -1
    for img in render:
        sh, sw = max(16, int(h * size)), max(16, int(w * size))
        y0, x0 = (h - sh) // 2, (w - sw) // 2
        yield cv2.resize(img[y0:y0 + sh, x0:x0 + sw], (cw, ch), interpolation=cv2.INTER_AREA)
        size *= 1 + direction * rate
        if size < 0.5 or size > 1.0:
            direction = -direction
            size = min(1.0, max(0.5, size))


def encode_variant(v: Variant, images, path: str | os.PathLike, fps: float = 25.0) -> str:
    """The variant's clip at ``path``: its frames through the committed encode, or a codec form's."""
    if v.kind in codec_forms.FORMS:
        return codec_forms.encode(v.kind, v.strength, list(images), path, fps)
    return encode(images, path, v.crf, fps)


def encode(images, path: str | os.PathLike, crf: int = NORMAL_CRF, fps: float = 25.0, threads: int = 0) -> str:
    """Encode RGB uint8 frames to H.264 (yuv420p, preset medium) at ``path``; returns the path.
    ``threads``: x264's (0: its own choice; 1 makes the bitstream the same on every run)."""
    # reproducible: the same frames give the same clip (media.writer.x264_params)
    return codec_forms.write_video(images, path, "libx264",
                                   {"crf": str(crf), "preset": "medium", "threads": str(threads)}, fps)

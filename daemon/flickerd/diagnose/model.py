"""What a diagnosis says: the verdict, its confidence, the scores and the per-frame timeline.

These frozen records are the contract between ``diagnose`` and everything after it
(rules, verification, reports, the journal). ``to_json`` gives the documented schema 5
(3: ``texture_flicker`` is read off the block grid on blocky clips, ``texture_flicker_all`` added,
``local_flicker`` counts a cell's step only where a neighbouring cell steps with it; 4:
``local_flicker``'s cells are the median of their pixels' residuals, not the flow-trusted mean;
5: ``texture_excess`` added; it counts towards generative flicker only with ``texture_excess_threshold`` set).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

SCHEMA_VERSION = 5


def json_float(v: float) -> float:
    """``v`` as reports store it: 6 decimals, and 6 significant digits below 1, so a warping error
    (1e-5 to 1e-2 on real renders) keeps the digits the log line shows (0.0007038, not 0.000704)."""
    return round(v, 6) if not math.isfinite(v) or abs(v) >= 1 else float(f"{v:.6g}")


class Verdict(str, Enum):
    CLEAN = "clean"
    GENERATIVE_FLICKER = "generative_flicker"
    CODEC_ARTIFACTS = "codec_artifacts"
    MIXED = "mixed"
    INCOHERENT = "incoherent"


@dataclass(frozen=True, slots=True)
class FramePoint:
    """Per-frame measures; a pair measure (t-1 → t) is stored on frame t, NaN/None where not measured."""

    index: int
    time_s: float
    warp_error: float | None = None  # flow-compensated error vs the previous frame, RGB in [0,1]²
    luma: float | None = None  # mean Y of the frame, [0,255]
    luma_flicker: float | None = None  # |Y_t − (Y_{t−1}+Y_{t+1})/2|
    chroma_flicker: float | None = None
    local_flicker: float | None = None
    texture_flicker: float | None = None  # high-pass residual / high-pass detail of the pair (≈1: re-drawn), off the block grid on a blocky clip
    incoherence: float | None = None  # the pair's replaced area above its neighbours', frame fraction
    mean_diff: float | None = None  # the seed's baseline |F_t − F_{t−1}|
    flow_failure: float | None = None  # fraction of the frame where the flow check fails
    banding: float | None = None
    blocking: float | None = None
    # the frame's tone level with motion taken out (``diagnose.drift.compensated_levels``): mean Y, Cb
    # and Cr in full-range grey levels (Cb/Cr about 128), the levels that window drift and seams are read from
    tone_y: float | None = None
    tone_cb: float | None = None
    tone_cr: float | None = None
    cut: bool = False
    keyframe: bool = False

    def to_json(self) -> dict:
        return {k: (json_float(v) if isinstance(v, float) else v) for k, v in
                ((name, getattr(self, name)) for name in self.__slots__)}


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of frames [start, end] (inclusive) that shows one kind of problem."""

    start: int
    end: int
    kind: str  # "luma", "chroma", "local", "texture", "codec", "incoherent"
    score: float

    def to_json(self) -> dict:
        return {"start": self.start, "end": self.end, "kind": self.kind, "score": json_float(self.score)}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    file: str
    verdict: Verdict
    confidence: float  # [0, 1]
    scores: Mapping[str, float]
    frames: int
    fps: float
    width: int
    height: int
    duration_s: float
    timeline: tuple[FramePoint, ...] = ()
    segments: tuple[Segment, ...] = ()
    cuts: tuple[int, ...] = ()
    settings: Mapping[str, object] = field(default_factory=dict)
    seconds: float = 0.0  # wall time spent diagnosing
    rotation: int = 0  # the display matrix's degrees counter-clockwise, from the first frame (0 when none)
    seams: tuple[int, ...] = ()  # frames that start a new render window (``diagnose.drift``)

    def to_json(self, *, timeline: bool = True) -> dict:
        """Schema 3; ``timeline=False`` leaves the per-frame entries out (an empty list)."""
        return {
            "schema": SCHEMA_VERSION,
            "file": self.file,
            "verdict": self.verdict.value,
            "confidence": round(self.confidence, 4),
            "scores": {k: (json_float(v) if isinstance(v, float) else v) for k, v in self.scores.items()},
            "frames": self.frames,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "duration_s": round(self.duration_s, 4),
            "rotation": self.rotation,
            "cuts": list(self.cuts),
            "seams": list(self.seams),
            "segments": [s.to_json() for s in self.segments],
            "timeline": [p.to_json() for p in self.timeline] if timeline else [],
            "settings": dict(self.settings),
            "seconds": round(self.seconds, 3),
        }

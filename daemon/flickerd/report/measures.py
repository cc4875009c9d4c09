"""What each diagnosis score means to a person, and which one decided a verdict (pure).

The plot, the folder HTML report and its sentences all read this one table, so a measure has
one name, one unit and one threshold everywhere. Thresholds come from the diagnosis's own
``settings`` (the values it was judged with); the verdict logic is ``diagnose.verdict``'s:
incoherence first, then the generative and codec families, each decided by its measure with
the largest log-ratio to its threshold.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

from flickerd.diagnose.codec import COARSE_GRID_EXCESS
from flickerd.diagnose.model import Diagnosis, Verdict
from flickerd.diagnose.settings import DiagnoseSettings
from flickerd.diagnose.verdict import FINE_TEXTURE_FLOOR, FINE_TEXTURE_SHARE, IFRAME_SPIKE, fine_texture
from flickerd.errors import ConfigError
from flickerd.figures import fmt_pair


def _fine_texture(d: Diagnosis) -> bool:
    """The verdict's ``fine_texture``, judged with the settings the diagnosis recorded (``recorded``)."""
    try:
        return fine_texture(d.scores, recorded(d.settings))
    except (ConfigError, KeyError, TypeError):  # a report from another version: a value of another type, a score missing
        return False


SETTINGS = frozenset(f.name for f in dataclasses.fields(DiagnoseSettings))


def recorded(settings: Mapping[str, object]) -> DiagnoseSettings:
    """The settings a diagnosis recorded, as it was judged with them. The engine records what it
    derived beside them (``analysis_scale``), and a report from another version may carry a key this
    one does not know: neither is a setting, so neither is read. Rebuilt from the whole record, every
    real diagnosis was refused as "unknown key" and a faint re-drawn texture's verdict was explained
    against the ordinary texture threshold (0.43) instead of ``FINE_TEXTURE_FLOOR``'s 0.17."""
    return DiagnoseSettings.from_mapping({k: v for k, v in settings.items() if k in SETTINGS})


@dataclass(frozen=True, slots=True)
class Measure:
    key: str  # the score's key in Diagnosis.scores
    label: str
    unit: str
    family: str  # "generative" | "codec" | "incoherent" | "reference" (shown, never decides)
    threshold_key: str | None = None  # DiagnoseSettings field holding its verdict threshold
    fixed_threshold: float | None = None  # a threshold that is not a setting
    per_frame: str | None = None  # FramePoint field with its per-frame values
    per_frame_unit: str = ""  # what a per-frame value is, when it differs from the score
    run_factor: float | None = 1.0  # per-frame values over threshold × this make a segment; None: no line
    summary: str = "mean"  # how the score sums up its per-frame values ("mean" | "median")
    how: str = ""  # how the score comes from the per-frame values, when it is not simply their summary

    def threshold(self, d: Diagnosis) -> float | None:
        value = d.settings.get(self.threshold_key) if self.threshold_key else self.fixed_threshold
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        if self.key == "texture_flicker" and _fine_texture(d):
            return FINE_TEXTURE_FLOOR  # faint detail left in the finest band counts from here (diagnose.verdict)
        return float(value)

    @property
    def axis_label(self) -> str:
        return self.per_frame_unit or self.unit


WARP_UNIT_DIAGNOSIS = "RGB² in [0,1], sum of R, G, B"
WARP_UNIT_VERIFIED = "RGB² in [0,1], mean of R, G, B"
WARP_CHANNELS = 3  # the diagnosis's warping error sums R, G, B; verification's (and every chart's) is their mean


def charted(key: str, value: float) -> float:
    """A diagnosis's per-frame ``key`` value as every chart draws it: the warping error as the mean of
    R, G, B (verification's), not the diagnosis's sum of them."""
    return value / WARP_CHANNELS if key == "warp_error" else value

MEASURES: dict[str, Measure] = {m.key: m for m in (
    Measure("luma_flicker", "global luma flicker", "grey levels", "generative", "luma_threshold",
            per_frame="luma_flicker"),
    Measure("chroma_flicker", "colour flicker", "grey levels of Cb/Cr", "generative", "chroma_threshold",
            per_frame="chroma_flicker"),
    Measure("local_flicker", "local flicker", "grey levels", "generative", "local_threshold",
            per_frame="local_flicker", per_frame_unit="grey levels, worst cell", run_factor=2.0,
            how="The score is the worst quarter of a grid map of the whole clip minus its median cell; "
                "the dots are each frame's worst cell."),
    Measure("texture_flicker", "regenerated texture", "residual/detail ratio", "generative", "texture_threshold",
            per_frame="texture_flicker", summary="median",
            how=f"Under its threshold, detail changing only in the finest band (texture excess at least "
                f"{FINE_TEXTURE_SHARE:g} of the ratio) counts from {FINE_TEXTURE_FLOOR:g}."),
    Measure("incoherence", "replaced content", "frame fraction", "incoherent", "incoherence_threshold",
            per_frame="incoherence", per_frame_unit="isolated replaced area, frame fraction", run_factor=None,
            how="The score is the largest area whose content neither frame of a pair explains, above the "
                "pairs around it; the dots are each pair's."),
    # no per-frame line: the timeline keeps no long looks (a verdict it decides says so in words)
    Measure("fade", "cross-faded content", "frame fraction", "incoherent", "fade_threshold", run_factor=None),
    Measure("banding", "banding", "fraction of smooth area", "codec", "banding_threshold", per_frame="banding",
            summary="median"),
    Measure("blocking", "blocking", "block-edge step ratio (8 or 16 px)", "codec", "blocking_threshold", per_frame="blocking",
            summary="median", how="The score is the larger of the sampled frames' median and the I-frames' "
                                  "lower median (high-CRF blocks sit on I-frames); a frame reads the 8-px grid, or "
                                  f"the 16-px grid over {COARSE_GRID_EXCESS:g} where that is larger (macroblock "
                                  "edges, re-uploads)."),
    Measure("iframe_spike", "keyframe pumping", "× warping error off I-frames", "codec", fixed_threshold=IFRAME_SPIKE),
    # the diagnosis sums the channels; verification (the headline figure) averages them: about ⅓ of this
    Measure("warp_error", "warping error", WARP_UNIT_DIAGNOSIS, "reference", per_frame="warp_error",
            run_factor=None),
)}

_FAMILIES = {
    Verdict.INCOHERENT: ("incoherent",),
    Verdict.GENERATIVE_FLICKER: ("generative",),
    Verdict.CODEC_ARTIFACTS: ("codec",),
    Verdict.MIXED: ("generative", "codec"),
    Verdict.CLEAN: ("generative", "codec", "incoherent"),
}


@dataclass(frozen=True, slots=True)
class Deciding:
    """A measure that decided (or, for a clean clip, came closest to deciding) the verdict."""

    measure: Measure
    score: float
    threshold: float

    @property
    def over(self) -> bool:
        return self.score > self.threshold

    def sentence(self) -> str:
        m = self.measure
        relation = "over" if self.over else "under"
        score, threshold = self.shown()
        return f"{m.label} {score} {m.unit} is {relation} its threshold of {threshold}"

    def shown(self) -> tuple[str, str]:
        """Score and threshold as written side by side: with the same digits, enough to tell them apart
        ("0.0390 … under its threshold of 0.0385", never "0.04 … over its threshold of 0.04")."""
        return fmt_pair(self.score, self.threshold)


def _margin(score: float, threshold: float) -> float:
    return math.log(max(score, 1e-9) / max(threshold, 1e-9))


def deciding(d: Diagnosis) -> tuple[Deciding, ...]:
    """One measure per family the verdict rests on (two for ``mixed``; for ``clean`` the closest one)."""
    out = []
    families = _FAMILIES.get(d.verdict, ())
    candidates = []
    for family in families:
        best = None
        for m in MEASURES.values():
            t = m.threshold(d)
            score = d.scores.get(m.key)
            if m.family != family or t is None or not isinstance(score, (int, float)) or math.isnan(score):
                continue
            if best is None or _margin(score, t) > _margin(best.score, best.threshold):
                best = Deciding(m, float(score), t)
        if best is not None:
            candidates.append(best)
    if d.verdict is Verdict.CLEAN:
        candidates = sorted(candidates, key=lambda c: _margin(c.score, c.threshold), reverse=True)[:1]
    out.extend(candidates)
    return tuple(out)


VERDICT_WORDS = {
    Verdict.CLEAN: "clean",
    Verdict.GENERATIVE_FLICKER: "generative flicker",
    Verdict.CODEC_ARTIFACTS: "codec artifacts",
    Verdict.MIXED: "generative flicker and codec artifacts",
    Verdict.INCOHERENT: "incoherent (post-processing cannot fix it)",
}


def verdict_sentence(d: Diagnosis) -> str:
    """``Generative flicker: regenerated texture 1.48 residual/detail ratio is over its threshold of 1.00.``"""
    found = deciding(d)
    words = VERDICT_WORDS.get(d.verdict, d.verdict.value)
    if not found:
        return f"{words.capitalize()}."
    if d.verdict is Verdict.CLEAN:
        return (f"Clean: no measure reaches its threshold; the closest, {found[0].sentence()}.")
    return f"{words[0].upper()}{words[1:]}: " + "; ".join(f.sentence() for f in found) + "."

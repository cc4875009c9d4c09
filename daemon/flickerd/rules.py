"""Routing: a diagnosis and a folder's ordered rules → the steps to run (pure).

The first rule whose ``Match`` accepts the diagnosis wins. A rule's ``action`` says what
happens to the output: ``fix`` publishes a verified video, ``review`` publishes a candidate
under ``_review/`` (regeneration), ``report`` writes only the report, ``attention`` writes a
"needs attention" report and no video. ``config.py`` builds these records from TOML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from flickerd.diagnose.model import Diagnosis, Verdict
from flickerd.diagnose.seam_list import merged
from flickerd.diagnose.settings import DiagnoseSettings
from flickerd.diagnose.verdict import FINE_TEXTURE_FLOOR, FINE_TEXTURE_SHARE
from flickerd.routes.base import Step

# the default thresholds some rules follow (a config's [diagnose] override does not move them)
_DIAGNOSIS = DiagnoseSettings()


class Action(str, Enum):
    FIX = "fix"
    REVIEW = "review"
    REPORT = "report"
    ATTENTION = "attention"


@dataclass(frozen=True, slots=True)
class Match:
    """Every given condition must hold; an empty ``Match`` matches everything."""

    verdicts: tuple[Verdict, ...] = ()
    min_scores: Mapping[str, float] = field(default_factory=dict)  # scores[k] >= v
    max_scores: Mapping[str, float] = field(default_factory=dict)  # scores[k] <= v
    min_confidence: float = 0.0
    min_pixels: int = 0
    max_pixels: int = 0  # 0: no limit
    min_duration_s: float = 0.0
    max_duration_s: float = 0.0  # 0: no limit
    sidecar: bool | None = None  # None: either
    gpu: bool | None = None  # None: either; True: only when a GPU slot is usable

    def accepts(self, d: Diagnosis, *, sidecar: bool, gpu: bool) -> bool:
        scores = d.scores
        pixels = d.width * d.height
        return (
            (not self.verdicts or d.verdict in self.verdicts)
            and all(scores.get(k, float("-inf")) >= v for k, v in self.min_scores.items())
            and all(scores.get(k, float("inf")) <= v for k, v in self.max_scores.items())
            and d.confidence >= self.min_confidence
            and pixels >= self.min_pixels
            and (not self.max_pixels or pixels <= self.max_pixels)
            and d.duration_s >= self.min_duration_s
            and (not self.max_duration_s or d.duration_s <= self.max_duration_s)
            and (self.sidecar is None or self.sidecar == sidecar)
            and (self.gpu is None or self.gpu == gpu)
        )


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    match: Match
    action: Action = Action.FIX
    steps: tuple[Step, ...] = ()
    fallback: tuple[Step, ...] = ()  # run when the steps fail or are rejected
    note: str = ""  # a sentence for the report's notes when this rule decides (why it acts so)


@dataclass(frozen=True, slots=True)
class Decision:
    rule: str
    action: Action
    steps: tuple[Step, ...]
    fallback: tuple[Step, ...]
    note: str = ""

    @property
    def route(self) -> str:
        """The chain's name for metrics and reports, e.g. ``normalize+rife``; ``none`` for no video."""
        return "+".join(s.route for s in self.steps) or "none"


def decide(diagnosis: Diagnosis, rules: Sequence[Rule], *, sidecar: bool = False, gpu: bool = False) -> Decision:
    for rule in rules:
        if rule.match.accepts(diagnosis, sidecar=sidecar, gpu=gpu):
            steps = rule.steps if rule.action in (Action.FIX, Action.REVIEW) else ()
            return Decision(rule.name, rule.action, _seamed(steps, diagnosis), _seamed(rule.fallback, diagnosis),
                            rule.note)
    return Decision("no-match", Action.REPORT, (), ())


def _seamed(steps: tuple[Step, ...], diagnosis: Diagnosis) -> tuple[Step, ...]:
    """Every ``drift`` step gets the diagnosis's seams (``with_seams``)."""
    return with_seams(steps, diagnosis.seams)


def with_seams(steps: Sequence[Step], found: Sequence[int]) -> tuple[Step, ...]:
    """The ``drift`` steps handed the diagnosis's seams (``found``) and told to look for no others:
    seams are decided in one place, by one standard (motion-compensated tone levels whose cells
    agree on one global change, ``diagnose.drift.find_seams``); the route's own whole-frame
    statistics cannot tell a join from a real change of light. A step that names seams (a user's,
    a sidecar's) keeps them and gets the diagnosis's besides (those within a few frames of a named
    one are the same join), as its own search used to add; one that also says ``search = false``
    corrects exactly the seams it names."""
    def seamed(s: Step) -> Step:
        if s.route != "drift":
            return s
        if "seams" in s.params and s.params.get("search", True) is False:
            return s
        seams = list(merged(s.params.get("seams", ()), found))
        return Step(s.route, {**s.params, "seams": seams, "search": False})

    return tuple(seamed(s) for s in steps)


def route_names(rules: Iterable[Rule]) -> set[str]:
    """Every route name ``rules`` can put on a job (``Decision.route``), fallback chains and ``none`` included."""
    out = {"none"}
    for rule in rules:
        if rule.action in (Action.FIX, Action.REVIEW):
            out.update("+".join(s.route for s in chain) for chain in (rule.steps, rule.fallback) if chain)
    return out


def _v(*verdicts: Verdict) -> tuple[Verdict, ...]:
    return verdicts


# Texture flicker from which ``detail`` joins a chain: the diagnosis's own texture threshold
# (fitted on the real-render bench), so "boiling texture" means the same in both places.
TEXTURE_ROUTE = 0.43

# A region that pulses faintly (local flicker from the diagnosis's threshold, 0.61, up to 2.1 grey
# levels) while the frame's tone and colour do not flicker: correcting it costs more than it
# removes (re-encoding alone is 0.2–0.8 dB against the render, and the cell corrections add their
# own error). On the fit half of bench real_repairs every ``normalize`` of such a region clip below
# local 2.16 was worse against the render (−0.04 to −0.86 dB) but one (+0.21); from 2.31 up they
# gained (local measured with the mean cell levels of diagnosis schema 3). Refitted on the fit
# half for schema 4's median levels: 1.8 and 2.1 give the same harm and lose no good fix, 2.4
# adds harm; 2.1 stays.
FAINT_REGION = MappingProxyType({"luma_flicker": 0.59, "chroma_flicker": 0.45, "local_flicker": 2.1})
# Only where the region flicker is what the diagnosis found (local over its own threshold): a
# one-frame flash of the whole frame, found by its per-frame peaks, is still ``normalize``'s.
REGION_FLICKER = MappingProxyType({"local_flicker": _DIAGNOSIS.local_threshold})
# A faint region on a frame whose tone holds and whose colour flickers: ``colour-faint-region`` (its
# colour condition is said, not left to the rules before it: a folder's own list may lack them).
FAINT_TONE_REGION = MappingProxyType({k: FAINT_REGION[k] for k in ("luma_flicker", "local_flicker")})
# Spelt out again in both TOML configs (data cannot import it): tests/config/test_default.py and
# tests/restoration/test_auto.py hold all three to the same text.
FAINT_REGION_NOTE = (f"a region pulses faintly (local flicker under {FAINT_REGION['local_flicker']:g} grey levels, "
                     "tone and colour steady): correcting it would cost more picture than it removes, so it is "
                     "left as it is.")

# Boiling texture where nothing else flickers beyond a faint region: ``detail`` alone. On bench
# real_repairs ``normalize`` before it gained nothing on the injected texture clips (the same to
# ±0.02 dB on the 2 fit and 4 of 5 held-out ones; the fifth, −0.69 dB, became a refusal), and on
# breathing injected into renders that boil by themselves ``normalize+detail`` was worse than
# ``detail`` alone (held out: 4 published 0.37–1.93 dB worse; ``detail`` alone: all 5 refused).
# Where tone, colour or a strong region flickers, the boiling is taken for the render's own and
# ``generative`` runs ``normalize`` alone: there adding ``detail`` was worse on all 15 tone and
# colour clips (0.1–1.6 dB) and on all 3 strong-region clips (0.8–1.7 dB) of the fit half.

# Faint re-drawn texture alone (the diagnosis's ``fine_texture``: texture under its threshold, every
# other flicker and banding too): reported, not fixed. On the fit half of bench real_repairs (the six
# half-strength texture clips it finds, seeds 0-2) ``normalize`` and ``normalize`` → deband were worse
# against the render on all six (-0.34 to -1.48 dB; verification refused them) and ``detail`` gained
# +0.04 dB on one and was refused at -0.35 on the other (seed 0): nothing here is worth an encode.
# A rule matches scores, not their ratio: it asks the least texture and excess ``fine_texture`` can
# have (its floor, and the floor times its share), and the default thresholds for the rest. Under a
# config's lower [diagnose] thresholds, a clip made generative by other flicker that sits under these
# defaults, with texture and excess over those least values, is reported by it too (review 18 #3):
# such a config should list its own rules.
FINE_TEXTURE = MappingProxyType({"texture_flicker": FINE_TEXTURE_FLOOR,
                                 "texture_excess": round(FINE_TEXTURE_FLOOR * FINE_TEXTURE_SHARE, 3)})
FAINT_TEXTURE = MappingProxyType({"luma_flicker": _DIAGNOSIS.luma_threshold, "chroma_flicker": _DIAGNOSIS.chroma_threshold,
                                  "local_flicker": _DIAGNOSIS.local_threshold, "texture_flicker": TEXTURE_ROUTE,
                                  "banding": _DIAGNOSIS.banding_threshold})
FAINT_TEXTURE_NOTE = ("the texture is re-drawn faintly (under 0.43, but changing only in the finest detail) and "
                      "nothing else flickers: no fix here gained on such clips, so it is left as it is.")

# Deband smooths banding and nothing else: only where the diagnosis found banding (its own
# threshold). Where the codec damage is blocking or keyframe pumping alone, deband changed
# nothing but cost one more encode: on bench real_repairs its outputs were 0.00 to 0.09 dB worse
# than the input on the injected codec clips, and 1.05 and 1.48 dB worse on two clips whose faint
# flicker the diagnosis took for blocking (no banding on either); nothing here brings back what
# the encoder discarded.
BANDING = MappingProxyType({"banding": _DIAGNOSIS.banding_threshold})
NO_BANDING_NOTE = ("the codec damage is blocking or keyframe pumping, which no fix here can undo (deband only "
                   "smooths banding, and this clip has none): re-encode or re-render it at a higher bitrate.")

# Window drift (grey levels per 100 frames, accumulated at seams) from which the first default
# rule, ``WINDOW_DRIFT_RULE``, runs ``drift`` whatever the verdict but incoherent (an identity
# change needs a person or a regeneration, not a tone fix): a seam is a step the verdict's
# flicker measures do not see. Not where the frame's tone or colour flickers (the diagnosis's
# own luma and chroma thresholds): flicker that jumps between levels can look like seams.
# A default since issue 23's third pass: a seam's cells must agree on one global change
# (``diagnose.drift.uniform``), so a real step of light between steady levels is no longer one.
# On the clips of bench real_repairs (48 frames at 832 px; as-is, luma and breathing at
# strengths 1 and 0.5, seed 0) it takes none of 118 clips off its route (3 before: Steamboat
# Willie's real brightness step at frame 9), nor does it find a seam on the unmodified or faded
# renders of bench drift_seams.
DRIFT_ROUTE = 1.0
DRIFT_MAX_FLICKER = MappingProxyType({"luma_flicker": 0.59, "chroma_flicker": 0.45})

WINDOW_DRIFT_RULE = Rule("window-drift", Match(verdicts=tuple(v for v in Verdict if v is not Verdict.INCOHERENT),
                                                min_scores={"drift": DRIFT_ROUTE}, max_scores=DRIFT_MAX_FLICKER),
                         Action.FIX, steps=(Step("drift"),))

DEFAULT_RULES: tuple[Rule, ...] = (
    WINDOW_DRIFT_RULE,  # first: a clip with seams is any verdict (but incoherent), clean too
    Rule("clean", Match(verdicts=_v(Verdict.CLEAN)), Action.REPORT),
    Rule(
        "generative-texture-only",
        Match(verdicts=_v(Verdict.GENERATIVE_FLICKER), min_scores={"texture_flicker": TEXTURE_ROUTE},
              max_scores=FAINT_REGION),
        Action.FIX,
        steps=(Step("detail"),),
    ),
    # also where a faint region is all a ``mixed`` clip flickers with: deband alone moved such
    # clips 1.2–1.3 dB away from the render on the bench (breathing the diagnosis took for codec
    # damage), and gained nothing (−0.06 to +0.00 dB) where the codec damage was real
    Rule("faint-region", Match(verdicts=_v(Verdict.GENERATIVE_FLICKER, Verdict.MIXED), min_scores=REGION_FLICKER,
                               max_scores={**FAINT_REGION, "texture_flicker": TEXTURE_ROUTE}),
         Action.REPORT, note=FAINT_REGION_NOTE),
    # faint re-drawn texture and nothing else over its threshold (the verdict's ``fine_texture``)
    Rule("faint-texture", Match(verdicts=_v(Verdict.GENERATIVE_FLICKER, Verdict.MIXED), min_scores=FINE_TEXTURE,
                                max_scores=FAINT_TEXTURE),
         Action.REPORT, note=FAINT_TEXTURE_NOTE),
    # colour flickers and only a faint region pulses (the earlier rules took the clips whose colour
    # holds): the colour is corrected over the whole frame, the faint region left as ``faint-region``
    # leaves it. The cells there "corrected" the render's own luma where its content moves (fit half,
    # seeds 3-5: LaVie chroma 0.5, local 0.64, its own 0.59: −0.31 dB with cells, −0.12 without; the
    # luma error 2.4 → 4.6 levels², the moving shark's cell +8 while the colour's error fell). Held
    # out, run once: 2 clips moved, +1.27 → +1.81 dB and a published −0.98 dB now refused.
    Rule("colour-faint-region", Match(verdicts=_v(Verdict.GENERATIVE_FLICKER),
                                      min_scores={**REGION_FLICKER, "chroma_flicker": FAINT_REGION["chroma_flicker"]},
                                      max_scores=FAINT_TONE_REGION), Action.FIX,
         steps=(Step("normalize", {"local": False}),)),
    # without boiling texture ``detail`` only averages real detail, and with tone or colour flicker
    # the boiling is the render's own (bench real_repairs): ``normalize`` alone, over the whole
    # frame only unless the diagnosis found region flicker (``REGION_FLICKER``): the cells' own
    # estimates add error where no region flickers. On the fit half ``normalize`` without cells was
    # better on 14 of 30 such clips (up to +0.51 dB) and worse on 11 (at most −0.11), with one
    # harmful publication fewer; the diagnosis's threshold and 1.0, 1.5 and 2.1 tie there (3.0 adds
    # harm), and the old films as they are (local flicker 0.67 and 0.71) keep their cells (warping
    # error −38% and −44% with them, −34% and −35% without). Held out: 18 of 20 better, 1 worse (−0.02).
    Rule("generative-region", Match(verdicts=_v(Verdict.GENERATIVE_FLICKER), min_scores=REGION_FLICKER), Action.FIX,
         steps=(Step("normalize"),)),
    Rule("generative", Match(verdicts=_v(Verdict.GENERATIVE_FLICKER)), Action.FIX,
         steps=(Step("normalize", {"local": False}),)),
    Rule(
        "codec-luma",
        Match(verdicts=_v(Verdict.CODEC_ARTIFACTS), min_scores={"luma_flicker": 0.5}),
        Action.FIX,
        steps=(Step("ffmpeg", {"deflicker": True, "deband": True}),),
    ),
    Rule(
        "codec",
        Match(verdicts=_v(Verdict.CODEC_ARTIFACTS), min_scores=BANDING),
        Action.FIX,
        steps=(Step("ffmpeg", {"deflicker": False, "deband": True}),),
    ),
    Rule("codec-no-banding", Match(verdicts=_v(Verdict.CODEC_ARTIFACTS)), Action.REPORT, note=NO_BANDING_NOTE),
    Rule(
        "mixed-texture",
        Match(verdicts=_v(Verdict.MIXED), min_scores={"texture_flicker": TEXTURE_ROUTE}),
        Action.FIX,
        steps=(Step("normalize"), Step("detail"), Step("ffmpeg", {"deflicker": False, "deband": True})),
        fallback=(Step("normalize"), Step("ffmpeg", {"deflicker": False, "deband": True})),
    ),
    Rule(
        "mixed",
        Match(verdicts=_v(Verdict.MIXED)),
        Action.FIX,
        steps=(Step("normalize"), Step("ffmpeg", {"deflicker": False, "deband": True})),
    ),
    Rule(
        "incoherent-gpu",
        Match(verdicts=_v(Verdict.INCOHERENT), gpu=True),
        Action.REVIEW,
        steps=(Step("regenerate"),),
    ),
    Rule("incoherent", Match(verdicts=_v(Verdict.INCOHERENT)), Action.ATTENTION),
)
"""The default rules (README, "Default rules")."""


# Tone and colour first (a per-frame affine map: grading jitter), then the guide's stability. On
# the fit half of bench guided the pair beat ``guided`` alone by +0.15 dB (mean of the route
# outputs; +1.2 and +0.9 dB on grading jitter, −0.5 on one).
GUIDED_STEPS = (Step("normalize"), Step("guided"))
GUIDED_ROUTE = "+".join(s.route for s in GUIDED_STEPS)  # its Decision.route: the metrics' route label


def with_defaults(steps: tuple[Step, ...], route_params: Mapping[str, Mapping[str, object]] | None) -> tuple[Step, ...]:
    """``steps`` with each step's parameters laid over its route's ``[routes.NAME]`` defaults (a
    step's own parameters win)."""
    if not route_params:
        return steps
    return tuple(Step(s.route, {**route_params.get(s.route, {}), **s.params}) for s in steps)


def with_guide(decision: Decision, verdict: Verdict | None = None,
               route_params: Mapping[str, Mapping[str, object]] | None = None) -> Decision:
    """The decision when the render comes with its source video (a guide): ``normalize`` → ``guided``
    wherever the blind decision would fix, with the blind chain as its fallback, and where it would
    only report a render that is not incoherent: clean to the blind diagnosis (the guide sees jitter
    it cannot), flicker too faint to correct blind (``faint-region``), codec damage deband cannot
    touch (``codec-no-banding``: the guide's stability may still even out what the codec made
    jump). ``process_file`` reports such a render as it is when verification refuses the fix.
    Reviews and needs-attention decisions stay as they are: a guide does not make regeneration's
    work. ``route_params`` (``[routes.NAME]``) are laid under the guided chain's steps as under
    every rule's: the blind fallback came from the rules, which have them already."""
    steps = with_defaults(GUIDED_STEPS, route_params)
    if decision.action is Action.FIX and decision.steps:
        return Decision(decision.rule, decision.action, steps, decision.steps)
    if decision.action is Action.REPORT and verdict is not None and verdict is not Verdict.INCOHERENT:
        return Decision(decision.rule, Action.FIX, steps, ())
    return decision

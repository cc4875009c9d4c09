"""How long a job has left, from each stage's measured per-frame speed.

A job is a row of stages: diagnose, each step of its chain, verify, reports. The stage running
now is timed by its own speed so far: the share of its frames it has done in the seconds it has
taken. A stage not begun yet is estimated from a prior (``COSTS``: seconds on the reference
2-core box for a clip of that many frames and pixels), scaled by how this job's measured stages
compare with their priors: a loaded or a faster machine moves every later estimate with it.

``Eta.fraction`` is the share of the job's estimated time that has passed, so anyone holding only
that fraction and the elapsed time (``flickerd status``, the daemon at shutdown) gets the same
time left back with ``remaining_s``. Pure: the caller passes the clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_MEASURED = 0.05  # below this share of a stage, its own speed is too noisy to go by
MIN_MEASURED_S = 0.5  # ... or below this many seconds in it
TRUSTED = 0.25  # from this share of a stage on, only its own speed counts; before, it is blended in
# The running stage's speed is taken over the later half of its time so far: on a shared box the
# load changes, and the frames still to do run at today's speed, not at the stage's average.
RECENT_SHARE = 0.5
FACTOR_RANGE = (0.2, 5.0)  # how far a machine may be from the reference box, either way
# The machine factor starts as if this share of the job's prior seconds (at most the maximum) had
# run exactly as their priors said: a few seconds of one clip's quick stages (its content, not the
# machine) must not rescale the rest, yet a short job on a faster box must learn it in time.
PRIOR_WEIGHT_SHARE = 0.2
PRIOR_WEIGHT_MAX_S = 5.0
MAX_FRACTION = 0.999  # 1.0 is said only when the job is done
OVERRUN_LEFT = 0.5  # a stage past its estimate with no speed of its own yet: left is this share of its time so far


@dataclass(frozen=True, slots=True)
class Cost:
    """A stage's prior: ``fixed_s + frame_s × frames + mpixel_frame_s × frames × megapixels``.

    ``frames_cap``: a stage that samples long clips (diagnosis) costs no more past this many frames.
    """

    fixed_s: float
    frame_s: float
    mpixel_frame_s: float
    frames_cap: int = 0

    def seconds(self, frames: int, megapixels: float) -> float:
        n = min(frames, self.frames_cap) if self.frames_cap else frames
        return self.fixed_s + n * (self.frame_s + self.mpixel_frame_s * megapixels)


# Fitted on the bench clips (`python -m bench eta_accuracy`) on the reference box.
COSTS: dict[str, Cost] = {
    "diagnose": Cost(0.19, 0.0011, 0.0, frames_cap=300),
    "normalize": Cost(0.0, 0.0057, 0.056),
    "detail": Cost(0.0, 0.028, 0.35),
    "ffmpeg": Cost(0.0, 0.0042, 0.029),
    "drift": Cost(0.0, 0.0057, 0.056),  # not fitted: two streaming passes of per-frame maps, costed as normalize
    # not fitted: as detail with 6 flows a frame instead of 4 (radius 3); guided 6 gives frames of re-drawn
    # texture texture_radius 5 (10 flows), 40-58% more on such clips (bench guided, fit): an ETA runs short there
    "guided": Cost(0.0, 0.042, 0.5),
    "rife": Cost(2.0, 0.3, 2.0),  # not fitted: about 0.5 frames/s at 720p on CPU (bench rife_speed)
    "regenerate": Cost(60.0, 1.0, 0.0),  # not fitted: a GPU route, minutes per clip
    "verify": Cost(0.465, 0.0225, 0.013),
    "reports": Cost(0.3, 0.0, 0.0),  # the JSON and the plot
    "compare": Cost(0.0, 0.016, 0.092),  # the side-by-side clip, part of the reports stage
}
# The side-by-side clip's encode costs more for busy texture than for a flat, heavily compressed
# picture; the source file's bits per pixel stand in for that (bounded: a lossless source is big).
REFERENCE_BPP = 0.1  # bits per pixel and frame of a render encoded plainly (H.264, CRF 16)
CONTENT_SLOPE = 0.15  # per tenfold bits per pixel
CONTENT_RANGE = (0.7, 1.3)
UNKNOWN_ROUTE = "normalize"  # a route without a prior of its own (a plug-in) is costed like this
GUESSED_CHAIN = ("normalize", "detail")  # before the diagnosis decides: the default generative chain


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    prior_s: float


def plan(frames: int, width: int, height: int, steps: Sequence[str] | None = GUESSED_CHAIN, *,
         compare: bool = True, bits_per_pixel: float | None = None) -> tuple[Stage, ...]:
    """The stages after the diagnosis: ``steps`` (None: no video, a report only), verify, reports.

    ``bits_per_pixel``: the source file's size over its pixels and frames (``content_factor``).
    """
    mp = max(width * height, 1) / 1e6
    frames = max(int(frames), 1)

    def cost(name: str) -> float:
        return COSTS.get(name, COSTS[UNKNOWN_ROUTE]).seconds(frames, mp)

    rest = [Stage(name, cost(name)) for name in steps or ()]
    if steps:
        rest.append(Stage("verify", cost("verify")))
    side_by_side = cost("compare") * content_factor(bits_per_pixel) if steps and compare else 0.0
    rest.append(Stage("reports", cost("reports") + side_by_side))
    return tuple(rest)


def content_factor(bits_per_pixel: float | None) -> float:
    """The side-by-side clip's cost against a plain render's, from the source's bits per pixel."""
    if not bits_per_pixel or bits_per_pixel <= 0:
        return 1.0
    factor = 1.0 + CONTENT_SLOPE * math.log10(bits_per_pixel / REFERENCE_BPP)
    return min(max(factor, CONTENT_RANGE[0]), CONTENT_RANGE[1])


def diagnose_stage(frames: int, width: int, height: int) -> Stage:
    return Stage("diagnose", COSTS["diagnose"].seconds(max(int(frames), 1), max(width * height, 1) / 1e6))


def remaining_s(elapsed_s: float, fraction: float) -> float | None:
    """Time left from the share of the estimated time that has passed (``Eta.fraction``)."""
    if fraction <= 0.0:
        return None
    return max(0.0, elapsed_s / min(fraction, 1.0) - elapsed_s)


class Eta:
    """The running estimate of one job; ``enter`` a stage, ``update`` its fraction, read ``remaining_s``."""

    def __init__(self, stages: Sequence[Stage], now: float) -> None:
        if not stages:
            raise ValueError("a job has at least one stage")
        self.stages: list[Stage] = list(stages)
        self.start = now
        self.current = 0
        self.stage_start = now
        self.stage_fraction = 0.0
        self.samples: list[tuple[float, float]] = []  # (time, fraction) of the running stage
        self.done: list[tuple[Stage, float]] = []  # finished stages and the seconds they took

    def enter(self, index: int, now: float) -> None:
        """Stage ``index`` starts now; the ones before it are finished."""
        while self.current < index and self.current < len(self.stages) - 1:
            self.done.append((self.stages[self.current], now - self.stage_start))
            self.current += 1
            self.stage_start = now
            self.stage_fraction = 0.0
            self.samples = []

    def update(self, fraction: float, now: float) -> None:
        self.stage_fraction = max(self.stage_fraction, min(1.0, max(0.0, fraction)))
        self.samples.append((now, self.stage_fraction))
        start = now - RECENT_SHARE * (now - self.stage_start)
        while len(self.samples) > 2 and self.samples[1][0] <= start:  # keep one sample before the window
            self.samples.pop(0)

    def replan(self, rest: Sequence[Stage]) -> None:
        """The stages after the current one are ``rest`` (the decision is made, or the fallback runs)."""
        self.stages[self.current + 1:] = list(rest)

    def _measured(self, now: float) -> tuple[float, float, float] | None:
        """(seconds left, projected seconds, prior) of the current stage when its own speed can be trusted."""
        spent = now - self.stage_start
        f = self.stage_fraction
        if f < MIN_MEASURED or spent < MIN_MEASURED_S:
            return None
        rate = f / spent  # the stage's share per second, on average so far
        (t0, f0), (t1, f1) = self.samples[0], self.samples[-1]
        if t1 - t0 >= MIN_MEASURED_S and f1 > f0:
            rate = (f1 - f0) / (t1 - t0)  # ... and lately
        left = (1.0 - f) / rate
        return left, spent + left, self.stages[self.current].prior_s

    def factor(self, now: float) -> float:
        """Measured over prior seconds of the stages seen so far: this machine against the reference."""
        actual = sum(s for _, s in self.done)
        prior = sum(st.prior_s for st, _ in self.done)
        current = self._measured(now)
        if current is not None:  # the running stage counts as much as its own speed is trusted
            weight = min(1.0, self.stage_fraction / TRUSTED)
            actual, prior = actual + weight * current[1] + (1.0 - weight) * current[2], prior + current[2]
        weight = min(PRIOR_WEIGHT_MAX_S, PRIOR_WEIGHT_SHARE * (sum(st.prior_s for st in self.stages)))
        if prior + weight <= 0:
            return 1.0
        ratio = (actual + weight) / (prior + weight)
        return min(max(ratio, FACTOR_RANGE[0]), FACTOR_RANGE[1])

    def remaining_s(self, now: float) -> float:
        factor = self.factor(now)
        spent = now - self.stage_start
        # past its estimate, a stage is not done: with nothing measured, it is taken to be two-thirds through
        left = max(self.stages[self.current].prior_s * factor - spent, OVERRUN_LEFT * spent)
        current = self._measured(now)
        if current is not None:  # its remaining frames at its own speed, trusted more as it gets on
            weight = min(1.0, self.stage_fraction / TRUSTED)
            left = weight * current[0] + (1.0 - weight) * left
        return left + factor * sum(st.prior_s for st in self.stages[self.current + 1:])

    def fraction(self, now: float) -> float:
        """The share of the estimated time that has passed, in [0, ``MAX_FRACTION``]."""
        elapsed = max(now - self.start, 0.0)
        total = elapsed + self.remaining_s(now)
        return 0.0 if total <= 0 else min(elapsed / total, MAX_FRACTION)

"""One file, start to finish: diagnose → decide → fix → verify → (fallback) → reports.

Shared by ``flickerd fix`` and the daemon's workers. Everything it writes stays in
``workdir``; publishing (atomic moves into the output folder) is the caller's job. It returns
an ``Outcome`` for every other ending, failed routes included (status ``failed`` with the
error's ``reason`` label), so the caller has one thing to record.

Steps of ``process_file``:
1. diagnose the source (an unusable source raises its ``InputError``: that is final, nothing is
   written and the caller quarantines it or prints the one-line message);
2. pick the steps: ``route_override`` if given, else the first matching rule;
3. ``report``/``attention`` actions end with a report and no video;
4. run the chain into ``workdir`` (output keeps the source's extension) and verify it;
5. if the chain failed or was rejected and the decision has fallback steps, try those once;
6. write the reports; a rejected candidate is deleted after its side-by-side clip is made.
"""

from __future__ import annotations

import functools

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flickerd.diagnose.model import Diagnosis, Verdict
from flickerd.errors import FlickerdError, InputError
from flickerd.eta import Eta, diagnose_stage, plan
from flickerd.media.probe import probe
from flickerd.media.rotation import carry_rotation
from flickerd.media.spill import PairSpill
from flickerd.media.writer import output_extension
from flickerd.report import ReportPaths, fixed_reason, write_reports
from flickerd.report.settings import ReportSettings
from flickerd.routes.base import ChainResult, ProgressFn, Step, no_progress, run_chain
from flickerd.media.guide import Guide
from flickerd.rules import DEFAULT_RULES, Action, Decision, Rule, decide, with_guide, with_seams
from flickerd.verify import Acceptance, Verification, check

STATUSES = ("done", "rejected", "report_only", "needs_attention", "review", "failed")

# Routes that hand the input to the ffmpeg binary, which cannot read a folder of frames: an
# image sequence reaches them as a lossless FFV1 video made in the workdir first.
FILE_ONLY_ROUTES = frozenset({"ffmpeg"})
SEQUENCE_AS_VIDEO = "source.mkv"

DiagnoseFn = Callable[[str, Any, ProgressFn], Diagnosis]
"""``(path, settings, progress) -> Diagnosis``; the default is ``flickerd.diagnose.run``."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one file ended. ``output`` and ``reports`` are paths inside the workdir."""

    status: str  # one of STATUSES
    source: str
    output: str | None = None
    reports: ReportPaths | None = None
    before: Diagnosis | None = None
    after: Diagnosis | None = None
    decision: Decision | None = None
    chain: ChainResult | None = None
    verification: Verification | None = None
    reason: str = ""  # a full sentence for people, whatever the status
    failure: str | None = None  # the errors.FAILURE_REASONS label when status is "failed"
    attempts: tuple[str, ...] = ()  # chains tried, in order, e.g. ("normalize+rife", "normalize")
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def route(self) -> str:
        return self.decision.route if self.decision is not None else "none"


def _default_diagnose(path: str, settings: Any, progress: ProgressFn, seams: tuple[int, ...] = (),
                      tiles_of: Any = None) -> Diagnosis:
    from flickerd.diagnose import run

    if settings is None:
        return run(path, progress=progress, seams=seams, tiles_of=tiles_of)
    return run(path, settings, progress=progress, seams=seams, tiles_of=tiles_of)


def _given_seams(windows: Any, source_info: dict) -> tuple[int, ...]:
    """The seams a sidecar names, within the clip (a frame count that was only estimated may be
    short: twice it is searched, and the diagnosis drops what lies past the last frame)."""
    if windows is None or not (windows.window or windows.seams):
        return ()
    return windows.seams_within(2 * int(source_info.get("frame_count") or 0) + 1)


def _frame_list(frames: Sequence[int], most: int = 8) -> str:
    shown = ", ".join(str(f) for f in frames[:most])
    return shown + (f" and {len(frames) - most} more" if len(frames) > most else "")


def _verify_mode(steps: Sequence[Step]) -> str:
    return "interpolate" if any(s.params.get("mode") == "interpolate" for s in steps) else "fix"


def _output_path(src: str, workdir: str, codec: str | None = None) -> str:
    stem, ext = os.path.splitext(os.path.basename(src))
    ext = output_extension(ext, codec)  # e.g. prores from an mp4 goes into a .mov
    out = os.path.join(workdir, f"{stem}.fixed{ext}")
    if os.path.abspath(out) == os.path.abspath(src):  # never write over the source
        out = os.path.join(workdir, f".{stem}.fixed{ext}")
    return out


class _Progress:
    """Reports the share of the job's estimated time that has passed (``flickerd.eta``), so that
    ``elapsed / fraction - elapsed`` is the time left, from each stage's measured speed.

    Stages are entered in order: the diagnosis first, then ``next`` (or ``chain`` for a chain's
    steps) for each further one; ``plan`` replaces the stages still to come once they are known.
    """

    def __init__(self, fn: ProgressFn, info: Mapping[str, Any], *, compare: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.fn = fn
        self.clock = clock
        self.compare = compare
        self.size = (int(info.get("frame_count") or 1), int(info.get("width") or 1), int(info.get("height") or 1))
        frames, width, height = self.size
        self.bpp = 8.0 * int(info.get("size_bytes") or 0) / (frames * width * height)
        self.eta = Eta((diagnose_stage(*self.size), *plan(*self.size, compare=compare, bits_per_pixel=self.bpp)),
                       clock())
        self.shown = 0.0  # the largest fraction reported so far

    def plan(self, steps: Sequence[Step] | None) -> None:
        """The stages after the current one: ``steps`` then verify and reports (None: reports only)."""
        self.eta.replan(plan(*self.size, [s.route for s in steps] if steps else None, compare=self.compare,
                             bits_per_pixel=self.bpp))

    def step_costs(self, steps: Sequence[Step]) -> list[float]:
        """Each step's prior seconds: where one step of a fused pass counts as done (``run_chain``)."""
        return [stage.prior_s for stage in plan(*self.size, [s.route for s in steps])[:len(steps)]]

    def first(self) -> ProgressFn:
        return self._reporter(0)

    def next(self) -> ProgressFn:
        index = self.eta.current + 1
        self.eta.enter(index, self.clock())
        return self._reporter(index)

    def chain(self, n: int) -> ProgressFn:
        """One callback for a chain of ``n`` steps reporting over [0, 1] (``run_chain``): step i is a stage."""
        first = self.eta.current + 1
        self.eta.enter(first, self.clock())

        def report(x: float) -> None:
            x = max(0.0, min(1.0, x))
            i = min(int(x * n), n - 1)
            self._report(first + i, x * n - i)

        return report

    def reports(self) -> ProgressFn:
        """The last stage, whatever ran before it (a failure skips verification)."""
        index = len(self.eta.stages) - 1
        self.eta.enter(index, self.clock())
        return self._reporter(index)

    def finish(self) -> None:
        self.fn(1.0)

    def tick(self) -> None:
        """Report again without news (a work that has no fraction of its own, such as the re-diagnosis)."""
        self._say(self.eta.fraction(self.clock()))

    def _say(self, fraction: float) -> None:
        # the estimate may grow (a stage slower than its prior); what people see never runs backwards
        self.shown = max(self.shown, fraction)
        self.fn(self.shown)

    def _reporter(self, index: int) -> ProgressFn:
        return lambda f: self._report(index, f)

    def _report(self, index: int, f: float) -> None:
        now = self.clock()
        if index > self.eta.current:
            self.eta.enter(index, now)
        elif index < self.eta.current:
            return  # a late callback of a stage already left
        self.eta.update(f, now)
        self._say(self.eta.fraction(now))


def process_file(
    src: str | os.PathLike,
    workdir: str | os.PathLike,
    *,
    rules: Sequence[Rule] = DEFAULT_RULES,
    route_override: Sequence[Step] | None = None,
    diagnose_settings: Any = None,
    acceptance: Acceptance = Acceptance(),
    gpu: bool = False,
    sidecar: bool = False,
    progress: ProgressFn | None = None,
    on_route: Callable[[str], None] | None = None,
    diagnose_fn: DiagnoseFn | None = None,
    compare: bool = True,
    output_codec: str | None = None,
    report_settings: ReportSettings | None = None,
    guide: Guide | None = None,
    windows: Any = None,
    route_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> Outcome:
    """Process ``src`` into ``workdir`` and say how it ended (see the module docstring).

    ``on_route`` hears the chosen route (``Decision.route``) once, before any fix runs;
    ``diagnose_fn`` swaps the diagnosis engine (tests); ``compare`` turns off the side-by-side clip;
    ``report_settings`` (the ``[reports]`` table) says how that clip is made.
    ``output_codec`` (a folder's ``output_codec``: h264, h265, prores, ffv1, …) is the final step's
    codec; the output container follows it where the source's cannot hold it.
    ``guide`` (``flickerd.media.guide.find_guide``): the render's source video, checked, or why there is
    none; with one, the ``guided`` route replaces the chain the rules chose (which becomes its fallback).
    ``windows``: the render's sidecar (``routes.regenerate.sidecar.Sidecar``) when it names the frames
    that start render windows (``window``, ``seams``): the diagnosis takes those as seams.
    ``route_params``: the config's ``[routes.NAME]`` defaults, laid under the guided chain's steps
    (``rules`` carry them already).
    """
    src = os.fspath(src)
    workdir = os.fspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(src))[0]
    diagnose = diagnose_fn or _default_diagnose
    timings: dict[str, float] = {}
    notes: list[str] = []

    kept: list[PairSpill] = []  # verification's decoded frame pairs, for the side-by-side clip

    def reports(**kw: Any) -> ReportPaths:
        t = time.monotonic()
        guide_doc = None
        if guide is not None:
            used = kw.get("status") in ("done", "review") and kw.get("chain") is not None and kw["chain"].followed_guide
            guide_doc = {**guide.to_dict(), "used": used}
        try:
            return write_reports(workdir, stem, source=src, source_info=source_info, timings=timings, notes=notes,
                                 guide=guide_doc,
                                 compare=compare and kw.get("fixed") is not None,
                                 settings=report_settings or ReportSettings(), progress=bar.reports(),
                                 frames=_kept_pairs(kept, source_info, kw.get("verification")), **kw)
        finally:
            _forget(kept)
            timings["reports"] = time.monotonic() - t
            bar.finish()

    def failed(exc: BaseException, before=None, decision=None, chain=None, attempts=()) -> Outcome:
        reason = str(exc) if isinstance(exc, FlickerdError) else f"internal error: {type(exc).__name__}: {exc}"
        label = exc.reason if isinstance(exc, FlickerdError) else "internal"
        paths = reports(fixed=None, before=before, decision=decision, chain=chain, verification=None,
                        status="failed", reason=reason, failure=label)
        return Outcome("failed", src, None, paths, before, None, decision, chain, None, reason, label,
                       tuple(attempts), dict(timings))

    # 1. diagnose
    t0 = time.monotonic()
    source_info = probe(src).to_dict()  # InputError for an unusable source: final, nothing written
    _describe_sequence(src, source_info, notes)
    bar = _Progress(progress or no_progress, source_info, compare=compare)
    given = _given_seams(windows, source_info)
    if given and diagnose_fn is None:
        diagnose = functools.partial(_default_diagnose, seams=given)
    try:
        before = diagnose(src, diagnose_settings, bar.first())
    except InputError:
        raise  # the source is unusable: final, the caller quarantines it or prints one line
    except FlickerdError as exc:
        timings["diagnose"] = time.monotonic() - t0
        return failed(exc)
    timings["diagnose"] = time.monotonic() - t0
    given = [f for f in given if f in before.seams]
    if given:
        notes.append(f"the sidecar names render windows: seam{'s' if len(given) > 1 else ''} at frame"
                     f"{'s' if len(given) > 1 else ''} {_frame_list(given)}.")
    source_info["rotation"] = before.rotation  # PyAV's probe cannot see the display matrix; the decoder can

    # 2. decide
    if route_override:
        # the diagnosis's seams reach a drift step named by hand too: seams have one standard
        decision = Decision("override", Action.FIX, with_seams(tuple(route_override), before.seams), ())
    else:
        decision = decide(before, rules, sidecar=sidecar, gpu=gpu)
    if guide is not None and guide.note:
        notes.append(guide.note)
    report_if_refused = False  # a render only reported blind, tried with its guide: a refused fix leaves a plain report
    guided = guide is not None and bool(guide.path)
    if decision.note and not (guided and not route_override):
        notes.append(decision.note)  # why the rule acts as it does (e.g. flicker too faint to correct)
    if guided:
        if not route_override:
            report_if_refused = decision.action is Action.REPORT
            decision = with_guide(decision, before.verdict, route_params)
        decision = _guided_steps(decision, guide.path)
    if on_route is not None:
        on_route(decision.route)

    # 3. no-video actions
    if decision.action in (Action.REPORT, Action.ATTENTION) or not decision.steps:
        bar.plan(None)
        status = "needs_attention" if decision.action is Action.ATTENTION else "report_only"
        reason = (f"{before.verdict.value}: post-processing cannot fix this clip; it needs regeneration or a person."
                  if status == "needs_attention" else _reported_why(before, decision))
        paths = reports(fixed=None, before=before, decision=decision, chain=None, verification=None,
                        status=status, reason=reason)
        return Outcome(status, src, None, paths, before, None, decision, None, None, reason, None, (), dict(timings))

    # 4–5. fix and verify, then the fallback once
    out = _output_path(src, workdir, output_codec)
    # the re-diagnosis inside verification reports no fraction of its own, but each call is a point
    # where a cancelled job stops (``flickerd cancel``, a shutdown). ``tiles``: verification's of
    # the input (``verify.check``), on which the engine judges the fix's texture
    def rediagnose(path: str, tiles: Any) -> Diagnosis:
        along = {"tiles_of": tiles} if diagnose_fn is None else {}
        return diagnose(path, diagnose_settings, lambda f: bar.tick(), **along)

    attempts: list[str] = []
    candidates = [decision.steps] + ([decision.fallback] if decision.fallback else [])
    chain: ChainResult | None = None
    verification: Verification | None = None
    for n, steps in enumerate(candidates):
        attempts.append("+".join(s.route for s in steps))
        bar.plan(steps)  # the first chain, or the fallback in place of what the first one had left
        t1 = time.monotonic()
        try:
            chain_src = src
            if source_info.get("container") == "image2" and any(s.route in FILE_ONLY_ROUTES for s in steps):
                chain_src = _sequence_as_video(src, workdir, source_info)
            chain = run_chain(chain_src, steps, out, workdir, progress=bar.chain(len(steps)),
                              final_codec=output_codec, costs=bar.step_costs(steps))
        except Exception as exc:  # a route is a plug-in: any error fails this attempt only
            timings[f"fix{n}"] = time.monotonic() - t1
            _remove(out)
            if n + 1 < len(candidates):
                notes.append(f"chain {attempts[-1]} failed ({_sentence(exc)}); trying the fallback.")
                candidates[n + 1] = _blind(candidates[n + 1])  # it may have failed on the guide: the fallback does not read it
                continue
            return failed(exc, before, decision, None, attempts)
        timings[f"fix{n}"] = time.monotonic() - t1
        t2 = time.monotonic()
        _forget(kept)  # a rejected chain's frames
        if compare and (report_settings or ReportSettings()).compare and _verify_mode(steps) == "fix":
            kept.append(PairSpill(os.path.join(workdir, f".{stem}.frames.tmp")))
        try:
            verification = check(src, out, before, chain, acceptance, mode=_verify_mode(steps),
                                 rediagnose=rediagnose, progress=bar.next(),
                                 guide=str(guide.path) if guide is not None and guide.path else None,
                                 keep=kept[0].add if kept else None)
        except BaseException:  # the source itself went bad between diagnosis and verification, or a cancel
            _forget(kept)
            _remove(out)
            raise
        timings[f"verify{n}"] = time.monotonic() - t2
        if verification.accepted or decision.action is Action.REVIEW or n + 1 == len(candidates):
            break
        notes.append(f"chain {attempts[-1]} was rejected ({' '.join(verification.reasons)}); trying the fallback.")
        _remove(out)

    assert chain is not None and verification is not None
    # ``decision`` stays as the rule wrote it, fallback included, when the fallback ran: the route
    # a job is counted under must be the one it started under (jobs_started/jobs_total; the
    # journal); ``chain`` says what ran (``report.route_text``: "B, the fallback of A")
    own = _own_acceptance(chain)
    if decision.action is Action.REVIEW and own is not None and not own.get("accepted", False):
        # regeneration changes the artwork: it is judged by its own policy, not by fidelity
        status, reason = "rejected", "the regenerated candidate failed its acceptance policy: " + " ".join(
            str(r) for r in own.get("reasons", ()))
    elif decision.action is Action.REVIEW:
        status, reason = "review", "a regenerated candidate for a person to review."
    elif verification.accepted:
        status, reason = "done", fixed_reason(decision, chain, verification)
    else:
        status, reason = "rejected", "verification rejected the fix: " + " ".join(verification.reasons)
    if status == "rejected" and report_if_refused:
        notes.append(f"the guided fix of this {before.verdict.value} render, which the rules alone only report, "
                     f"was not published (verification: {' '.join(verification.reasons)}); the render is reported "
                     "as it is.")
        status, reason = "report_only", _reported_why(before, decision, guided_refused=True)
    if status not in ("rejected", "report_only"):
        carry_rotation(out, source_info["rotation"])  # a phone clip's display matrix, or it plays sideways
    paths = reports(fixed=out, before=before, decision=decision, chain=chain, verification=verification,
                    status=status, reason=reason)
    output: str | None = out
    if status == "rejected" or (status == "report_only" and report_if_refused):
        _remove(out)  # the side-by-side clip is made; the rejected video must never be published
        output = None
    return Outcome(status, src, output, paths, before, verification.after, decision, chain, verification,
                   reason, None, tuple(attempts), dict(timings))


def _reported_why(before: Diagnosis, decision: Decision, *, guided_refused: bool = False) -> str:
    """The sentence a report-only job's ``reason`` holds (the schema asks one of every report but
    a published fix's; it was "" and a folder report showed nothing for 15 of 27 renders)."""
    verdict = before.verdict.value
    if guided_refused:
        return (f"{verdict}: the fix made with the guide was not published (see the notes); the render is "
                "reported as it is.")
    if decision.note:
        return f"{verdict}, reported as it is by rule {decision.rule}: {decision.note}"
    if before.verdict is Verdict.CLEAN:
        return "clean: no flicker worth fixing was found; the render is reported as it is."
    return f"{verdict}: rule {decision.rule} reports this render without fixing it."


def _guided_steps(decision: Decision, guide: str) -> Decision:
    """The decision with the guide's path handed to every step that takes it (the chain's private
    ``_guide``): ``guided`` needs it; ``normalize`` and ``detail``, in its chain or the blind
    fallback, take their motion from it."""
    from flickerd.routes.guide_stream import FLOWS_FROM_GUIDE, GUIDE_PARAM

    def add(steps: tuple[Step, ...]) -> tuple[Step, ...]:
        return tuple(Step(s.route, {**s.params, GUIDE_PARAM: guide}) if s.route in FLOWS_FROM_GUIDE else s
                     for s in steps)

    return Decision(decision.rule, decision.action, add(decision.steps), add(decision.fallback))


def _blind(steps: Sequence[Step]) -> tuple[Step, ...]:
    """``steps`` without the guide's path (``normalize`` and ``detail`` then take the render's own motion)."""
    from flickerd.routes.guide_stream import GUIDE_PARAM

    return tuple(Step(s.route, {k: v for k, v in s.params.items() if k != GUIDE_PARAM}) for s in steps)


def _describe_sequence(src: str, source_info: dict[str, Any], notes: list[str]) -> None:
    """Image sequences: gaps go into the report's notes, generator metadata (PNG chunks or the
    sidecar, as the regeneration route reads it) beside the probe. Never fatal."""
    if source_info.get("container") != "image2":
        return
    from flickerd.media.sequence import describe_gaps, find_sequence
    from flickerd.routes.regenerate.sidecar import generator_record

    gaps = tuple(source_info.get("sequence_gaps") or ())
    if gaps:
        notes.append(f"the image sequence misses frames {describe_gaps(gaps)} (gaps in the numbering); "
                     "it was processed without them.")
    ignored = find_sequence(src).ignored
    if ignored:
        notes.append(f"{len(ignored)} frame file(s) were not read ({', '.join(ignored[:20])}): links leading out "
                     "of the sequence folder, or pipes, sockets or devices.")
    record = generator_record(src)
    source_info["generator"] = record.to_dict() if record is not None else None


def _sequence_as_video(src: str, workdir: str, source_info: Mapping[str, Any]) -> str:
    """The frames of ``src`` as a lossless FFV1 video in ``workdir`` (made once per job, streamed)."""
    from flickerd.media.probe import probe as probe_media
    from flickerd.media.reader import iter_frames
    from flickerd.media.writer import EncodeSettings, VideoWriter

    path = os.path.join(workdir, SEQUENCE_AS_VIDEO)
    if not os.path.exists(path):
        deep = int(source_info.get("bit_depth", 8)) > 8
        tmp = os.path.join(workdir, "." + SEQUENCE_AS_VIDEO)
        with VideoWriter(tmp, probe_media(src), settings=EncodeSettings(codec="ffv1")) as writer:
            for frame in iter_frames(src, deep=deep):
                writer.write(frame.image)
        os.replace(tmp, path)
    return path


def _kept_pairs(kept: Sequence[PairSpill], source_info: Mapping[str, Any], verification: Verification | None):
    """The pairs verification kept, when they are every frame of both files (else None: the clip decodes)."""
    if not kept or not kept[0].usable or verification is None:
        return None
    m = verification.metrics
    n = kept[0].count
    if m.get("frames_in") != n or m.get("frames_out") != n or int(source_info.get("frame_count") or 0) != n:
        return None
    return kept[0].pairs


def _forget(kept: list[PairSpill]) -> None:
    for spill in kept:
        spill.close()
    kept.clear()


def _own_acceptance(chain: ChainResult) -> dict | None:
    """A route's own accept/reject verdict (regeneration reports one in ``extra["acceptance"]``)."""
    verdict = chain.steps[-1].extra.get("acceptance") if chain.steps else None
    return verdict if isinstance(verdict, dict) else None


def _sentence(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, FlickerdError) else f"{type(exc).__name__}: {exc}"


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass

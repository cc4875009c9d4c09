"""Running one job in a worker thread: process in a private workdir, then publish.

``run_task`` is the whole life of a job outside the daemon loop. It never touches the
journal or the metrics: it returns a ``Result`` (and reports ``Progress``) that the daemon
commits and counts. Cancellation is cooperative: the progress callback raises ``JobCancelled``
once the job's cancel event is set.

An image-sequence job (``job.path`` is a folder) reads its frames in place, never changing
them; its output is a video, or (``sequence_output = "sequence"``) a folder of frames in the
source's format and depth, published as one folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flickerd.errors import FlickerdError, InputError
from flickerd.report import json_report
from flickerd.report.json_report import GUIDED_FLOWS
from flickerd.report.placement import Key, Placement, place, place_file
from flickerd.service import publish as pub
from flickerd.service.journal import Job, JobState
from flickerd.service.source_check import source_changed

REPORT_KINDS = (".report.json", ".flicker.png", ".compare.mp4")
_REPORT_KEYS = {".flicker.png": "plot", ".compare.mp4": "compare"}  # their names in report.json "reports"
# A deep (16-bit, float) sequence delivered as video: ProRes keeps 10 bits and full chroma and
# plays in every editor, where 10-bit H.264 does not. An ``output_codec`` overrides it.
DEEP_SEQUENCE_CODEC = "prores"
# A sequence delivered as frames goes through a lossless video (ffv1) in the workdir.
SEQUENCE_INTERMEDIATE_CODEC = "ffv1"
FAILED_DIR = "_failed"
REVIEW_DIR = "_review"

# process_file's Outcome.status → (journal state, where the files go)
_PLACEMENT: Mapping[str, tuple[JobState, str | None, bool]] = {
    # status: (state, subfolder, publish the video)
    "done": (JobState.DONE, None, True),
    "report_only": (JobState.DONE, None, False),
    "needs_attention": (JobState.DONE, None, False),
    "review": (JobState.REVIEW, REVIEW_DIR, True),
    "rejected": (JobState.REJECTED, FAILED_DIR, False),
    "failed": (JobState.FAILED, FAILED_DIR, False),
}


AUTO_ACCEPTED = "a regenerated candidate, published without a person's review (the folder sets auto_accept)."


class JobCancelled(BaseException):
    """Flow control: ``flickerd cancel`` or a shutdown asked this job to stop."""


@dataclass(frozen=True, slots=True)
class Task:
    job: Job
    src_root: Path  # the watched folder
    out_root: Path  # its output folder
    mode: str  # "fix" | "diagnose"
    auto_accept: bool
    rules: tuple
    diagnose_settings: Any
    acceptance: Any
    workdir: Path
    gpu: bool = False
    final_attempt: bool = True  # a failed outcome is retried unless this is the last attempt
    original: Job | None = None  # set for a re-drop of content an earlier job processed (it ended done)
    out_stem: str | None = None  # published names start with this instead of the source's stem (a clash)
    output_codec: str = ""  # the folder's output_codec; "" keeps what came in
    sequence_output: str = "video"  # an image-sequence job: "video" or "sequence" (frames, as they came)
    sequence_fps: float = 24.0  # an image sequence's rate when no sidecar gives one
    report_settings: Any = None  # the [reports] table (report.settings.ReportSettings); None: defaults
    guides: Path | None = None  # the folder's ``guides`` folder of source videos
    guide_wait_s: float = 0.0  # how long a guide the sidecar names is waited for
    route_params: Any = None  # the config's [routes.NAME] defaults, for the chain a guide brings
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True, slots=True)
class Progress:
    job_id: int
    fraction: float


@dataclass(frozen=True, slots=True)
class RouteChosen:
    """The rules chose the job's route (``none``: no video will be made); sent once, before the fix runs."""

    job_id: int
    route: str


@dataclass(frozen=True, slots=True)
class Result:
    job_id: int
    state: JobState
    outcome: str  # metrics label: done, rejected, failed, report_only, needs_attention, review, duplicate, cancelled
    route: str = "none"
    output_path: str | None = None
    report_path: str | None = None
    reason: str | None = None
    error: str | None = None
    retryable: bool = False
    verdict: str | None = None
    flicker_before: float | None = None
    flicker_after: float | None = None
    headline_measure: str | None = None  # verification's headline (``verify.headline``): the measure that fell most
    headline_reduction: float | None = None
    fallback: str | None = None  # the chain that ran when the rules' fallback replaced ``route`` (which stays the label)
    route_versions: str | None = None
    seconds: float = 0.0
    chosen_route: str | None = None  # what RouteChosen said, in case that record arrives late (Ray) or not at all
    guide: str | None = None  # a job with a guide: one of media.guide.GUIDE_STATES; None: no guide
    seams: int = 0  # window seams the input's diagnosis found (or its sidecar named)
    seams_fixed: int = 0  # of those, the ones a published drift step corrected


Processor = Callable[..., Any]
"""``flickerd.process.process_file`` or a test fake with the same signature."""


def default_processor() -> Processor:
    from flickerd.process import process_file

    return process_file


def output_dir(task: Task, sub: str | None = None) -> Path:
    """Where this job's files go, mirroring the source's subfolder for recursive watches."""
    rel = Path(task.job.path).parent.relative_to(task.src_root) if Path(task.job.path).is_relative_to(task.src_root) \
        else Path()
    base = task.out_root / sub if sub else task.out_root
    return base / rel


def source_stem(path: str | os.PathLike) -> str:
    """A source's own name for its outputs: a file's stem, a sequence folder's whole name."""
    p = Path(path)
    return p.name if p.is_dir() else p.stem


def out_stem(task: Task) -> str:
    """What this job's published names start with: the source's stem unless another input claimed it."""
    return task.out_stem or source_stem(task.job.path)


def _report_name(task: Task, produced: Path) -> str:
    for kind in REPORT_KINDS:
        if produced.name.endswith(kind):
            return out_stem(task) + kind
    return produced.name


def _video_name(task: Task, produced: Path) -> str:
    src = Path(task.job.path)
    if task.out_stem is None and produced.suffix.lower() == src.suffix.lower():
        return src.name
    return out_stem(task) + produced.suffix


def _key(task: Task, route_versions: str | None = None) -> Key:
    return Key(task.job.sha256, task.job.rules_hash, route_versions)


def write_note(task: Task, folder: Path, document: Mapping[str, Any]) -> Path:
    """A report made here (failures, quarantine, duplicates), placed and published atomically."""
    placement = Placement(document.get("output"), _key(task), task.job.id, task.job.attempts)
    return pub.publish_bytes(json_report.dumps(place(document, placement)), folder / f"{out_stem(task)}.report.json",
                             root=task.out_root)


def failure_note(task: Task, reason: str, error: str, state: JobState) -> Path:
    return write_note(task, output_dir(task, FAILED_DIR), json_report.note(
        status=state.value, source=task.job.path, reason=error or f"the job ended {state.value} ({reason}).",
        failure=reason))


def _flicker(outcome: Any, key: str) -> float | None:
    """Verification's headline flicker figure (``flicker_before``/``flicker_after``), if it measured one."""
    value = (getattr(getattr(outcome, "verification", None), "metrics", None) or {}).get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _fallback(outcome: Any) -> str | None:
    from flickerd.report import fallback_route

    return fallback_route(getattr(outcome, "decision", None), getattr(outcome, "chain", None))


def _headline(outcome: Any) -> dict[str, Any]:
    """Verification's headline measure and its reduction (both None when it measured none)."""
    metrics = getattr(getattr(outcome, "verification", None), "metrics", None) or {}
    value = _flicker(outcome, "headline_reduction")
    measure = metrics.get("headline_measure") if value is not None else None
    return {"headline_measure": measure if isinstance(measure, str) else None,
            "headline_reduction": value if isinstance(measure, str) else None}


def _route_versions(outcome: Any) -> str | None:
    fix = getattr(outcome, "fix", None) or getattr(outcome, "chain", None)
    steps = getattr(fix, "steps", None)
    if not steps:
        return None
    return json_report.route_versions(fix)


def _duplicate(task: Task) -> Result:
    """Same content as an earlier job that ended done: link its output under this name and say so in a note."""
    orig = task.original
    assert orig is not None
    where = output_dir(task)
    linked, how = None, None
    if orig.output_path and os.path.exists(orig.output_path):
        linked, how = pub.link_or_copy(orig.output_path, where / _video_name(task, Path(orig.output_path)),
                                       root=task.out_root)
    sentence = (f"Same content as {orig.path} (job {orig.id}); not processed again."
                + (f" The output is a {how} to the earlier one." if linked else ""))
    document = json_report.note(
        status="duplicate", source=task.job.path, reason=sentence, output=str(linked) if linked else None,
        duplicate_of={"job": orig.id, "file": orig.path, "output": orig.output_path, "report": orig.report_path,
                      "state": orig.state.value, "outcome": orig.outcome})
    placement = Placement(document["output"], _key(task, orig.route_versions), task.job.id, task.job.attempts)
    note = pub.publish_bytes(json_report.dumps(place(document, placement)), where / f"{out_stem(task)}.report.json",
                             root=task.out_root)
    return Result(task.job.id, JobState.DONE, "duplicate", route=orig.route or "none",
                  output_path=str(linked) if linked else None, report_path=str(note),
                  route_versions=orig.route_versions)


def _publish_outcome(task: Task, outcome: Any, frames: Path | None = None) -> tuple[JobState, str, str | None, str | None]:
    """Publish reports, then the video (or ``frames``, a sequence folder made from it)."""
    status = str(getattr(outcome, "status", "failed"))
    if status == "review" and task.auto_accept:
        status = "done"  # this folder trusts regenerated candidates without a person's look
    state, sub, with_video = _PLACEMENT.get(status, (JobState.FAILED, FAILED_DIR, False))
    where = output_dir(task, sub)
    report_path = None
    published: list[Path] = []
    video = getattr(outcome, "output", None)
    target: Path | None = None  # the video's (or frames folder's) published name, known before it exists
    if with_video and task.mode != "diagnose" and frames is not None:
        target = where / out_stem(task)
    elif with_video and task.mode != "diagnose" and video and Path(video).exists():
        target = where / _video_name(task, Path(video))
    produced_reports = [Path(p) for p in getattr(outcome, "reports", ()) or () if Path(p).exists()]
    finals = {p: where / _report_name(task, p) for p in produced_reports}
    placement = Placement(
        str(target) if target else None, _key(task, _route_versions(outcome)), task.job.id, task.job.attempts,
        status=status if status != getattr(outcome, "status", status) else None,
        reason=AUTO_ACCEPTED if status != getattr(outcome, "status", status) else None,
        reports={kind: str(f) for p, f in finals.items() for suffix, kind in _REPORT_KEYS.items()
                 if p.name.endswith(suffix)})
    try:
        # reports first: whoever sees the video can rely on its report being there
        for produced in produced_reports:
            if produced.name.endswith(".report.json"):
                place_file(produced, placement)  # names the published files, not the workdir's
            final = pub.publish(produced, finals[produced], move=True, root=task.out_root)
            published.append(final)
            if final.name.endswith(".report.json"):
                report_path = str(final)
        if report_path is None and state in (JobState.REJECTED, JobState.FAILED):
            report_path = str(write_note(task, where, json_report.note(
                status=state.value, source=task.job.path,
                reason=getattr(outcome, "reason", None) or f"the job ended {state.value}.",
                failure=getattr(outcome, "failure", None))))
            published.append(Path(report_path))
        output_path = None
        if target is not None and frames is not None:
            output_path = str(pub.publish_folder(frames, target, root=task.out_root))
        elif target is not None:
            output_path = str(pub.publish(video, target, move=True, root=task.out_root))
    except (OSError, FlickerdError):
        # a disk that filled up half way, or a link in the way: take back this job's own files, so a retry starts clean
        # and no reader sees a report whose video never came
        for path in published:
            path.unlink(missing_ok=True)
        raise
    return state, status, output_path, report_path


@dataclass(frozen=True, slots=True)
class _SequenceJob:
    """What a sequence job needs beyond a file's: its rate, codec, sidecar flag, gaps and template."""

    folder: Path
    fps: float
    codec: str
    sidecar: bool
    gaps: tuple[int, ...]
    deep: bool
    template: Any  # media.sequence.ImageSequence

    @property
    def gaps_sentence(self) -> str:
        from flickerd.media.sequence import describe_gaps

        return (f"{self.folder}: frames {describe_gaps(self.gaps)} are missing from the numbering; "
                "the sequence was processed without them.")

    def fps_default(self) -> contextlib.AbstractContextManager:
        from flickerd.media.sequence import default_fps

        return default_fps(self.folder, self.fps)


def _sequence_job(task: Task) -> _SequenceJob:
    """Probe a sequence folder (first frame only) and decide its output codec and sidecar flag."""
    from flickerd.media.probe import probe
    from flickerd.media.sequence import default_fps, find_sequence
    from flickerd.routes.regenerate.sidecar import generator_record

    folder = Path(task.job.path)
    with default_fps(folder, task.sequence_fps):
        info = probe(folder)  # an InputError here is final: quarantined
    template = find_sequence(folder)
    deep = info.bit_depth > 8
    codec = sequence_codec(deep=deep, sequence_output=task.sequence_output, output_codec=task.output_codec)
    return _SequenceJob(folder, task.sequence_fps, codec, generator_record(folder) is not None,
                        template.gaps, deep, template)


def sequence_codec(*, deep: bool, sequence_output: str, output_codec: str) -> str:
    """The codec a sequence job's fix writes ("" : the default, H.264 mp4). Pure.

    Frames out: a lossless FFV1 video in between. Video out: the folder's ``output_codec``, else
    ProRes for 16-bit and float frames (10-bit), else H.264.
    """
    if sequence_output == "sequence":
        return SEQUENCE_INTERMEDIATE_CODEC
    return output_codec or (DEEP_SEQUENCE_CODEC if deep else "")


def _frames_output(task: Task, seq: _SequenceJob | None, outcome: Any) -> Path | None:
    """For ``sequence_output = "sequence"``: the fixed video as frames like the source's, in the workdir."""
    video = getattr(outcome, "output", None)
    if seq is None or task.sequence_output != "sequence" or task.mode == "diagnose" or not video \
            or not Path(video).exists():
        return None
    from flickerd.media.to_sequence import video_to_sequence

    frames = task.workdir / "frames" / seq.folder.name
    # numbered like the source (an interpolated output numbers on past its last frame)
    video_to_sequence(str(video), frames, seq.template, sixteen_bit=seq.deep)
    return frames


def same_route_versions(recorded: str | None) -> bool:
    """Whether the routes an earlier job ran (``name=version,...``) still have those versions."""
    if not recorded:
        return True  # no video route ran (report only): nothing can have changed
    from flickerd.routes.registry import get_route

    for part in recorded.split(","):
        name, _, version = part.partition("=")
        version = version.removesuffix(GUIDED_FLOWS)  # the route's own version; guided or not
        try:
            if get_route(name).version != version:
                return False
        except Exception:  # the route is gone or broken: do not trust the old output
            return False
    return True


def run_task(task: Task, processor: Processor, report: Callable[[Progress | RouteChosen], None]) -> Result:
    """Process one job and publish its files. Steps:

    1. a duplicate of earlier content (same rules, same route versions) is linked, not processed;
    2. a fresh workdir is made under the state dir;
    3. ``processor`` diagnoses, decides, fixes and verifies inside it;
    4. a source that changed meanwhile publishes nothing (``cancelled``, reason ``source_changed``:
       its new version is its own job); otherwise reports, then the video, are published atomically by outcome
       (output folder, ``_review/`` or ``_failed/``);
    5. the workdir is removed whatever happened.

    Input errors are final (quarantine); other errors are retryable; cancellation returns
    a ``cancelled`` result. Once the rules choose the route, ``report`` gets a ``RouteChosen``.
    """
    chosen: list[str] = []

    def on_route(route: str) -> None:
        chosen.append(route)
        report(RouteChosen(task.job.id, route))

    result = _run(task, processor, report, on_route)
    if not chosen:
        return result
    # stopped or broken after the choice (cancelled, publish failed): the chosen route ran
    route = chosen[0] if result.route == "none" else result.route
    return dataclasses.replace(result, chosen_route=chosen[0], route=route)


def _find_guide(task: Task, src: Path, sidecar: Any):  # sidecar: routes.regenerate.sidecar.Sidecar | None
    """The render's guide (``media.guide``), waiting for one the sidecar names; None when there is none."""
    from flickerd.media.guide import find_guide

    return find_guide(src, root=task.src_root, guides_dir=task.guides, wait_s=task.guide_wait_s,
                      sidecar_guide=sidecar.guide if sidecar is not None else None, cancelled=task.cancel.is_set)


def _seam_counts(outcome: Any, state: JobState) -> dict[str, int]:
    """Window seams in the input, and those a published ``drift`` step corrected (``Result``)."""
    seams = len(getattr(getattr(outcome, "before", None), "seams", ()) or ())
    chain = getattr(outcome, "chain", None)
    fixed = state is JobState.DONE and chain is not None and any(s.route == "drift" for s in chain.steps)
    return {"seams": seams, "seams_fixed": seams if fixed else 0}


def _guide_state(guide: Any, outcome: Any, status: str) -> str | None:
    """What became of a job's guide (``media.guide.GUIDE_STATES``); None when it had none. By the
    outcome, as the report's ``guide.used``: a refused guided fix of a render reported as it is ends
    in state done (outcome report_only) and was counted "used" (qa19)."""
    from flickerd.media.guide import GUIDE_NOT_USED, GUIDE_UNUSABLE, GUIDE_USED

    if guide is None:
        return None
    if not guide.path:
        return GUIDE_UNUSABLE
    chain = getattr(outcome, "chain", None)
    ran = chain is not None and chain.followed_guide
    return GUIDE_USED if ran and status in ("done", "review") else GUIDE_NOT_USED


def _run(task: Task, processor: Processor, report: Callable[[Progress | RouteChosen], None],
         on_route: Callable[[str], None]) -> Result:
    start = time.monotonic()
    if task.original is not None and same_route_versions(task.original.route_versions):
        return _duplicate(task)
    last = [0.0]

    def progress(fraction: float) -> None:
        if task.cancel.is_set():
            raise JobCancelled()
        now = time.monotonic()
        if now - last[0] >= 0.5 or fraction >= 1.0:
            last[0] = now
            report(Progress(task.job.id, max(0.0, min(1.0, float(fraction)))))

    shutil.rmtree(task.workdir, ignore_errors=True)
    task.workdir.mkdir(parents=True)
    try:
        from flickerd.routes.regenerate.sidecar import generator_record
        from flickerd.rules import Action, Match, Rule

        rules = task.rules if task.mode != "diagnose" else (Rule("diagnose-only", Match(), Action.REPORT),)
        src = Path(task.job.path)
        root, real = os.path.realpath(task.src_root), os.path.realpath(src)
        if os.path.commonpath([root, real]) != root:  # replaced by a link since it was taken in
            raise InputError(f"{src}: now links outside its watched folder (to {real}); it was not read.")
        seq = _sequence_job(task) if src.is_dir() else None
        sidecar = seq.sidecar if seq is not None else src.with_suffix(".json").exists()
        codec = seq.codec if seq is not None else task.output_codec
        record = generator_record(src) if seq is None else None
        windows = record if record is not None and (record.window or record.seams) else None
        guide = _find_guide(task, src, record) if seq is None and task.mode != "diagnose" else None
        if task.cancel.is_set():
            raise JobCancelled()
        with seq.fps_default() if seq is not None else contextlib.nullcontext():
            outcome = processor(str(src), str(task.workdir), rules=rules, diagnose_settings=task.diagnose_settings,
                                acceptance=task.acceptance, gpu=task.gpu, sidecar=sidecar, progress=progress,
                                on_route=on_route, **({"guide": guide} if guide is not None else {}),
                                **({"windows": windows} if windows is not None else {}),
                                **({"route_params": task.route_params} if task.route_params else {}),
                                **({"output_codec": codec} if codec else {}),
                                **({"report_settings": task.report_settings} if task.report_settings else {}))
            if task.cancel.is_set():
                raise JobCancelled()
            frames = _frames_output(task, seq, outcome)
        decision = getattr(outcome, "decision", None)
        route = getattr(decision, "route", None) or "none"
        status = str(getattr(outcome, "status", "failed"))
        if status == "failed" and not task.final_attempt:
            # retried later; its reports would only go stale in _failed/
            return Result(task.job.id, JobState.FAILED, "failed", route=route,
                          reason=getattr(outcome, "failure", None) or "internal",
                          error=getattr(outcome, "reason", None) or None, retryable=True,
                          seconds=time.monotonic() - start)
        changed = source_changed(task.job, sequence_fps=task.sequence_fps)
        if changed is not None:
            return Result(task.job.id, JobState.CANCELLED, "cancelled", route=route, reason="source_changed",
                          error=changed, seconds=time.monotonic() - start)
        state, status, output_path, report_path = _publish_outcome(task, outcome, frames)
        reason = None
        if state is JobState.FAILED:
            reason = getattr(outcome, "failure", None) or "internal"
        elif state is JobState.REJECTED:
            reason = "verify_rejected"
        error = (getattr(outcome, "reason", None) or None) if reason else None
        if reason is None and seq is not None and seq.gaps:
            reason, error = "sequence_gaps", seq.gaps_sentence  # not a failure: said where people look
        return Result(
            task.job.id, state, status, route=route,
            output_path=output_path, report_path=report_path,
            reason=reason, error=error,
            retryable=state is JobState.FAILED,
            verdict=getattr(getattr(getattr(outcome, "before", None), "verdict", None), "value", None),
            flicker_before=_flicker(outcome, "flicker_before"),
            flicker_after=_flicker(outcome, "flicker_after"),
            **_headline(outcome),
            fallback=_fallback(outcome),
            route_versions=_route_versions(outcome),
            seconds=time.monotonic() - start,
            guide=_guide_state(guide, outcome, status),
            **_seam_counts(outcome, state),
        )
    except JobCancelled:
        return Result(task.job.id, JobState.CANCELLED, "cancelled", reason="cancelled",
                      seconds=time.monotonic() - start)
    except InputError as exc:
        return Result(task.job.id, JobState.QUARANTINED, "quarantined", reason=exc.reason, error=str(exc),
                      seconds=time.monotonic() - start)
    except FlickerdError as exc:
        return Result(task.job.id, JobState.FAILED, "failed", reason=exc.reason, error=str(exc), retryable=True,
                      seconds=time.monotonic() - start)
    except MemoryError as exc:
        return Result(task.job.id, JobState.FAILED, "failed", reason="out_of_memory", error=repr(exc),
                      retryable=True, seconds=time.monotonic() - start)
    except OSError as exc:
        reason = "disk_full" if exc.errno == 28 else "permission" if exc.errno in (1, 13) else "internal"
        return Result(task.job.id, JobState.FAILED, "failed", reason=reason, error=str(exc), retryable=True,
                      seconds=time.monotonic() - start)
    except Exception as exc:  # a bug in a route must not kill the daemon: record it, retry, quarantine
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return Result(task.job.id, JobState.FAILED, "failed", reason="internal", error=tb, retryable=True,
                      seconds=time.monotonic() - start)
    finally:
        shutil.rmtree(task.workdir, ignore_errors=True)

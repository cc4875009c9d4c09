import json
import os
import threading
from pathlib import Path
from types import SimpleNamespace

from flickerd.commands.review import moved
from flickerd.errors import NotAVideo, RouteError
from flickerd.report import json_report
from flickerd.routes.base import ChainResult, StepResult
from flickerd.routes.registry import get_route
from flickerd.service.hashing import sha256_file
from flickerd.service.journal import Journal, JobState
from flickerd.service.worker import RouteChosen, Task, run_task


RULES_HASH = "fix:0123456789abcdef"
CHAIN = ChainResult(tuple(StepResult(r, get_route(r).version, "test", {}) for r in ("normalize", "ffmpeg")), "", 0.0)
VERSIONS = ",".join(f"{s.route}={s.version}" for s in CHAIN.steps)


def make_task(tmp_path, *, auto_accept=True, final_attempt=True, cancel=None):
    src = tmp_path / "in" / "sub" / "clip.mp4"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(b"source bytes")
    j = Journal.in_state_dir(tmp_path / "state")
    st = src.stat()
    job = j.add(path=str(src), folder="in", sha256=sha256_file(src), size=st.st_size, mtime=st.st_mtime,
                rules_hash=RULES_HASH)
    j.close()
    return Task(job=job, src_root=tmp_path / "in", out_root=tmp_path / "out", mode="fix", auto_accept=auto_accept,
                rules=(), diagnose_settings=None, acceptance=None, workdir=tmp_path / "state" / "work" / "1",
                final_attempt=final_attempt, cancel=cancel or threading.Event())


def fake(status, *, video=True, failure=None):
    """A processor with process_file's signature that writes what a real one would, in the workdir."""

    def process(src, workdir, **kw):
        kw["progress"](0.5)
        w = Path(workdir)
        (w / "clip.report.json").write_bytes(json_report.dumps(json_report.note(
            status=status, source=src, reason="a sentence" if status != "done" else "", failure=failure)))
        (w / "clip.flicker.png").write_bytes(b"png")
        out = None
        if video:
            out = w / "clip.mp4"
            out.write_bytes(b"fixed video")
        decision = SimpleNamespace(route="normalize+rife")
        return SimpleNamespace(status=status, output=str(out) if out else None,
                               reports=[w / "clip.report.json", w / "clip.flicker.png"], decision=decision,
                               reason="a sentence" if status != "done" else "", failure=failure,
                               before=SimpleNamespace(verdict=SimpleNamespace(value="generative_flicker"),
                                                      scores={"flicker": 0.4}),
                               after=SimpleNamespace(scores={"flicker": 0.1}), chain=CHAIN if video else None,
                               verification=SimpleNamespace(metrics={"flicker_before": 0.4, "flicker_after": 0.1}))

    return process


def progress_sink():
    got = []
    return got, got.append


def test_done_publishes_video_and_reports_mirroring_subfolders(tmp_path):
    task = make_task(tmp_path)
    got, report = progress_sink()
    res = run_task(task, fake("done"), report)
    out = tmp_path / "out" / "sub"
    assert res.state is JobState.DONE and res.route == "normalize+rife"
    assert (out / "clip.mp4").read_bytes() == b"fixed video"
    assert res.output_path == str(out / "clip.mp4") and res.report_path == str(out / "clip.report.json")
    assert (out / "clip.flicker.png").exists()
    assert res.flicker_before == 0.4 and res.flicker_after == 0.1 and res.verdict == "generative_flicker"
    assert got and got[0].fraction == 0.5
    assert not task.workdir.exists()
    assert (tmp_path / "in" / "sub" / "clip.mp4").read_bytes() == b"source bytes"


def _report(path):
    return json.loads(Path(path).read_text())


def test_a_fallback_that_ran_keeps_the_rules_route_and_is_named_beside_it(tmp_path):
    # the fake's rules chose normalize+rife; its chain (normalize+ffmpeg) is what ran instead
    chosen, done = [], fake("done")

    def process(src, workdir, **kw):
        kw["on_route"]("normalize+rife")
        return done(src, workdir, **kw)

    res = run_task(make_task(tmp_path), process, lambda p: chosen.append(p))
    assert res.route == "normalize+rife" and res.fallback == "normalize+ffmpeg"
    assert [p.route for p in chosen if isinstance(p, RouteChosen)] == ["normalize+rife"]


def test_published_report_names_the_published_video_and_carries_the_key(tmp_path):
    task = make_task(tmp_path)
    res = run_task(task, fake("done"), lambda p: None)
    doc = _report(res.report_path)
    assert doc["output"] == res.output_path == str(tmp_path / "out" / "sub" / "clip.mp4")  # not the workdir's
    assert doc["key"] == {"sha256": task.job.sha256, "rules_hash": RULES_HASH, "route_versions": VERSIONS}
    assert res.route_versions == doc["key"]["route_versions"]  # what the journal records
    assert doc["job"] == {"id": task.job.id, "attempts": task.job.attempts}
    assert doc["reports"]["plot"] == "clip.flicker.png" and doc["status"] == "done"


def test_published_report_follows_a_clash_renamed_stem(tmp_path):
    import dataclasses

    task = dataclasses.replace(make_task(tmp_path), out_stem="clip.mp4")
    res = run_task(task, fake("done"), lambda p: None)
    doc = _report(res.report_path)
    assert res.report_path.endswith("clip.mp4.report.json")
    assert doc["reports"]["plot"] == "clip.mp4.flicker.png" and Path(res.report_path).with_name("clip.mp4.flicker.png").exists()


def test_review_and_rejected_reports_say_where_the_video_is(tmp_path):
    res = run_task(make_task(tmp_path / "a", auto_accept=False), fake("review"), lambda p: None)
    doc = _report(res.report_path)
    assert doc["output"] == str(tmp_path / "a" / "out" / "_review" / "sub" / "clip.mp4") and doc["status"] == "review"
    res = run_task(make_task(tmp_path / "b", auto_accept=True), fake("review"), lambda p: None)
    doc = _report(res.report_path)
    assert doc["status"] == "done" and "auto_accept" in doc["reason"]  # what happened, not what was planned
    assert doc["output"] == str(tmp_path / "b" / "out" / "sub" / "clip.mp4")
    res = run_task(make_task(tmp_path / "c"), fake("rejected", video=False), lambda p: None)
    doc = _report(res.report_path)
    assert doc["output"] is None and doc["status"] == "rejected"


def test_quarantine_and_duplicate_reports_have_the_one_schema(tmp_path):
    from flickerd.service.worker import failure_note

    task = make_task(tmp_path / "q")
    doc = _report(failure_note(task, "not_a_video", "clip.mp4: contains no video stream.", JobState.QUARANTINED))
    assert (doc["schema"], doc["kind"], doc["status"], doc["failure"]) == (json_report.SCHEMA_VERSION, "flickerd.report", "quarantined",
                                                                            "not_a_video")
    assert doc["key"]["sha256"] == task.job.sha256 and doc["reason"].endswith("no video stream.")

    first = make_task(tmp_path / "d")
    done = run_task(first, fake("done"), lambda p: None)
    j = Journal.in_state_dir(tmp_path / "d" / "state")
    orig = j.transition(first.job.id, JobState.RUNNING)
    orig = j.transition(first.job.id, JobState.DONE, output_path=done.output_path, report_path=done.report_path,
                        route="normalize+rife", route_versions=done.route_versions)
    j.close()
    import dataclasses

    again = dataclasses.replace(make_task(tmp_path / "e"), original=orig)
    res = run_task(again, fake("done"), lambda p: None)
    doc = _report(res.report_path)
    assert (doc["schema"], doc["kind"], doc["status"]) == (json_report.SCHEMA_VERSION, "flickerd.report", "duplicate")
    assert doc["duplicate_of"]["job"] == orig.id and doc["output"] == res.output_path
    assert doc["key"] == {"sha256": again.job.sha256, "rules_hash": RULES_HASH, "route_versions": VERSIONS}


def test_review_candidate_waits_under_review_unless_auto_accept(tmp_path):
    res = run_task(make_task(tmp_path / "a", auto_accept=False), fake("review"), lambda p: None)
    assert res.state is JobState.REVIEW
    assert (tmp_path / "a" / "out" / "_review" / "sub" / "clip.mp4").exists()
    assert not (tmp_path / "a" / "out" / "sub" / "clip.mp4").exists()
    res = run_task(make_task(tmp_path / "b", auto_accept=True), fake("review"), lambda p: None)
    assert res.state is JobState.DONE
    assert (tmp_path / "b" / "out" / "sub" / "clip.mp4").exists()


def test_verified_fix_is_published_directly_whatever_auto_accept_says(tmp_path):
    res = run_task(make_task(tmp_path, auto_accept=False), fake("done"), lambda p: None)
    assert res.state is JobState.DONE
    assert (tmp_path / "out" / "sub" / "clip.mp4").exists()
    assert not (tmp_path / "out" / "_review").exists()


def test_rejected_goes_to_failed_without_video(tmp_path):
    res = run_task(make_task(tmp_path), fake("rejected", video=False), lambda p: None)
    assert res.state is JobState.REJECTED and res.reason == "verify_rejected"
    assert (tmp_path / "out" / "_failed" / "sub" / "clip.report.json").exists()
    assert not list((tmp_path / "out").rglob("clip.mp4"))


def test_failed_outcome_is_retried_quietly_until_the_last_attempt(tmp_path):
    res = run_task(make_task(tmp_path, final_attempt=False), fake("failed", video=False, failure="route_failed"),
                   lambda p: None)
    assert res.retryable and res.reason == "route_failed" and not (tmp_path / "out").exists()
    res = run_task(make_task(tmp_path / "b"), fake("failed", video=False, failure="route_failed"), lambda p: None)
    assert res.retryable and (tmp_path / "b" / "out" / "_failed" / "sub" / "clip.report.json").exists()


def test_errors_map_to_quarantine_or_retry(tmp_path):
    def bad_input(src, workdir, **kw):
        raise NotAVideo(f"{src}: contains no video stream.")

    def bad_route(src, workdir, **kw):
        raise RouteError("ffmpeg exited with 1.")

    def bug(src, workdir, **kw):
        raise ZeroDivisionError("oops")

    res = run_task(make_task(tmp_path / "a"), bad_input, lambda p: None)
    assert res.state is JobState.QUARANTINED and res.reason == "not_a_video" and not res.retryable
    res = run_task(make_task(tmp_path / "b"), bad_route, lambda p: None)
    assert res.retryable and res.reason == "route_failed"
    res = run_task(make_task(tmp_path / "c"), bug, lambda p: None)
    assert res.retryable and res.reason == "internal" and "ZeroDivisionError" in res.error


def test_cancel_stops_at_the_next_progress_call(tmp_path):
    cancel = threading.Event()
    cancel.set()
    task = make_task(tmp_path, cancel=cancel)
    res = run_task(task, fake("done"), lambda p: None)
    assert res.state is JobState.CANCELLED
    assert not (tmp_path / "out").exists() and not task.workdir.exists()


def test_review_paths():
    assert moved(Path("/o/_review/a/x.mp4"), None) == Path("/o/a/x.mp4")
    assert moved(Path("/o/_review/x.mp4"), "_failed") == Path("/o/_failed/x.mp4")


def rewriting(src, data, *, then=None):
    """A processor that, while 'processing', has the source rewritten with ``data`` (a re-export)."""
    inner = fake("done")

    def process(path, workdir, **kw):
        out = inner(path, workdir, **kw)
        src.write_bytes(data)
        os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 5_000_000_000))
        return out

    return process


def test_source_rewritten_during_the_job_publishes_nothing(tmp_path):
    task = make_task(tmp_path)
    src = Path(task.job.path)
    res = run_task(task, rewriting(src, b"source BYTES"), lambda p: None)  # same size, new content
    assert res.state is JobState.CANCELLED and res.reason == "source_changed"
    assert "changed while it was being processed" in res.error
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))
    assert not task.workdir.exists()


def test_source_touched_with_the_same_bytes_still_publishes(tmp_path):
    task = make_task(tmp_path)
    src = Path(task.job.path)
    res = run_task(task, rewriting(src, b"source bytes"), lambda p: None)
    assert res.state is JobState.DONE
    assert (tmp_path / "out" / "sub" / "clip.mp4").read_bytes() == b"fixed video"


def test_sequence_with_a_frame_rewritten_during_the_job_publishes_nothing(tmp_path):
    from PIL import Image

    from flickerd.service.sequence_hash import sequence_hash

    folder = tmp_path / "in" / "shot"
    folder.mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (16, 8), (i * 40, 0, 0)).save(folder / f"shot_{i:04d}.png")
    sha, snap = sequence_hash(str(folder), marker="_done", default_fps=24.0)
    j = Journal.in_state_dir(tmp_path / "state")
    job = j.add(path=str(folder), folder="in", sha256=sha, size=snap.st_size, mtime=snap.st_mtime)
    j.close()
    task = Task(job=job, src_root=tmp_path / "in", out_root=tmp_path / "out", mode="fix", auto_accept=True,
                rules=(), diagnose_settings=None, acceptance=None, workdir=tmp_path / "state" / "work" / "1")
    frame = folder / "shot_0001.png"
    res = run_task(task, rewriting(frame, frame.read_bytes().replace(b"IDAT", b"IDAT", 1) + b"\0"), lambda p: None)
    assert res.state is JobState.CANCELLED and res.reason == "source_changed"


def test_the_chosen_route_is_reported_before_the_fix_and_kept_by_a_cancelled_job(tmp_path):
    cancel = threading.Event()

    def process(src, workdir, **kw):
        kw["on_route"]("normalize+rife")  # process_file calls it right after the rules decide
        cancel.set()  # a `flickerd cancel` arrives while the chain runs
        kw["progress"](0.6)

    got, sink = progress_sink()
    res = run_task(make_task(tmp_path, cancel=cancel), process, sink)
    assert [g for g in got if isinstance(g, RouteChosen)] == [RouteChosen(res.job_id, "normalize+rife")]
    assert res.state is JobState.CANCELLED and res.outcome == "cancelled"
    assert res.route == res.chosen_route == "normalize+rife"  # counted under the route that ran


def test_a_job_that_ends_before_a_route_is_chosen_has_none(tmp_path):
    def process(src, workdir, **kw):
        raise NotAVideo(f"{src}: not a video")

    got, sink = progress_sink()
    res = run_task(make_task(tmp_path), process, sink)
    assert not [g for g in got if isinstance(g, RouteChosen)]
    assert res.route == "none" and res.chosen_route is None


def test_a_sidecars_window_reaches_the_processor_and_the_seams_are_counted(tmp_path):
    task = make_task(tmp_path)
    (tmp_path / "in" / "sub" / "clip.json").write_text('{"window": 81}')
    seen = {}
    inner = fake("done")

    def process(src, workdir, **kw):
        seen.update(kw)
        out = inner(src, workdir, **kw)
        out.before.seams = (81, 162)
        out.chain = ChainResult((StepResult("drift", get_route("drift").version, "test", {}),), "", 0.0)
        return out

    res = run_task(task, process, lambda item: None)
    assert seen["windows"].window == 81 and seen["windows"].seams_within(200) == (81, 162)
    assert (res.state, res.seams, res.seams_fixed) == (JobState.DONE, 2, 2)
    # a render without a sidecar gets no windows; a chain without drift fixes no seam
    task = make_task(tmp_path / "b")
    seen.clear()
    res = run_task(task, lambda src, workdir, **kw: (seen.update(kw), inner(src, workdir, **kw))[1], lambda item: None)
    assert "windows" not in seen and (res.seams, res.seams_fixed) == (0, 0)


def test_window_seams_are_counted_by_stage():
    from prometheus_client import CollectorRegistry

    from flickerd.metrics import Metrics

    registry = CollectorRegistry()
    m = Metrics(registry, folders=["in"], routes=["drift"])
    value = lambda stage: registry.get_sample_value("flickerd_window_seams_total", {"stage": stage})  # noqa: E731
    assert (value("found"), value("fixed")) == (0.0, 0.0)
    m.seams(3, 0)
    m.seams(2, 2)
    m.seams(0, 0)
    assert (value("found"), value("fixed")) == (5.0, 2.0)


def test_route_defaults_reach_the_processor_from_the_config(tmp_path):
    """A guide's chain is built in process_file, after the rules were merged with ``[routes.NAME]``:
    the daemon hands those defaults along so the guided chain gets them too."""
    from flickerd import config
    from flickerd.service.daemon import Daemon
    from tests.service.helpers import make_clip, write_config

    cfg = write_config(tmp_path, rules="[routes.guided]\nradius = 2\n", settle_s=0.1, folder_extra='mode = "fix"')
    make_clip(tmp_path / "stage.mp4").rename(tmp_path / "in" / "a.mp4")
    seen = {}
    inner = fake("done")

    def process(src, workdir, **kw):
        seen.update(kw)
        return inner(src, workdir, **kw)

    Daemon(config.load(cfg), processor=process, once=True, install_signals=False).run()
    assert seen["route_params"] == {"guided": {"radius": 2}}
    # without [routes] tables nothing extra is passed (a processor may not know the keyword)
    seen.clear()
    task = make_task(tmp_path / "b")
    run_task(task, lambda src, workdir, **kw: (seen.update(kw), inner(src, workdir, **kw))[1], lambda item: None)
    assert "route_params" not in seen and seen


def test_a_refused_guided_fix_reported_as_is_did_not_use_its_guide(tmp_path, monkeypatch):
    # qa19: a clean render's guided fix, refused, ends report_only (journal state done): the report
    # said guide.used false, flickerd_guided_jobs_total counted it "used"
    from flickerd.media.guide import Guide
    from flickerd.service import worker

    monkeypatch.setattr(worker, "_find_guide", lambda task, src, sidecar: Guide(str(src), "beside"))
    guided = ChainResult(tuple(StepResult(r, get_route(r).version, "test", {}) for r in ("normalize", "guided")), "", 0.0)
    reported = fake("report_only", video=False)

    def process(src, workdir, **kw):
        return SimpleNamespace(**{**vars(reported(src, workdir, **kw)), "chain": guided})

    res = run_task(make_task(tmp_path), process, lambda p: None)
    assert res.outcome == "report_only" and res.guide == "not_used"
    done = fake("done")
    res = run_task(make_task(tmp_path / "b"), lambda s, w, **kw: SimpleNamespace(**{**vars(done(s, w, **kw)),
                                                                                  "chain": guided}), lambda p: None)
    assert res.outcome == "done" and res.guide == "used"

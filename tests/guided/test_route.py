"""The guided route and process_file with a guide: stability from the guide, appearance from the render."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from flickerd.errors import RouteError
from flickerd.media.guide import Guide, find_guide
from flickerd.process import process_file
from flickerd.routes.base import Step
from flickerd.routes.guided import GUIDE_PARAM, GuidedRoute
from flickerd.routes.registry import get_route
from flickerd.service.worker import same_route_versions
from flickerd.synth import real

from .conftest import N, decoded, scene


def psnr(a, b) -> float:
    mse = np.mean([np.mean((x.astype(np.float32) - y.astype(np.float32)) ** 2) for x, y in zip(a, b)])
    return float(10 * np.log10(255.0**2 / mse))


frames_of = decoded


def test_guided_route_steadies_without_copying_the_guide(material, tmp_path):
    folder, guide, truth, _ = material
    out = tmp_path / "out.mp4"
    r = GuidedRoute().fix(str(folder / "shot.mp4"), str(out), {GUIDE_PARAM: str(folder / "shot.guide.mp4")})
    fixed, rendered = frames_of(out), frames_of(folder / "shot.mp4")
    assert len(fixed) == N and r.extra["frames"] == N
    assert 0.2 < r.extra["mean_neighbour_weight"] <= 1.0
    before, after = psnr(rendered, truth), psnr(fixed, truth)
    assert after > before + 2.0, (before, after)
    # the style stays: far closer to the restyled truth than to the guide it took its stability from
    assert after > psnr(fixed, guide) + 5.0


def test_plain_mean_is_worse_than_compensated(material, tmp_path):
    folder, _, truth, _ = material
    gains = {}
    for compensate in (True, False):
        out = tmp_path / f"out{compensate}.mp4"
        GuidedRoute().fix(str(folder / "shot.mp4"), str(out),
                          {GUIDE_PARAM: str(folder / "shot.guide.mp4"), "compensate": compensate})
        gains[compensate] = psnr(frames_of(out), truth)
    assert gains[True] > gains[False]


def test_no_guide_is_a_route_error(material, tmp_path):
    folder, *_ = material
    with pytest.raises(RouteError, match="needs a guide"):
        GuidedRoute().fix(str(folder / "shot.mp4"), str(tmp_path / "o.mp4"), {})


def test_short_guide_is_a_route_error(material, tmp_path):
    folder, *_ = material
    short = real.encode(scene()[:8], tmp_path / "short.mp4", fps=12)
    with pytest.raises(RouteError, match="guide ended after 8 frames"):
        GuidedRoute().fix(str(folder / "shot.mp4"), str(tmp_path / "o.mp4"), {GUIDE_PARAM: short})
    assert not (tmp_path / "o.mp4").exists()


def test_process_file_uses_the_guide_and_says_so(material, tmp_path):
    folder, *_ = material
    guide = find_guide(folder / "shot.mp4", root=folder)
    outcome = process_file(folder / "shot.mp4", tmp_path / "work", guide=guide, compare=False)
    assert [s.route for s in outcome.decision.steps] == ["normalize", "guided"]
    assert outcome.decision.fallback  # the blind chain stands behind it
    report = json.loads(open(outcome.reports.json).read())
    assert report["guide"]["path"] == str(folder / "shot.guide.mp4") and report["guide"]["origin"] == "beside"
    assert report["guide"]["used"] is (outcome.status == "done" and outcome.chain.steps[-1].route == "guided")
    assert outcome.status == "done" and report["guide"]["used"]


def test_a_guide_that_breaks_during_the_chain_leaves_the_fallback_blind(material, tmp_path):
    folder, *_ = material
    short = real.encode(scene()[:8], tmp_path / "short.mp4", fps=12)  # changed after its frames were counted
    outcome = process_file(folder / "shot.mp4", tmp_path / "work", guide=Guide(short, "beside", None), compare=False)
    notes = json.loads(open(outcome.reports.json).read())["notes"]
    assert any("guide ended after 8 frames" in n and "trying the fallback" in n for n in notes), notes
    assert outcome.status != "failed", outcome.reason
    assert len(outcome.attempts) == 2 and outcome.chain is not None
    assert all("flow_from_guide" not in s.extra for s in outcome.chain.steps)  # its own motion, not the guide's


def test_unusable_guide_goes_blind_with_a_note(material, tmp_path):
    folder, *_ = material
    note = "the guide x.mp4 has 8 frames, the render 16; a guide needs the same frame count, so the render was " \
           "processed without it (blind)."
    outcome = process_file(folder / "shot.mp4", tmp_path / "work", guide=Guide(None, "beside", note), compare=False)
    assert all(s.route != "guided" for s in outcome.decision.steps)
    report = json.loads(open(outcome.reports.json).read())
    assert note in report["notes"] and report["guide"] == {"path": None, "origin": "beside", "note": note,
                                                           "used": False}


def test_without_a_guide_nothing_changes(material, tmp_path):
    folder, *_ = material
    a = process_file(folder / "shot.mp4", tmp_path / "a", compare=False)
    assert all(s.route != "guided" for s in a.decision.steps + a.decision.fallback)
    assert json.loads(open(a.reports.json).read())["guide"] is None


def test_a_blind_route_on_the_guides_flows_counts_as_guided(material, tmp_path):
    folder, *_ = material
    guide = find_guide(folder / "shot.mp4", root=folder)
    outcome = process_file(folder / "shot.mp4", tmp_path / "work", guide=guide, compare=False,
                           route_override=(Step("normalize"),))
    report = json.loads(open(outcome.reports.json).read())
    assert [s.route for s in outcome.chain.steps] == ["normalize"] and outcome.status == "done", outcome.reason
    assert report["guide"]["used"] is True  # its motion came from the guide
    assert report["key"]["route_versions"] == f"normalize={get_route('normalize').version}+guide"
    assert same_route_versions(report["key"]["route_versions"])  # still the current normalize


def _planes(path):
    from flickerd.routes import normalize_planes as planes

    return [np.concatenate([p.ravel() for p in planes.read_planes(f)]) for f in planes.decode(str(path))]


def test_normalize_then_guided_is_one_pass_that_writes_what_the_file_chain_writes(material, tmp_path):
    from flickerd.routes.base import run_chain
    from flickerd.routes.normalize import NormalizeRoute

    folder, *_ = material
    src, guide = str(folder / "shot.mp4"), {GUIDE_PARAM: str(folder / "shot.guide.mp4")}
    work = tmp_path / "work"
    work.mkdir()
    seen = []
    # lossless final codec: the comparison is of the frames
    fused = run_chain(src, [Step("normalize", guide), Step("guided", guide)], str(work / "fused.mkv"), str(work),
                      final_codec="ffv1", progress=seen.append)
    assert os.listdir(work) == ["fused.mkv"]  # no intermediate file was written
    first, last = fused.steps
    assert first.extra["encoding"]["in_memory"] and last.extra["encoding"]["codec"] == "ffv1"
    assert first.extra["frames"] == last.extra["frames"] == N and last.extra["guide_analysis_size"]
    assert seen == sorted(seen) and seen[-1] == 1.0 and any(0.0 < f < 0.5 for f in seen)

    step = str(tmp_path / "step0.mkv")
    NormalizeRoute().fix(src, step, {**guide, "_intermediate": True})
    GuidedRoute().fix(step, str(tmp_path / "files.mkv"), {**guide, "_codec": "ffv1"})
    a, b = _planes(work / "fused.mkv"), _planes(tmp_path / "files.mkv")
    assert len(a) == len(b) == N and all(np.array_equal(x, y) for x, y in zip(a, b))


class _Cancelled(BaseException):
    """What a cancel raises from the progress callback (``service.worker.JobCancelled``)."""


@pytest.mark.parametrize("how", ["guide ends", "cancel"])
@pytest.mark.parametrize("second", ["guided", "detail"])
def test_a_fused_pass_stopped_mid_stream_leaves_no_file_and_no_thread(material, tmp_path, second, how):
    """A guide that ends half-way raises inside the pass, a cancel from the progress callback (after
    normalize has handed frames on and ``detail``'s flow thread has started): nothing is left in the
    workdir, no thread keeps running."""
    import threading

    from flickerd.routes.base import run_chain

    folder, *_ = material
    guide = str(folder / "shot.guide.mp4") if how == "cancel" else real.encode(scene()[:8], tmp_path / "s.mp4", fps=12)
    work = tmp_path / "work"
    work.mkdir()

    def progress(f: float) -> None:
        if how == "cancel" and f > 0.3:
            raise _Cancelled()

    before = set(threading.enumerate())
    expected = (_Cancelled, None) if how == "cancel" else (RouteError, "guide ended after 8 frames")
    with pytest.raises(expected[0], match=expected[1]):
        run_chain(str(folder / "shot.mp4"), [Step("normalize"), Step(second, {GUIDE_PARAM: guide})],
                  str(work / "out.mp4"), str(work), progress=progress)
    assert os.listdir(work) == []
    assert [t for t in threading.enumerate() if t not in before and t.is_alive()] == []


def test_route_defaults_reach_the_chain_a_guide_brings(material, tmp_path):
    """``[routes.guided]`` / ``[routes.normalize]`` are laid under the guided chain's steps as under a
    rule's; the blind fallback keeps the rule's own parameters over them."""
    from flickerd.rules import DEFAULT_RULES
    from flickerd.config_rules import with_route_params

    folder, *_ = material
    guide = find_guide(folder / "shot.mp4", root=folder)
    defaults = {"guided": {"radius": 2}, "normalize": {"window": 4}}
    outcome = process_file(folder / "shot.mp4", tmp_path / "work", guide=guide, compare=False,
                           rules=with_route_params(DEFAULT_RULES, defaults), route_params=defaults)
    normalize, guided = outcome.decision.steps
    assert (guided.params["radius"], normalize.params["window"]) == (2, 4)
    assert all(s.params.get("window") == 4 for s in outcome.decision.fallback if s.route == "normalize")
    ran = {s.route: s for s in outcome.chain.steps}
    assert ran["guided"].params["radius"] == 2

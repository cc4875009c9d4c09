"""The real-render bench's CI subset: three held-out renders, each injected kind at strength 1
(seed 0), and the fastest pan, zoom and frame skip. The renders themselves are the ground truth.

Run on real renders from ``../shared/real-renders`` (or ``$FLICKERD_REAL_RENDERS``); skipped,
saying so, when they are not there. The floors are below what the full bench measures on these
renders (README, "Real renders"), so that a regression fails and noise does not.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bench import real_renders as rr

pytestmark = pytest.mark.slow

RENDERS = rr.renders_dir()
if RENDERS is None:
    pytest.skip(rr.NO_RENDERS, allow_module_level=True)


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    import argparse

    from flickerd.synth.real import MOTION

    cache = tmp_path_factory.mktemp("real-renders")
    args = argparse.Namespace(ci=True, seeds=1, frames=rr.CI_FRAMES, max_side=rr.CI_MAX_SIDE, cache=str(cache),
                              side=None)
    sides = {k: r["side"] for k, r in rr.split().items()}
    truth = {name: rr.split()[name]["family"] != "film" for name in rr.CI_RENDERS}
    out = []
    for job in rr._jobs(args, RENDERS, truth, sides):
        out += rr._run_job(job)
    assert {r["kind"] for r in out} >= {"asis", *MOTION}
    return out


def _asis(rows):
    return {r["source"]: r["verdict"] for r in rows if r["kind"] == "asis"}


def test_the_ci_renders_are_held_out():
    assert all(rr.split()[name]["side"] == "report" for name in rr.CI_RENDERS)


def test_injected_flicker_is_found(rows):
    asis = _asis(rows)
    got = [r for r in rows if r["kind"] in ("luma", "chroma", "texture", "breathing")]
    assert len(got) == 4 * len(rr.CI_RENDERS)
    wrong = [(r["name"], r["verdict"]) for r in got if not rr.correct(r["kind"], r["verdict"], asis[r["source"]], False)]
    assert len(wrong) <= 2, wrong  # the full bench: 95-100% of each kind on the held-out half


def test_codec_damage_and_identity_changes_are_found(rows):
    asis = _asis(rows)
    for kind in ("codec", "identity"):
        got = [r for r in rows if r["kind"] == kind]
        right = sum(rr.correct(kind, r["verdict"], asis[r["source"]], False) for r in got)
        assert right >= len(got) - 1, (kind, Counter(r["verdict"] for r in got))


def test_fast_motion_and_the_renders_themselves_are_not_incoherent(rows):
    calm = [r for r in rows if r["kind"] in ("asis", "pan", "zoom", "skip")]
    assert len(calm) == 4 * len(rr.CI_RENDERS)
    assert not [r["name"] for r in calm if r["verdict"] == "incoherent"]


def test_the_renders_as_they_are_stay_clean_mostly(rows):
    verdicts = _asis(rows).values()
    assert sum(v == "clean" for v in verdicts) >= len(rr.CI_RENDERS) - 1, verdicts


def test_an_anime_characters_own_motion_is_not_local_flicker(tmp_path):
    """ToonCrafter's anime girl: the flow fails along her outlines as she moves, which the cells'
    mean residual read as a flickering region (local 1.07, over the threshold, so her codec-damaged
    clips were called mixed). The cells' median level does not move with a minority of failing
    pixels; the same render with a breathing region at half strength stays well over the threshold."""
    from flickerd.diagnose import run as diagnose
    from flickerd.diagnose.settings import DiagnoseSettings
    from flickerd.synth.real import Variant

    name = "Doubiiu__ToonCrafter__00.gif"
    local = {}
    for v in (Variant(name, "asis"), Variant(name, "breathing", 0.5, 0)):
        clip = tmp_path / f"{v.name}.mp4"
        rr.make_clip(v, str(RENDERS / name), None, rr.CI_FRAMES, rr.CI_MAX_SIDE, clip)
        local[v.kind] = diagnose(clip, DiagnoseSettings(timeline=False)).scores["local_flicker"]
    threshold = DiagnoseSettings().local_threshold
    assert local["asis"] < threshold / 2 < threshold * 1.4 < local["breathing"], local

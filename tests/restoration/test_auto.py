"""``auto`` on generative flicker: the default rules' chain runs end to end and verification accepts it."""

from __future__ import annotations

import json
import subprocess
import sys

from flickerd.process import process_file
from flickerd.routes.base import Step
from flickerd.rules import DEFAULT_RULES, TEXTURE_ROUTE
from tests.restoration import clips


def test_default_rules_add_detail_only_where_the_texture_boils():
    texture = next(r for r in DEFAULT_RULES if r.name == "generative-texture")
    assert texture.steps == (Step("normalize"), Step("detail"))
    assert texture.fallback == (Step("normalize"),)
    assert dict(texture.match.min_scores) == {"texture_flicker": TEXTURE_ROUTE}
    assert set(texture.match.max_scores) == {"luma_flicker", "chroma_flicker"}  # tone/colour: normalize alone
    plain = next(r for r in DEFAULT_RULES if r.name == "generative")
    assert plain.steps == (Step("normalize"),)
    names = [r.name for r in DEFAULT_RULES]
    assert names.index("generative-texture") < names.index("generative")
    # boiling texture and no tone, colour or region flicker: nothing for normalize to correct
    alone = next(r for r in DEFAULT_RULES if r.name == "generative-texture-only")
    assert alone.steps == (Step("detail"),) and alone.fallback == ()
    assert dict(alone.match.min_scores) == {"texture_flicker": TEXTURE_ROUTE}
    assert set(alone.match.max_scores) == {"luma_flicker", "chroma_flicker", "local_flicker"}
    assert names.index("generative-texture-only") < names.index("generative-texture")
    mixed = next(r for r in DEFAULT_RULES if r.name == "mixed-texture")
    assert [s.route for s in mixed.steps] == ["normalize", "detail", "ffmpeg"]
    assert [s.route for s in next(r for r in DEFAULT_RULES if r.name == "mixed").steps] == ["normalize", "ffmpeg"]


def test_process_picks_the_generative_chain_and_verification_accepts_it(tmp_path):
    src, clean = clips.pair(tmp_path, "luma", seed=0, width=160, height=96, frames=24)
    outcome = process_file(src, tmp_path / "work", compare=False)
    assert outcome.before is not None and outcome.before.verdict.value == "generative_flicker"
    assert outcome.decision is not None and outcome.decision.rule == "generative"
    assert outcome.before.scores["texture_flicker"] < TEXTURE_ROUTE  # luma flicker: no boiling texture
    assert outcome.attempts == ("normalize",)
    assert outcome.status == "done", outcome.reason
    assert outcome.verification is not None and outcome.verification.accepted
    assert [s.route for s in outcome.chain.steps] == ["normalize"]
    gain = clips.psnr(clips.load(outcome.output), clips.load(clean)) - clips.psnr(clips.load(src), clips.load(clean))
    assert gain > 3.0, gain


def test_cli_fix_auto_repairs_regenerated_texture(tmp_path):
    src, clean = clips.pair(tmp_path, "texture", seed=1, width=160, height=96, frames=24)
    out = tmp_path / "out" / "fixed.mp4"
    done = subprocess.run([sys.executable, "-m", "flickerd", "fix", src, "--route", "auto", "-o", str(out), "--no-compare"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "fixed.report.json").read_text())
    assert report["verification"]["accepted"] is True
    assert "detail" in json.dumps(report["chain"])
    gain = clips.psnr(clips.load(str(out)), clips.load(clean)) - clips.psnr(clips.load(src), clips.load(clean))
    assert gain > 1.0, gain


def test_the_texture_rules_split_by_what_else_flickers():
    from flickerd.diagnose.model import Diagnosis, Verdict
    from flickerd.rules import decide

    def route(**scores: float) -> str:
        d = Diagnosis("x.mp4", Verdict.GENERATIVE_FLICKER, 0.9, scores, 48, 24.0, 64, 64, 2.0)
        return decide(d, DEFAULT_RULES).route

    quiet = {"luma_flicker": 0.1, "chroma_flicker": 0.1, "local_flicker": 0.2}
    assert route(texture_flicker=1.2, **quiet) == "detail"  # boiling alone: nothing for normalize
    assert route(texture_flicker=1.2, **{**quiet, "local_flicker": 2.0}) == "normalize+detail"  # a region too
    assert route(texture_flicker=1.2, **{**quiet, "luma_flicker": 1.5}) == "normalize"  # tone: the boiling is the render's
    assert route(texture_flicker=1.2, **{**quiet, "chroma_flicker": 1.0}) == "normalize"
    assert route(texture_flicker=0.2, **quiet) == "normalize"

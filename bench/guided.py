"""Guided consistency on real renders: a restyled truth, a jittered render, the source as the guide.

``python -m bench guided [--renders DIR] [--frames 48] [--max-side 832] [--seed 0] [--jobs 2]
[--side fit|report] [--only S,...] [--params k=v:...] [--chain A+B] [--no-auto] [--blind-flows] [--ci]
[--dump FILE] [--verbose]``

Per truth-set render of the real-render bench (``bench real_renders``: same truth set and split):
the guide is the render, the truth is the render under one fixed per-clip stylisation, and the
processed input is the truth with a per-frame jitter (``flickerd.synth.guided``: styles and
jitters cycle over the renders in name order). Each clip is fixed two ways and scored by PSNR
against the truth (gain = output − input, dB):

- **auto**: what ``flickerd fix --route auto`` does without a guide (the default rules' chain,
  verification, the fallback once); an unpublished fix counts 0 dB.
- **guided**: what it does with the guide (``flickerd.process``: the ``guided`` route, verified;
  if verification refuses it, the blind chain as the fallback; ``normalize`` and ``detail`` in
  either take their motion from the guide, ``--blind-flows``: from the render). ``raw`` is the guided route's
  output whether published or not. ``--chain`` tries another chain in the guided route's place.

The truth is scored as encoded like the render (x264 CRF 16, 4:2:0): the codec's own loss is the
same for every candidate and is not flicker.

Targets (issue 24): the median guided gain at least ``TARGET_DB`` above auto's on the same clips,
on the report half; no clip worse than its input. ``copy`` is the guide itself scored against
the truth: a fix that copied the guide would score this.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from bench import real_renders as rr

TARGET_DB = 2.0
CI_RENDERS = rr.CI_RENDERS


@dataclasses.dataclass(frozen=True)
class Job:
    render: str
    index: int
    seed: int
    frames: int
    max_side: int
    params: tuple
    auto: bool
    chain: str = ""  # e.g. "normalize+guided": the guided decision's steps instead of with_guide's
    blind_flows: bool = False  # normalize and detail compute their flows on the render, as before session 15


def psnr(a, b) -> float:
    mse = np.mean([np.mean((x.astype(np.float32) - y.astype(np.float32)) ** 2) for x, y in zip(a, b)])
    return float(10 * np.log10(255.0**2 / max(mse, 1e-9)))


def _decode(path: str, shape) -> list[np.ndarray]:
    from flickerd.media import iter_frames

    return [f.image[: shape[0], : shape[1]] for f in iter_frames(path)]


def _attempt(clip: str, steps, before, work: str, tag: str, truth, input_psnr: float, guide: str | None = None) -> dict:
    """One chain, verified as the daemon does (with ``guide``: along the guide's motion); with a
    guide, also judged with the input's own motion (``accepted_own_flow``), side by side."""
    from flickerd.routes.base import run_chain
    from flickerd.verify import check

    out = os.path.join(work, f"{tag}.mp4")
    t = time.monotonic()
    try:
        chain = run_chain(clip, steps, out, work)
    except Exception as exc:  # a failed route is a result too
        return {"chain": "+".join(s.route for s in steps), "error": f"{type(exc).__name__}: {exc}",
                "accepted": False, "gain": 0.0}
    fix_s = time.monotonic() - t
    v = check(clip, out, before, chain, rediagnose=None, guide=guide)
    own = check(clip, out, before, chain, rediagnose=None) if guide else v
    gain = psnr(_decode(out, truth[0].shape), truth) - input_psnr
    os.remove(out)
    return {"chain": chain.routes, "accepted": v.accepted, "accepted_own_flow": own.accepted,
            "reasons": list(v.reasons), "gain": gain, "fix_s": fix_s,
            "weight": chain.steps[0].extra.get("mean_neighbour_weight")}


def _published(attempts: list[dict], key: str = "accepted") -> float:
    """The gain of the first attempt ``key`` accepts (0: nothing published)."""
    for a in attempts:
        if a.get(key, a["accepted"]):
            return a["gain"]
    return 0.0


def _run_job(job: Job) -> dict:
    from flickerd.diagnose import run as diagnose
    from flickerd.routes.base import Step
    from flickerd.routes.guide_stream import FLOWS_FROM_GUIDE, GUIDE_PARAM
    from flickerd.rules import DEFAULT_RULES, decide, with_guide
    from flickerd.synth import guided, real

    name = os.path.basename(job.render)
    case = guided.case_for(name, job.index, job.seed)
    frames, fps = real.load(job.render, job.frames, job.max_side)
    work = tempfile.mkdtemp(prefix="flickerd-guided-")
    try:
        guide = real.encode(frames, os.path.join(work, "guide.mp4"), fps=fps)
        clip = real.encode(guided.processed(case, frames), os.path.join(work, "clip.mp4"), fps=fps)
        truth = _decode(real.encode(guided.truth(case, frames), os.path.join(work, "truth.mp4"), fps=fps),
                        frames[0].shape)
        input_psnr = psnr(_decode(clip, truth[0].shape), truth)
        copy_gain = psnr(_decode(guide, truth[0].shape), truth) - input_psnr
        before = diagnose(clip)
        blind = decide(before, DEFAULT_RULES)
        row = {"source": name, "style": case.style, "jitter": case.jitter, "verdict": before.verdict.value,
               "input_psnr": input_psnr, "copy": copy_gain, "auto": [], "guided": []}
        if job.auto:
            for n, steps in enumerate([blind.steps] + ([blind.fallback] if blind.fallback else [])):
                if not steps:
                    continue
                row["auto"].append(_attempt(clip, steps, before, work, f"auto{n}", truth, input_psnr))
                if row["auto"][-1]["accepted"]:
                    break
        dec = with_guide(blind, before.verdict)
        if job.chain:
            dec = dataclasses.replace(dec, steps=tuple(Step(r) for r in job.chain.split("+")))
        params = dict(job.params)
        guide_routes = ("guided",) if job.blind_flows else FLOWS_FROM_GUIDE  # the steps handed the guide
        for n, steps in enumerate([dec.steps] + ([dec.fallback] if dec.fallback else [])):
            steps = [Step(s.route, {**s.params, **(params if s.route == "guided" else {}), GUIDE_PARAM: guide})
                     if s.route in guide_routes else s for s in steps]
            # the fallback runs even after an accepted fix: the own-flow judgement may refuse it
            row["guided"].append(_attempt(clip, steps, before, work, f"guided{n}", truth, input_psnr, guide))
        row["auto_gain"] = _published(row["auto"])
        row["guided_gain"] = _published(row["guided"])
        row["guided_gain_own_flow"] = _published(row["guided"], "accepted_own_flow")
        row["guided_raw"] = row["guided"][0]["gain"] if row["guided"] else 0.0
        return row
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _params(text: str) -> tuple:
    out = []
    for pair in filter(None, text.split(":")):
        k, v = pair.split("=")
        out.append((k, v if v.isalpha() else float(v) if "." in v else int(v)))
    return tuple(out)


def summarise(rows: list[dict], sides: dict[str, str], verbose: bool) -> dict:
    summary = {}
    for side in ("fit", "report", "all"):
        rs = [r for r in rows if side == "all" or sides.get(r["source"]) == side]
        if not rs:
            continue
        auto = [r["auto_gain"] for r in rs]
        pub = [r["guided_gain"] for r in rs]
        raw = [r["guided_raw"] for r in rs]
        worse = [r["source"] for r in rs if r["guided_gain"] < 0]
        own = [r.get("guided_gain_own_flow", r["guided_gain"]) for r in rs]
        s = {"clips": len(rs), "auto_median_db": statistics.median(auto), "guided_median_db": statistics.median(pub),
             "guided_raw_median_db": statistics.median(raw),
             "margin_db": statistics.median(pub) - statistics.median(auto),
             "median_paired_margin_db": statistics.median([g - a for g, a in zip(pub, auto)]),
             "guided_min_db": min(pub), "worse_than_input": len(worse),
             "guided_published": sum(1 for r in rs if r["guided"] and r["guided"][0]["accepted"]),
             "copy_median_db": statistics.median([r["copy"] for r in rs]),
             "own_flow_median_db": statistics.median(own), "own_flow_worse": sum(1 for g in own if g < 0)}
        summary[side] = s
        target = "met" if s["margin_db"] >= TARGET_DB and not worse else "NOT met"
        print(f"\n== {side}: {len(rs)} clips")
        print(f"  median gain vs truth: auto {s['auto_median_db']:+.2f} dB, guided {s['guided_median_db']:+.2f} dB "
              f"(raw route output {s['guided_raw_median_db']:+.2f} dB); margin {s['margin_db']:+.2f} dB "
              f"(median of per-clip margins {s['median_paired_margin_db']:+.2f} dB); target ≥ +{TARGET_DB:g} dB "
              f"and no clip worse: {target}")
        print(f"  guided route published on {s['guided_published']}/{len(rs)}; worst guided {s['guided_min_db']:+.2f} dB; "
              f"clips worse than their input: {len(worse)} {worse if worse else ''}")
        print(f"  verification along the guide's motion (the daemon's); along the input's own, as before: guided "
              f"{s['own_flow_median_db']:+.2f} dB, {s['own_flow_worse']} clips worse than their input")
        print(f"  copying the guide would score {s['copy_median_db']:+.2f} dB (median)")
    if verbose:
        print("\nsource | side | style | jitter | verdict | input dB | auto | guided | raw | copy | guided chain")
        for r in rows:
            chain = next((a["chain"] for a in r["guided"] if a["accepted"]), "-")  # what was published
            print(f"{r['source'][:48]:48s} {sides.get(r['source'], '?'):6s} {r['style']:13s} {r['jitter']:10s} "
                  f"{r['verdict']:18s} {r['input_psnr']:6.2f} {r['auto_gain']:+6.2f} {r['guided_gain']:+6.2f} "
                  f"{r['guided_raw']:+6.2f} {r['copy']:+6.2f} {chain}")
    return summary


def main(argv: list[str]) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    p = argparse.ArgumentParser(prog="bench guided")
    rr.clip_arguments(p, cache=False)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--side", choices=("fit", "report"))
    p.add_argument("--only", default="", help="comma-separated substrings: only renders whose name has one")
    p.add_argument("--params", default="", help="guided route params, e.g. radius=3:tolerance=0.04")
    p.add_argument("--no-auto", action="store_true", help="skip the blind auto (its figures read 0)")
    p.add_argument("--chain", default="", help="run this chain where the guide decides, e.g. normalize+guided")
    p.add_argument("--blind-flows", action="store_true",
                   help="hand the guide to the guided route only: normalize and detail use the render's own flow")
    p.add_argument("--ci", action="store_true", help="the test suite's subset (CI_RENDERS)")
    p.add_argument("--dump", help="write every clip's results as JSON lines here")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    renders = rr.renders_dir(a.renders)
    if renders is None:
        print(rr.NO_RENDERS)
        return 2
    start = time.time()
    sides = rr.split_sides()
    names = sorted(n for n in sides if (renders / n).is_file())
    truth = rr.truth_set(renders, names, a.frames, a.max_side)
    names = [n for n in names if truth[n][0]]
    index = {n: i for i, n in enumerate(names)}  # the case cycle runs over the whole truth set
    if a.ci:
        names = [n for n in names if n in CI_RENDERS]
    if a.side:
        names = [n for n in names if sides[n] == a.side]
    if a.only:
        names = [n for n in names if any(s in n for s in a.only.split(","))]
    jobs = [Job(str(renders / n), index[n], a.seed, a.frames, a.max_side, _params(a.params), not a.no_auto, a.chain,
                a.blind_flows)
            for n in names]
    rows = []
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        for row in pool.map(_run_job, jobs):
            rows.append(row)
            print(f"  {len(rows)}/{len(jobs)} clips, {time.time() - start:.0f} s: {row['source'][:40]} "
                  f"{row['jitter']}: auto {row['auto_gain']:+.2f} dB, guided {row['guided_gain']:+.2f} dB", flush=True)
    if a.dump:
        with open(a.dump, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    summarise(rows, sides, a.verbose)
    print(f"\n{len(rows)} clips; {time.time() - start:.0f} s wall")
    return 0

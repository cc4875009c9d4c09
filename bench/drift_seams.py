"""Long renders: window drift and seams in real renders, found and fixed (issue 23 targets).

On every render of the real-render truth set (``bench.real_renders.truth_set``: steady,
generated, not film), ``flickerd.synth.drift`` puts window drift into the render itself (every
W frames: a 3–8 grey-level exposure/colour step, +5% saturation, a 1–3 frame flash at the join;
W = 81 where the render holds two Wan windows, 40 where it holds two of those, else half the
render). The untouched render is the truth. Reported, per split side and in all:

- seams found at the right frame (±1), and seams found in the unmodified renders (want none);
- after the ``drift`` route: drift after / before (≤ 20%), the largest step left at a seam (≤ 1
  grey level), median PSNR gain against the truth (≥ +4 dB), and whether verification accepts
  the fix. Drift and steps are read on the residual against the truth (``residual``: each
  frame's statistics less the truth frame's, so the content's own change does not count): its
  drift is the largest channel's least-squares slope in grey levels per 100 frames, its step
  ``seam_step`` of the residual at the true seams. The figures on the clip's own whole-frame
  means (``dd.drift``, ``dd.seam_step`` at the true seams, counting the content) are printed
  beside them as ``frame_mean_*``;
- real lighting kept: the route on the unmodified render and on it with a fade (to 50% over
  the clip), against a plain re-encode of the same with the same encoder (≤ 0.3 dB loss).

PSNR is the clip's (mean squared error over every frame) against the truth's frames.

``python -m bench drift_seams [--frames 250] [--max-side 640] [--seeds 2] [--first-seed 0] [--side fit|report]
[--no-verify] [--dump rows.jsonl] [--compare param=value …]``

``--compare``: each damaged clip is fixed a second time with these route params besides (the same
seams), its figures printed as ``alt_*``: two variants of the route in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.real_renders import NO_RENDERS, clip_arguments, renders_dir, split, truth_set

SEAM_TOLERANCE = 1  # frames
FADE_TO = 0.5  # the fade variant ends at this fraction of the render's brightness


def _clip_psnr(frames, truth) -> float:
    """PSNR of the whole clip (the mean squared error over every frame), dB."""
    mse = float(np.mean([np.mean((f.astype(np.float64) - t.astype(np.float64)) ** 2) for f, t in zip(frames, truth)]))
    return 99.0 if mse < 1e-10 else 10 * np.log10(255.0 ** 2 / mse)


def _stats(frames) -> np.ndarray:
    from flickerd.diagnose.drift import rgb_stats

    return np.stack([rgb_stats(f) for f in frames])


def _faded(frames) -> list[np.ndarray]:
    n = max(1, len(frames) - 1)
    return [np.clip(f.astype(np.float32) * (1 - (1 - FADE_TO) * t / n) + 0.5, 0, 255).astype(np.uint8)
            for t, f in enumerate(frames)]


def residual(stats: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each frame's ``STATS`` less the truth frame's: what the damage (or the fix) adds."""
    return np.asarray(stats, np.float64) - np.asarray(truth, np.float64)


def truth_drift(res: np.ndarray) -> float:
    """The drift of a ``residual``: the largest least-squares slope of its Y, Cb, Cr means and Y
    spread over the clip, grey levels per 100 frames (a staircase of window steps climbs; a fix
    that brings every window back to the truth's tone is flat)."""
    n = len(res)
    if n < 2:
        return 0.0
    t = np.arange(n) - (n - 1) / 2
    return float(np.max(np.abs(t @ res[:, :4]) / (t @ t))) * 100.0


def _hits(true: tuple[int, ...], found: tuple[int, ...]) -> int:
    return sum(any(abs(s - f) <= SEAM_TOLERANCE for f in found) for s in true)


def run_render(path: Path, frames: int, max_side: int, seeds: int, verify: bool, work: str,
               first_seed: int = 0, compare: dict | None = None) -> list[dict]:
    """One render's rows: per seed the damaged clip; once the unmodified and the faded render."""
    from flickerd.diagnose import run as diagnose
    from flickerd.diagnose import drift as dd
    from flickerd.routes.drift import DriftRoute
    from flickerd.synth import drift as synth
    from flickerd.synth.real import encode, load

    truth, fps = load(path, frames, max_side)
    route = DriftRoute()
    stem = path.stem[:40]
    rows = []

    def fixed(src: str, params: dict, tag: str) -> tuple[str, list[np.ndarray], float]:
        out = os.path.join(work, f"{Path(src).stem}.{tag}.mp4")
        t0 = time.monotonic()
        route.fix(src, out, params)
        return out, load(out, frames, 10_000)[0], time.monotonic() - t0

    def as_routed(diagnosis) -> dict:
        """The drift step's params as the rules give them (``rules.decide``): the diagnosis's seams."""
        from flickerd.routes.base import Step
        from flickerd.rules import Action, Match, Rule, decide

        return dict(decide(diagnosis, (Rule("drift", Match(), Action.FIX, steps=(Step("drift"),)),)).steps[0].params)

    for name, clip in (("asis", truth), ("fade", _faded(truth))):
        src = encode(clip, os.path.join(work, f"{stem}.{name}.mp4"), fps=fps)
        plain = fixed(src, {"strength": 0.0}, "plain")[1]  # a plain re-encode with the route's own encoder
        d = diagnose(src)
        _, out, secs = fixed(src, as_routed(d), "fix")
        rows.append({"source": path.name, "kind": name, "frames": len(truth), "false_seams": len(d.seams),
                     "seams_found": list(d.seams), "loss_db": _clip_psnr(plain, clip) - _clip_psnr(out, clip),
                     "fix_s": secs})
    for seed in range(first_seed, first_seed + seeds):
        damaged, dmg = synth.damage(truth, seed=seed)
        src = encode(damaged, os.path.join(work, f"{stem}.drift{seed}.mp4"), fps=fps)
        before = diagnose(src)
        out_path, out, secs = fixed(src, as_routed(before), "fix")
        decoded = load(src, frames, 10_000)[0]
        s_true, s_in, s_out = _stats(truth), _stats(decoded), _stats(out)
        r_in = residual(s_in, s_true)
        row = {
            "source": path.name, "kind": "drift", "seed": seed, "frames": len(truth), "window": dmg.window,
            "seams": list(dmg.seams), "seams_found": list(before.seams), "hits": _hits(dmg.seams, before.seams),
            "extra_seams": sum(not any(abs(f - s) <= SEAM_TOLERANCE for s in dmg.seams) for f in before.seams),
            "truth_drift_before": truth_drift(r_in), "truth_step_before": dd.seam_step(r_in, dmg.seams),
            **_after(s_out, s_true, out, truth, dmg.seams),
            "drift_before": dd.drift(s_in, dmg.seams)[0], "seam_step_before": dd.seam_step(s_in, dmg.seams),
            "psnr_before": _clip_psnr(decoded, truth), "routed": _routed(before), "fix_s": secs,
        }
        if compare:
            alt = fixed(src, {**as_routed(before), **compare}, "alt")[1]
            row["alt"] = _after(_stats(alt), s_true, alt, truth, dmg.seams)
        if verify:
            from flickerd import verify as v

            check = v.check(src, out_path, before, None, rediagnose=None)
            row["accepted"], row["reasons"] = check.accepted, list(check.reasons)
        rows.append(row)
    return rows


def _after(s_out: np.ndarray, s_true: np.ndarray, out, truth, seams) -> dict:
    """A fix's figures: against the truth (``residual``), and on its own whole-frame means."""
    from flickerd.diagnose import drift as dd

    r = residual(s_out, s_true)
    return {"truth_drift_after": truth_drift(r), "truth_step_after": dd.seam_step(r, seams),
            "drift_after": dd.drift(s_out, seams)[0], "seam_step_after": dd.seam_step(s_out, seams),
            "psnr_after": _clip_psnr(out, truth)}


def _routed(diagnosis) -> bool:
    """Whether the default rules send the clip to the ``drift`` route."""
    from flickerd.rules import DEFAULT_RULES, decide

    return decide(diagnosis, DEFAULT_RULES).route == "drift"


def _fix_figures(dr: list[dict], after) -> dict:
    """The fix's figures over the damaged clips ``dr``; ``after(row)`` holds the fix's own (``_after``)."""
    def ratio(key):
        return [after(r)[f"{key}_after"] / r[f"{key}_before"] for r in dr if r[f"{key}_before"] > 0]

    truth, frame = ratio("truth_drift"), ratio("drift")
    gain = [after(r)["psnr_after"] - r["psnr_before"] for r in dr]
    nan = float("nan")
    return {
        "truth_drift_ratio_median": statistics.median(truth) if truth else nan,
        "truth_drift_ratio_max": max(truth) if truth else nan,
        "truth_drift_before_median": statistics.median(r["truth_drift_before"] for r in dr),
        "truth_drift_after_median": statistics.median(after(r)["truth_drift_after"] for r in dr),
        "truth_step_before_median": statistics.median(r["truth_step_before"] for r in dr),
        "truth_step_after_median": statistics.median(after(r)["truth_step_after"] for r in dr),
        "truth_step_after_max": max(after(r)["truth_step_after"] for r in dr),
        "psnr_gain_median_db": statistics.median(gain), "psnr_gain_mean_db": statistics.mean(gain),
        "psnr_gain_min_db": min(gain),
        "frame_mean_drift_ratio_median": statistics.median(frame) if frame else nan,
        "frame_mean_drift_ratio_max": max(frame) if frame else nan,
        "frame_mean_step_after_median": statistics.median(after(r)["seam_step_after"] for r in dr),
        "frame_mean_step_after_max": max(after(r)["seam_step_after"] for r in dr),
    }


def report(rows: list[dict], sides: dict[str, str]) -> dict:
    """Print the targets per side and in all; return the 'all' figures."""
    out = {}
    for side in ("fit", "report", "all"):
        rs = [r for r in rows if side == "all" or sides.get(r["source"]) == side]
        dr = [r for r in rs if r["kind"] == "drift"]
        if not dr:
            continue
        true_n = sum(len(r["seams"]) for r in dr)
        hit = sum(r["hits"] for r in dr)
        asis = [r for r in rs if r["kind"] == "asis"]
        loss = [r["loss_db"] for r in rs if r["kind"] in ("asis", "fade")]
        fig = {
            "renders": len({r["source"] for r in rs}), "damaged_clips": len(dr),
            "seams_found_pct": 100.0 * hit / max(1, true_n), "true_seams": true_n,
            "extra_seams_on_damaged": sum(r["extra_seams"] for r in dr),
            "renders_with_false_seams": sum(r["false_seams"] > 0 for r in asis),
            "false_seams": sum(r["false_seams"] for r in asis),
            "routed_pct": 100.0 * sum(r["routed"] for r in dr) / len(dr),
            **_fix_figures(dr, lambda r: r),
            "lighting_loss_max_db": max(loss) if loss else float("nan"),
            "lighting_loss_median_db": statistics.median(loss) if loss else float("nan"),
        }
        if all("alt" in r for r in dr):
            fig.update({f"alt_{k}": v for k, v in _fix_figures(dr, lambda r: r["alt"]).items()})
        if "accepted" in dr[0]:
            fig["accepted_pct"] = 100.0 * sum(r["accepted"] for r in dr) / len(dr)
        print(f"\n== {side}")
        for k, v in fig.items():
            print(f"  {k:34s} {v:.3f}" if isinstance(v, float) else f"  {k:34s} {v}")
        out[side] = fig
    print("\ntargets: seams found ≥ 95%, no false seams; truth_drift_ratio ≤ 0.20; truth_step_after ≤ 1 grey level;"
          " median PSNR gain ≥ +4 dB; lighting loss ≤ 0.3 dB (frame_mean_*: on the output's own means, content counted)")
    return out.get("all", {})


def main(argv: list[str]) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    p = argparse.ArgumentParser(prog="bench drift_seams")
    clip_arguments(p, frames=250, max_side=640, cache=False)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--no-verify", action="store_true", help="skip verification of the fixes")
    p.add_argument("--only", nargs="*", help="render file names (default: the truth set)")
    p.add_argument("--side", choices=("fit", "report"), help="only this side of the split")
    p.add_argument("--first-seed", type=int, default=0, help="seeds first-seed … first-seed + seeds − 1 (more fit analogues)")
    p.add_argument("--dump", help="write every clip's row as JSON lines here (as renders finish)")
    p.add_argument("--compare", nargs="*", default=[], metavar="PARAM=VALUE",
                   help="fix each damaged clip a second time with these route params (JSON values), as alt_*")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    compare = {k: json.loads(v) for k, v in (c.split("=", 1) for c in a.compare)}
    renders = renders_dir(a.renders)
    if renders is None:
        print(NO_RENDERS)
        return 2
    start = time.time()
    sides = {k: r["side"] for k, r in split().items()}
    names = a.only or [n for n in sides if (renders / n).is_file() and (a.side is None or sides[n] == a.side)]
    truth = truth_set(renders, names, a.frames, a.max_side) if not a.only else {n: (True, 0.0) for n in names}
    chosen = [n for n in names if truth[n][0]]
    print(f"{len(chosen)} truth-set renders of {len(names)}")
    rows: list[dict] = []
    if a.dump:
        open(a.dump, "w").close()  # this run's rows only
    with tempfile.TemporaryDirectory(prefix="drift-seams-") as work:
        for n in chosen:
            got = run_render(renders / n, a.frames, a.max_side, a.seeds, not a.no_verify, work, a.first_seed,
                             compare)
            rows += got
            if a.dump:
                with open(a.dump, "a") as fh:
                    fh.writelines(json.dumps(r) + "\n" for r in got)
            if a.verbose:
                for r in got:
                    print({k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()})
    report(rows, sides)
    print(f"\n{len(rows)} clips; {time.time() - start:.0f} s wall")
    return 0

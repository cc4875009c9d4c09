"""Where ``normalize``'s error against the truth sits: global level, regional low frequency (inside/outside the injected region), the rest.

``python -m bench normalize_errors [--renders DIR] [--only SUBSTR,...] [--kinds breathing,luma,chroma]
[--strengths 0.5] [--side fit|report] [--params key=value,...] [--frames 48] [--max-side 832] [--timeline]``

Per clip (the real-render bench's injected variants, seed 0, from its cache), ``normalize`` is run
and its output and its input are compared with the truth (the render before injection). The
squared error (mean over pixels and RGB, grey levels²) is split into

- **global**: each frame's mean error per channel (a level the whole frame got wrong);
- **low in / low out**: the rest blurred at 1/48 of the long side (a regional level: ``normalize``'s
  cells are 1/12 of it),
  weighted by the breathing injector's own mask (reproduced from its seed) and by its complement;
- **rest**: what is left (detail, edges, the re-encode).

``--params`` overrides the route's parameters (``strength=0``: the re-encode alone). ``--timeline``
prints the per-frame low-frequency error inside the region, input vs output.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from bench import real_renders as rr


def breathing_mask(seed: int, w: int, h: int) -> np.ndarray:
    """The breathing injector's region mask (HxW in [0, 1]) for ``seed``, drawn as the injector draws it."""
    from flickerd.synth.real import INJECTED

    rng = np.random.default_rng([seed, 17, INJECTED.index("breathing")])
    cx, cy = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
    radius = rng.uniform(0.18, 0.3) * min(w, h) * 1.5
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (radius / 1.6) ** 2))


def split_error(frames: list[np.ndarray], truth: list[np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame MSE parts (grey levels²): global, low_in, low_out, rest, total."""
    h, w = truth[0].shape[:2]
    sigma = max(h, w) / 48.0  # about a quarter of a correction cell: regional levels, not detail
    parts = {k: [] for k in ("global", "low_in", "low_out", "rest", "total")}
    for f, t in zip(frames, truth):
        e = f.astype(np.float32) - t.astype(np.float32)
        g = e.reshape(-1, 3).mean(0)
        r = e - g
        low = cv2.GaussianBlur(r, (0, 0), sigma)
        rest = r - low
        low2 = (low * low).mean(-1)
        parts["global"].append(float((g * g).mean()))
        parts["low_in"].append(float((low2 * mask).mean()))
        parts["low_out"].append(float((low2 * (1 - mask)).mean()))
        parts["rest"].append(float((rest * rest).mean()))
        parts["total"].append(float((e * e).mean()))
    return {k: np.array(v) for k, v in parts.items()}


def _params(text: str) -> dict:
    out = {}
    for pair in filter(None, text.split(",")):
        k, v = pair.split("=")
        out[k] = v == "true" if v in ("true", "false") else float(v) if "." in v else int(v)
    return out


def _db(mse: float) -> float:
    return float(10 * np.log10(255.0**2 / max(mse, 1e-9)))


def main(argv: list[str]) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    p = argparse.ArgumentParser(prog="bench normalize_errors")
    rr.clip_arguments(p)
    p.add_argument("--only", default="")
    p.add_argument("--kinds", default="breathing")
    p.add_argument("--strengths", default="0.5")
    p.add_argument("--side", choices=("fit", "report"))
    p.add_argument("--params", default="", help="route parameters, e.g. local=false,strength=0")
    p.add_argument("--timeline", action="store_true")
    a = p.parse_args(argv)
    renders = rr.renders_dir(a.renders)
    if renders is None:
        print(rr.NO_RENDERS)
        return 2
    from flickerd.media import iter_frames
    from flickerd.routes.normalize import NormalizeRoute
    from flickerd.synth.real import Variant, load

    sides = rr.split_sides()
    names = [n for n in sides if (renders / n).is_file() and rr.split()[n]["family"] != "film"]
    if a.side:
        names = [n for n in names if sides[n] == a.side]
    if a.only:
        names = [n for n in names if any(s in n for s in a.only.split(","))]
    params = _params(a.params)
    route = NormalizeRoute()
    gains = []
    os.makedirs(a.cache, exist_ok=True)
    print(f"{'clip':58s} {'in dB':>6s} {'gain':>6s}   MSE in → out (grey levels²): global | low in | low out | rest")
    with tempfile.TemporaryDirectory(prefix="flickerd-normerr-") as work:
        for name in sorted(names):
            truth = None
            for kind in a.kinds.split(","):
                for strength in (float(s) for s in a.strengths.split(",")):
                    v = Variant(name, kind, strength, 0)
                    clip = str(Path(a.cache) / f"{v.name}.{a.frames}f{a.max_side}.mp4")
                    if not os.path.exists(clip):
                        rr.make_clip(v, str(renders / name), None, a.frames, a.max_side, clip)
                    if truth is None:
                        truth = load(renders / name, a.frames, a.max_side)[0]
                    shape = truth[0].shape
                    h, w = shape[:2]
                    mask = breathing_mask(0, w, h) if kind == "breathing" else np.zeros((h, w), np.float32)
                    src = [f.image[: h, : w] for f in iter_frames(clip)]
                    out = os.path.join(work, "out.mp4")
                    route.fix(clip, out, params)
                    res = [f.image[: h, : w] for f in iter_frames(out)]
                    ei, eo = split_error(src, truth, mask), split_error(res, truth, mask)
                    gain = _db(eo["total"].mean()) - _db(ei["total"].mean())
                    gains.append(gain)
                    parts = " | ".join(f"{ei[k].mean():5.1f}→{eo[k].mean():5.1f}" for k in ("global", "low_in", "low_out", "rest"))
                    print(f"{v.name[:58]:58s} {_db(ei['total'].mean()):6.2f} {gain:+6.2f}   {parts}", flush=True)
                    if a.timeline:
                        print("   low_in per frame, in :", " ".join(f"{x:.0f}" for x in ei["low_in"]))
                        print("   low_in per frame, out:", " ".join(f"{x:.0f}" for x in eo["low_in"]))
                        print("   global per frame, out:", " ".join(f"{x:.0f}" for x in eo["global"]))
                        print("   low_out per frame, out:", " ".join(f"{x:.0f}" for x in eo["low_out"]))
                        print("   rest per frame, in :", " ".join(f"{x:.0f}" for x in ei["rest"]))
                        print("   rest per frame, out:", " ".join(f"{x:.0f}" for x in eo["rest"]))
    if gains:
        print(f"\nmedian gain {np.median(gains):+.2f} dB over {len(gains)} clips (params {params or 'defaults'})")
    return 0

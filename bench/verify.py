"""Verification: speed at 720×480, and how often it accepts ideal fixes and rejects bad ones.

Speed: ``verify.check`` (no re-diagnosis, no VMAF) on a 720×480 clip with luma flicker
against its clean ground truth, as frames/s of the source (both files decoded in lockstep).

Calibration: for every generative flicker kind (luma, chroma, texture, breathing) on the
synthetic corpus (256×144, mostly moving scenes), five candidate "fixes" of the flickering clip are verified:
``oracle`` (the clean ground truth: should be accepted), ``reencode`` (the input again: no
fix, should be rejected), ``temporal-blur`` (3-frame average: ghosts, should be rejected),
``duplicate`` (one frame repeated, the last dropped: should be rejected) and ``spatial-blur``
(Gaussian σ 1.5: should be rejected). On a near-static shot (input motion < 1 px/frame at
analysis scale) a temporal average or a repeated frame is harmless, so those two are scored
only on shots that move.

    python -m bench verify [--seeds N] [--frames N] [--speed-frames N] [--strength S] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from fractions import Fraction

import av
import cv2
import numpy as np

from flickerd.media.writer import reproducible

KINDS = ("luma", "chroma", "texture", "breathing")
CANDIDATES = ("oracle", "reencode", "temporal-blur", "duplicate", "spatial-blur")
MOVING_PX = 1.0
SCENES = ("pan", "objects", "zoom", "auto")  # mostly moving shots: "auto" draws static ones too


def _write(path: str, frames, fps: float) -> str:
    with av.open(path, "w") as out:
        s = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        s.width, s.height = frames[0].shape[1], frames[0].shape[0]
        s.pix_fmt = "yuv420p"
        s.options = reproducible("libx264", {"crf": "16", "preset": "veryfast"})
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.clip(f, 0, 255).astype(np.uint8), format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def _candidates(flickering, clean):
    n = len(flickering)
    f32 = [f.astype(np.float32) for f in flickering]
    blur = [(f32[max(0, i - 1)] + f32[i] + f32[min(n - 1, i + 1)]) / 3 for i in range(n)]
    dup = flickering[: n // 2] + [flickering[n // 2]] + flickering[n // 2: -1]
    soft = [cv2.GaussianBlur(f, (0, 0), 1.5) for f in f32]
    return {"oracle": (clean, True), "reencode": (flickering, False), "temporal-blur": (blur, False),
            "duplicate": (dup, False), "spatial-blur": (soft, False)}


def speed(frames: int, tmp: str) -> dict:
    from flickerd.synth.corpus import ClipSpec, clean_frames
    from flickerd.synth.corpus import frames as flicker_frames
    from flickerd.verify import check

    spec = ClipSpec(seed=7, kind="luma", width=720, height=480, frames=frames, fps=24.0, scene="auto")
    src = _write(os.path.join(tmp, "speed-src.mp4"), list(flicker_frames(spec)), spec.fps)
    fixed = _write(os.path.join(tmp, "speed-fixed.mp4"), list(clean_frames(spec)), spec.fps)
    start, cpu = time.perf_counter(), time.process_time()
    v = check(src, fixed, None, None, rediagnose=None)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"frames": frames, "size": "720x480", "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "frames_per_s": round(frames / seconds, 1), "frames_per_cpu_s": round(frames / cpu, 1),
            "accepted": v.accepted}


def calibration(seeds: int, frames: int, tmp: str, strength: float = 1.0) -> dict:
    from flickerd.synth.corpus import ClipSpec, clean_frames
    from flickerd.synth.corpus import frames as flicker_frames
    from flickerd.verify import check

    rows = []
    for seed in range(1000, 1000 + seeds):
        for kind in KINDS:
            scene = SCENES[(seed + KINDS.index(kind)) % len(SCENES)]
            spec = ClipSpec(seed=seed, kind=kind, width=256, height=144, frames=frames, scene=scene,
                            strength=strength)
            flickering = list(flicker_frames(spec))
            clean = list(clean_frames(spec))
            src = _write(os.path.join(tmp, f"{kind}-{seed}.mp4"), flickering, spec.fps)
            for name, (cand, good) in _candidates(flickering, clean).items():
                out = _write(os.path.join(tmp, f"{kind}-{seed}-{name}.mp4"), cand, spec.fps)
                v = check(src, out, None, None, rediagnose=None)
                moving = (v.metrics.get("motion_px") or 0.0) >= MOVING_PX
                if name in ("temporal-blur", "duplicate") and not moving:
                    good = None  # harmless on a still shot: not scored
                rows.append({"seed": seed, "kind": kind, "candidate": name, "should_accept": good,
                             "accepted": v.accepted, "reasons": list(v.reasons),
                             "flicker_reduction": v.metrics.get("flicker_reduction"),
                             "ghosting": v.metrics.get("ghosting"), "ssim": v.metrics.get("ssim"),
                             "sharpness": v.metrics.get("sharpness_ratio"), "motion_px": v.metrics.get("motion_px")})
    table: dict[str, dict[str, str]] = {}
    for kind in KINDS:
        for name in CANDIDATES:
            sel = [r for r in rows if r["kind"] == kind and r["candidate"] == name and r["should_accept"] is not None]
            right = sum(r["accepted"] == r["should_accept"] for r in sel)
            table.setdefault(kind, {})[name] = f"{right}/{len(sel)}"
    scored = [r for r in rows if r["should_accept"] is not None]
    correct = sum(r["accepted"] == r["should_accept"] for r in scored)
    return {"correct": correct, "total": len(scored), "unscored": len(rows) - len(scored), "table": table,
            "wrong": [r for r in scored if r["accepted"] != r["should_accept"]]}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench verify")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--speed-frames", type=int, default=120)
    p.add_argument("--strength", type=float, default=1.0, help="flicker strength of the corpus (1 = default)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        s = speed(args.speed_frames, tmp)
        print(f"speed: {s['frames']} frames {s['size']} in {s['seconds']} s wall = {s['frames_per_s']} frames/s; "
              f"{s['cpu_seconds']} s CPU = {s['frames_per_cpu_s']} frames per CPU-second (oracle accepted: {s['accepted']})")
        c = calibration(args.seeds, args.frames, tmp, args.strength)
    print(f"calibration: {c['correct']}/{c['total']} verdicts right "
          f"({c['unscored']} blur/duplicate cases on still shots not scored)")
    print(f"{'kind':10s} " + " ".join(f"{n:>13s}" for n in CANDIDATES) + "   (right/scored)")
    for kind, row in c["table"].items():
        print(f"{kind:10s} " + " ".join(f"{row[n]:>13s}" for n in CANDIDATES))
    for r in c["wrong"]:
        print(f"  wrong: {r['kind']} seed {r['seed']} {r['candidate']}: accepted={r['accepted']} "
              f"motion {r['motion_px']:.2f} px, ghosting {r['ghosting'] or 0:.3f}, SSIM {r['ssim']:.3f}, "
              f"sharpness {r['sharpness']:.3f} {r['reasons']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"speed": s, "calibration": c}, fh, indent=2)
    return 0

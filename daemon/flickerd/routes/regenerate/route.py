"""``RegenerateRoute``: re-render a render with a diffusion video model and map it back to drop in.

One job: probe the render, read its sidecar, pick the family and model, plan the model's size,
fps and windows, then for each window feed the render's frames (video-to-video), its first frame
(image-to-video) or only the prompt (text-to-video), cross-fade the windows, map every output frame
back to the render's size, frame count and fps, and write it with the render's audio. Frames are
streamed: the render is read once, forward, and at most one window is held in memory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from flickerd.errors import ConfigError, FlickerdError, RouteError
from flickerd.media.probe import MediaInfo, probe
from flickerd.media.reader import iter_frames
from flickerd.media.writer import EncodeSettings, VideoWriter
from flickerd.routes.base import ProgressFn, StepResult
from flickerd.routes.regenerate import device as devices
from flickerd.routes.regenerate.acceptance import RegenAcceptance, judge, measure
from flickerd.routes.regenerate.families import FAMILIES, Family, Mode, get_family
from flickerd.routes.regenerate.loader import (
    DEFAULT_IDLE_UNLOAD_S, PipelineCache, LoadedPipeline, ModelKey, apply_memory_mode, default_loader,
)
from flickerd.routes.regenerate.mapping import FramePlan, frame_plan, model_size
from flickerd.routes.regenerate.memory import AUTO, GIB, LADDER, MemoryMode, choose_mode, decode_chunk, modes_for
from flickerd.routes.regenerate.settings import RegenerateSettings
from flickerd.routes.regenerate.sidecar import Sidecar, read_sidecar, resolve_model
from flickerd.routes.regenerate.windows import Window, crossfade, plan_windows

EXPLICIT_SIZE_MULTIPLE = 8  # every supported VAE downsamples by 8

_shared_cache: PipelineCache | None = None


def shared_cache() -> PipelineCache:
    """The process-wide pipeline cache: the last model stays loaded between jobs."""
    global _shared_cache
    if _shared_cache is None:
        _shared_cache = PipelineCache(default_loader(FAMILIES), idle_s=DEFAULT_IDLE_UNLOAD_S, timer=True)
    return _shared_cache


@dataclass(frozen=True, slots=True)
class Job:
    """What will run, decided before anything is loaded (recorded in the report)."""

    family: Family
    model: Path
    prompt: str
    negative_prompt: str
    seed: int
    strength: float
    guidance: float
    size: tuple[int, int]  # model (w, h)
    plan: FramePlan
    windows: tuple[Window, ...]
    sidecar: Sidecar | None


def plan_job(s: RegenerateSettings, info: MediaInfo, sidecar: Sidecar | None) -> Job:
    """Choose family, model, prompt and geometry (pure apart from resolving the sidecar's model path)."""
    family = get_family(s.family)
    model = Path(s.model) if s.model else None
    named = sidecar is not None and sidecar.model is not None
    if sidecar is not None and sidecar.text_to_video and model is None and family.mode is not Mode.TEXT_TO_VIDEO:
        # no model configured for this rule: the sidecar's prompt, seed and model re-render from text
        family = get_family(sidecar.family or s.t2v_family, f"{sidecar.origin}: family")
        if family.mode is not Mode.TEXT_TO_VIDEO:
            raise ConfigError(f"{sidecar.origin}: family {family.name!r} is not a text-to-video family.")
    if family.mode is Mode.TEXT_TO_VIDEO and named:
        if not s.model_root:
            raise ConfigError("params.model_root: a sidecar names a model, but no model_root folder is configured.")
        model = resolve_model(sidecar.model, s.model_root)
    prompt = (sidecar.prompt if sidecar and sidecar.prompt else "") or s.prompt
    negative = (sidecar.negative_prompt if sidecar and sidecar.negative_prompt else "") or s.negative_prompt
    if family.mode is Mode.TEXT_TO_VIDEO and not prompt:
        raise ConfigError(f"params.prompt: text-to-video ({family.name}) needs a prompt from the sidecar or the params.")
    seed = sidecar.seed if sidecar and sidecar.seed is not None else s.seed
    strength = sidecar.strength if sidecar and sidecar.strength is not None else s.strength
    if s.width:  # an explicit size must suit the checkpoint; only the VAE's 8-pixel grid is checked here
        size = (s.width - s.width % EXPLICIT_SIZE_MULTIPLE, s.height - s.height % EXPLICIT_SIZE_MULTIPLE)
        if min(size) < EXPLICIT_SIZE_MULTIPLE:
            raise ConfigError(f"params.width/height: {s.width}x{s.height} is too small for {family.name}.")
    else:
        size = model_size(info.width, info.height, family.width, family.height, family.size_multiple, flexible=family.flexible_size)
    plan = frame_plan(max(1, info.frame_count), info.fps, s.model_fps or family.fps)
    window = s.window or family.frames
    if not family.valid_frames(window) or window < 2:
        raise ConfigError(f"params.window: {window} frames is not valid for {family.name} (k * {family.frame_step} + 1, at least 2).")
    windows = plan_windows(plan.model_frames, window, min(s.overlap, window - 1), family.frame_step)
    if family.mode is Mode.TEXT_TO_VIDEO and len(windows) > 1:
        raise RouteError(
            f"Text-to-video renders one window of {window} frames ({window / plan.model_fps:.1f} s at {plan.model_fps:g} fps) "
            f"and this render needs {plan.model_frames}; use a video-to-video family for long clips."
        )
    return Job(family, model, prompt, negative, seed, strength, s.guidance or family.guidance, size, plan, windows, sidecar)


class _ModelFrames:
    """Model frame j (the render frame the plan picks, at the model's size), read forward only."""

    def __init__(self, path: str, plan: FramePlan, size: tuple[int, int]) -> None:
        self._frames: Iterator = iter_frames(path)
        self._plan = plan
        self._size = size
        self._index = -1
        self._image: np.ndarray | None = None
        self._cache: dict[int, np.ndarray] = {}

    def get(self, start: int, stop: int) -> list[np.ndarray]:
        for j in [j for j in self._cache if j < start]:
            del self._cache[j]
        for j in range(start, stop):
            if j not in self._cache:
                want = self._plan.source_for_model[j]
                while self._index < want:
                    try:
                        frame = next(self._frames)
                    except StopIteration:  # the header over-counted frames: repeat the last one
                        break
                    self._index, self._image = frame.index, frame.image
                if self._image is None:
                    raise RouteError("The render holds no decodable frame to regenerate from.")
                self._cache[j] = cv2.resize(self._image, self._size, interpolation=cv2.INTER_AREA)
        return [self._cache[j] for j in range(start, stop)]

    def close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close:
            close()


def _pil(frame: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(frame))


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    return (np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def pipeline_kwargs(
    job: Job, s: RegenerateSettings, window: Window, inputs: list[np.ndarray], first: np.ndarray | None, mode: MemoryMode
) -> dict:
    """The keyword arguments of one pipeline call for ``window`` (the generator is added by the caller)."""
    family = job.family
    w, h = job.size
    kw: dict[str, Any] = {"height": h, "width": w, "num_inference_steps": s.steps, "output_type": "np"}
    if family.text:
        kw.update(prompt=job.prompt, negative_prompt=job.negative_prompt or None,
                  guidance_scale=job.guidance, max_sequence_length=s.max_sequence_length)
    padded = inputs + [inputs[-1]] * (window.length - len(inputs)) if inputs else []
    if family.mode is Mode.VIDEO_TO_VIDEO:
        kw.update(video=[_pil(f) for f in padded], strength=job.strength)
    elif family.mode is Mode.IMAGE_TO_VIDEO:
        kw.update(image=_pil(first if first is not None else padded[0]), num_frames=window.length)
        if s.pin_last_frame and family.pin_last_frame:
            kw["last_image"] = _pil(padded[window.frames - 1])
        if family.name == "svd":
            kw.update(
                decode_chunk_size=s.decode_chunk_size or decode_chunk(mode, window.length),
                motion_bucket_id=s.motion_bucket_id, noise_aug_strength=s.noise_aug_strength,
                fps=max(1, int(round(job.plan.model_fps))), min_guidance_scale=1.0, max_guidance_scale=job.guidance,
            )
    else:
        kw["num_frames"] = window.length
    return kw


def check_checkpoint(pipe: Any, job: Job, s: RegenerateSettings) -> None:
    """Settings the loaded checkpoint cannot honour, caught before any window runs."""
    if job.family.pin_last_frame:
        config = getattr(getattr(pipe, "transformer", None), "config", None)
        two_frames = getattr(config, "pos_embed_seq_len", None) is not None  # first-last-frame (FLF2V) checkpoints
        if s.pin_last_frame and not two_frames:
            raise ConfigError(
                f"params.pin_last_frame: the model in {job.model} was not trained with a last frame (it is not a "
                "first-last-frame checkpoint); set pin_last_frame = false or use a FLF2V model."
            )
        if two_frames and not s.pin_last_frame:
            raise ConfigError(
                f"params.pin_last_frame: the model in {job.model} is a first-last-frame checkpoint and needs "
                "pin_last_frame = true."
            )


class RegenerateRoute:
    """Regeneration with diffusers; ``device_call`` is the seam where tests inject out-of-memory."""

    name = "regenerate"
    version = "1"

    def __init__(
        self,
        *,
        cache: PipelineCache | None = None,
        device_call: devices.DeviceCall = devices.call_pipeline,
        has_cuda=devices.cuda_available,
        acceptance: RegenAcceptance = RegenAcceptance(),
    ) -> None:
        self._cache = cache
        self._device_call = device_call
        self._has_cuda = has_cuda
        self.acceptance = acceptance

    @property
    def cache(self) -> PipelineCache:
        return self._cache if self._cache is not None else shared_cache()

    def fix(self, src: str, out: str, params: Mapping[str, Any], progress: ProgressFn) -> StepResult:
        start = time.monotonic()
        s = RegenerateSettings.from_mapping(params, "params")
        info = probe(src)
        sidecar = read_sidecar(src, info.metadata) if s.use_sidecar else None
        job = plan_job(s, info, sidecar)
        device = devices.resolve_device(s.device, has_cuda=self._has_cuda)
        dtype = s.dtype or job.family.dtype
        start_mode = self._start_mode(s, job.family, device)
        cache = self.cache
        cache.idle_s = s.idle_unload_s
        loaded = cache.get(ModelKey(str(job.model), job.family.name, device, dtype))
        check_checkpoint(loaded.pipe, job, s)
        notes: list[str] = []
        attempts_all: list[dict] = []
        import torch

        def run_window(k: int, window: Window, inputs: list[np.ndarray], first: np.ndarray | None) -> np.ndarray:
            def step_done(pipe: Any, i: int, t: Any, kwargs: dict) -> dict:
                total = max(1, int(getattr(pipe, "num_timesteps", 0) or s.steps))
                progress(min(1.0, (k + (i + 1) / total) / len(job.windows)) * 0.95)
                cache.touch()
                return kwargs

            def attempt(mode: MemoryMode) -> np.ndarray:
                self._ensure_mode(loaded, mode, device, job.family)
                kw = pipeline_kwargs(job, s, window, inputs, first, mode)
                kw["generator"] = torch.Generator("cpu").manual_seed(job.seed)
                kw["callback_on_step_end"] = step_done
                result = self._device_call(loaded.pipe, kw)
                frames = np.asarray(result.frames[0], dtype=np.float32)
                if frames.ndim != 4 or frames.shape[-1] != 3:
                    raise RouteError(f"{job.family.pipeline} returned frames of shape {frames.shape}; expected F×H×W×3.")
                return frames

            mode = self._later(start_mode, loaded.mode)
            frames, attempts = devices.run_with_memory_ladder(attempt, mode, device)
            for a in attempts:
                attempts_all.append({"window": k, "mode": a.mode.value, "error": a.error})
                if a.error:
                    notes.append(f"window {k}: out of memory in mode {a.mode.value}; retried with the next memory mode.")
            if frames.shape[0] < window.frames:  # some checkpoints trim to their latent grid
                frames = np.concatenate([frames, np.repeat(frames[-1:], window.frames - frames.shape[0], axis=0)])
            return frames[: window.frames]

        source = _ModelFrames(src, job.plan, job.size) if job.family.mode is not Mode.TEXT_TO_VIDEO else None
        try:
            self._render(job, info, out, source, run_window, params.get("_codec") or None)
        except BaseException as exc:
            if os.path.exists(out):  # never leave a half-written video behind
                os.unlink(out)
            if isinstance(exc, (RuntimeError, ValueError, TypeError)) and not isinstance(exc, FlickerdError):
                raise RouteError(
                    f"Regeneration with {job.family.pipeline} failed: {type(exc).__name__}: {str(exc)[:300]}"
                ) from exc
            raise
        finally:
            if source is not None:
                source.close()
        extra: dict[str, Any] = {
            "family": job.family.name,
            "pipeline": job.family.pipeline,
            "model": str(job.model),
            "device": device,
            "dtype": "float32" if device == "cpu" else dtype,
            "memory_mode": loaded.mode.value if loaded.mode else start_mode.value,
            "attempts": attempts_all,
            "model_size": list(job.size),
            "model_fps": job.plan.model_fps,
            "model_frames": job.plan.model_frames,
            "windows": [[w.start, w.stop, w.length] for w in job.windows],
            "sidecar": job.sidecar.to_dict() if job.sidecar else None,
        }
        if s.assess:
            judgement = judge(measure(src, out, self.acceptance.structure_side), self.acceptance)
            extra["acceptance"] = {
                "accepted": judgement.accepted, "reasons": list(judgement.reasons), **judgement.scores.to_dict(),
            }
        progress(1.0)
        effective = {
            "family": job.family.name, "model": str(job.model), "seed": job.seed, "strength": job.strength,
            "guidance": job.guidance, "steps": s.steps, "prompt": job.prompt, "negative_prompt": job.negative_prompt,
            "window": job.windows[0].length, "overlap": s.overlap, "memory_mode": s.memory_mode, "device": s.device,
        }
        if job.family.name == "svd":
            effective.update(noise_aug_strength=s.noise_aug_strength, motion_bucket_id=s.motion_bucket_id)
        return StepResult(
            route=self.name,
            version=self.version,
            backend=f"diffusers {self._diffusers_version()} {job.family.pipeline} (torch {device})",
            params=effective,
            seconds=time.monotonic() - start,
            output=out,
            notes=tuple(notes),
            extra=extra,
        )

    def _render(self, job: Job, info: MediaInfo, out: str, source: _ModelFrames | None, run_window,
                codec: str | None = None) -> None:
        """Run every window, cross-fade overlaps, and write the render's frames as they become final."""
        plan, windows = job.plan, job.windows
        pending: np.ndarray | None = None  # previous window's output for frames it shares with the next
        final: dict[int, np.ndarray] = {}
        next_out = 0
        with VideoWriter(out, info, settings=EncodeSettings(codec=codec)) as writer:
            for k, window in enumerate(windows):
                inputs = source.get(window.start, window.stop) if source is not None else []
                first = None
                if job.family.mode is Mode.IMAGE_TO_VIDEO and pending is not None:
                    first = _to_uint8(pending[0])  # continue from what the previous window rendered here
                frames = run_window(k, window, inputs, first)
                if pending is not None:
                    n = pending.shape[0]
                    frames[:n] = crossfade(pending, frames[:n])
                next_start = windows[k + 1].start if k + 1 < len(windows) else window.stop
                for j in range(window.start, next_start):
                    final[j] = frames[j - window.start]
                pending = frames[next_start - window.start:] if k + 1 < len(windows) else None
                while next_out < len(plan.model_for_source) and plan.model_for_source[next_out] < next_start:
                    image = _to_uint8(final[plan.model_for_source[next_out]])
                    writer.write(cv2.resize(image, (info.width, info.height), interpolation=cv2.INTER_CUBIC))
                    next_out += 1
                keep = plan.model_for_source[next_out] if next_out < len(plan.model_for_source) else next_start
                for j in [j for j in final if j < keep]:
                    del final[j]

    def _start_mode(self, s: RegenerateSettings, family: Family, device: str) -> MemoryMode:
        if s.memory_mode == AUTO:
            free = devices.free_vram(device)
            return choose_mode(family.name, free, int(s.vram_headroom_gb * GIB), device)
        mode = MemoryMode(s.memory_mode)
        if mode not in modes_for(device):
            raise ConfigError(f"params.memory_mode: {mode.value} moves weights between CPU and GPU and needs a CUDA device, not {device}.")
        return mode

    @staticmethod
    def _later(a: MemoryMode, b: MemoryMode | None) -> MemoryMode:
        """The more frugal of two modes: a pipeline that needed offload once keeps it."""
        return a if b is None or LADDER.index(a) >= LADDER.index(b) else b

    @staticmethod
    def _ensure_mode(loaded: LoadedPipeline, mode: MemoryMode, device: str, family: Family) -> None:
        if loaded.mode is not mode:
            apply_memory_mode(loaded.pipe, mode, device, family)
            loaded.mode = mode

    @staticmethod
    def _diffusers_version() -> str:
        try:
            import diffusers

            return diffusers.__version__
        except ImportError:
            return "?"

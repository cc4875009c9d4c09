"""Local model folders: validate up front, load offline with the family's dtype, apply memory modes, cache.

A model folder is what ``save_pretrained`` (or ``huggingface-cli download --local-dir``) writes:
``model_index.json`` plus one sub-folder per component. ``validate_model_dir`` checks every component
the pipeline needs (config and weights, scheduler config, tokenizer files, image-processor config)
and reports everything missing in ONE ``ModelError`` that names the expected paths, because
diffusers' own errors name the wrong folder. Nothing is ever downloaded: ``HF_HUB_OFFLINE=1`` is set
before diffusers is imported and every load passes ``local_files_only=True``.
"""

from __future__ import annotations

import glob
import inspect
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flickerd.errors import ModelError
from flickerd.routes.regenerate.families import Family
from flickerd.routes.regenerate.memory import MemoryMode

DEFAULT_IDLE_UNLOAD_S = 600.0
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth")
TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "vocab.json", "tokenizer_config.json", "vocab.txt")


def import_diffusers() -> Any:
    """diffusers, imported with the hub switched off (it reads these at import time)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import diffusers

    import transformers

    diffusers.utils.logging.disable_progress_bar()  # logs are JSON lines, not tqdm bars
    transformers.utils.logging.disable_progress_bar()
    return diffusers


def _dtype_kwarg(diffusers: Any) -> str:
    """``dtype`` on diffusers that deprecated ``torch_dtype`` (0.4x), ``torch_dtype`` before."""
    try:
        from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa: F401

        return "dtype"
    except ImportError:
        return "torch_dtype"


def _kind(class_name: str) -> str:
    if class_name.endswith("Scheduler"):
        return "scheduler"
    if "Tokenizer" in class_name:
        return "tokenizer"
    if "Processor" in class_name or "FeatureExtractor" in class_name:
        return "preprocessor"
    return "model"


def _component_problems(folder: Path, name: str, class_name: str) -> list[str]:
    sub = folder / name
    if not sub.is_dir():
        return [f"{sub}/ is missing ({class_name})"]
    kind = _kind(class_name)
    if kind == "scheduler":
        return [] if (sub / "scheduler_config.json").is_file() else [f"{sub / 'scheduler_config.json'} is missing"]
    if kind == "tokenizer":
        return [] if any((sub / f).is_file() for f in TOKENIZER_FILES) else [
            f"{sub}/ holds no tokenizer file (one of {', '.join(TOKENIZER_FILES)})"
        ]
    if kind == "preprocessor":
        return [] if (sub / "preprocessor_config.json").is_file() else [f"{sub / 'preprocessor_config.json'} is missing"]
    problems = [] if (sub / "config.json").is_file() else [f"{sub / 'config.json'} is missing"]
    for index in glob.glob(str(sub / "*.index.json")):  # sharded weights: every shard must be there
        try:
            with open(index, encoding="utf-8") as f:
                shards = set(json.load(f).get("weight_map", {}).values())
        except (OSError, ValueError, AttributeError) as exc:
            problems.append(f"{index} cannot be read ({exc})")
            continue
        problems += [f"{sub / s} is missing (listed in {os.path.basename(index)})" for s in sorted(shards) if not (sub / s).is_file()]
    weights = [p for pat in WEIGHT_PATTERNS for p in glob.glob(str(sub / pat))]
    if not weights:
        problems.append(f"{sub}/ holds no weights file ({', '.join(WEIGHT_PATTERNS)})")
    else:
        problems += [f"{p} is empty" for p in weights if os.path.getsize(p) == 0]
    return problems


def required_components(pipeline_class: type) -> tuple[str, ...]:
    """The constructor arguments of a pipeline that are not optional components."""
    optional = set(getattr(pipeline_class, "_optional_components", ()) or ())
    params = inspect.signature(pipeline_class.__init__).parameters
    return tuple(
        n for n, p in params.items()
        if n != "self" and p.kind is p.POSITIONAL_OR_KEYWORD and p.default is inspect.Parameter.empty and n not in optional
    )


def validate_model_dir(path: str | os.PathLike, family: Family) -> dict[str, str]:
    """Check a model folder for ``family`` before loading anything; return component → class name.

    Raises one ``ModelError`` listing every problem and naming the expected layout.
    """
    folder = Path(path)
    layout = f"expected a diffusers model folder: {folder}/model_index.json and one sub-folder per component"
    if not folder.is_dir():
        raise ModelError(f"Model folder {folder} does not exist; {layout} (copy it there from a machine with network access).")
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise ModelError(f"{index_path} is missing; {layout}.")
    try:
        with open(index_path, encoding="utf-8") as f:
            index = json.load(f)
        if not isinstance(index, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise ModelError(f"{index_path} cannot be read ({exc}); {layout}.") from exc
    components = {
        name: str(value[1])
        for name, value in index.items()
        if not name.startswith("_") and isinstance(value, list) and len(value) == 2 and value[1] is not None
    }
    pipeline_class = getattr(import_diffusers(), family.pipeline)
    problems = [
        f"component {name!r} is not listed in model_index.json"
        for name in required_components(pipeline_class)
        if name not in components
    ]
    for name, class_name in components.items():
        problems += _component_problems(folder, name, class_name)
    if problems:
        raise ModelError(
            f"Model folder {folder} is incomplete for {family.name} ({family.pipeline}): " + "; ".join(problems) + f"; {layout}."
        )
    return components


def torch_dtype(name: str, device: str) -> Any:
    """The dtype to load with: the family's on CUDA, float32 on CPU (bf16/fp16 kernels there are slow or missing)."""
    import torch

    return torch.float32 if not device.startswith("cuda") else getattr(torch, name)


def load_pipeline(path: str | os.PathLike, family: Family, device: str, dtype: str | None = None) -> Any:
    """Validate, then load ``path`` as ``family``'s pipeline class, offline, in the right dtypes."""
    components = validate_model_dir(path, family)
    diffusers = import_diffusers()
    pipeline_class = getattr(diffusers, family.pipeline)
    weights_dtype = torch_dtype(dtype or family.dtype, device)
    overrides: dict[str, Any] = {}
    key = _dtype_kwarg(diffusers)
    try:
        if family.vae_dtype and "vae" in components:
            # Wan's VAE must stay in fp32 while the transformer runs in bf16.
            vae_class = getattr(diffusers, components["vae"])
            overrides["vae"] = vae_class.from_pretrained(
                os.path.join(path, "vae"), local_files_only=True, **{key: torch_dtype(family.vae_dtype, device)}
            )
        pipe = pipeline_class.from_pretrained(os.fspath(path), local_files_only=True, **{key: weights_dtype}, **overrides)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RuntimeError) as exc:
        raise ModelError(f"Model folder {path} could not be loaded as {family.pipeline}: {str(exc)[:400]}") from exc
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    return pipe


def apply_memory_mode(pipe: Any, mode: MemoryMode, device: str, family: Family) -> None:
    """Put ``pipe`` on ``device`` with the savings of ``mode`` (modes only ever escalate on one pipeline)."""
    vae = getattr(pipe, "vae", None)
    if mode is not MemoryMode.NONE and vae is not None and hasattr(vae, "enable_slicing"):
        try:
            vae.enable_slicing()
        except (NotImplementedError, AttributeError):
            pass  # some VAEs declare it but do not slice; decode chunking covers them
    if mode in (MemoryMode.VAE_TILING, MemoryMode.MODEL_OFFLOAD, MemoryMode.SEQUENTIAL_OFFLOAD):
        if family.vae_tiling and vae is not None and hasattr(vae, "enable_tiling"):
            vae.enable_tiling()
        unet = getattr(pipe, "unet", None)
        if unet is not None and hasattr(unet, "enable_forward_chunking"):
            unet.enable_forward_chunking()  # SVD: feed-forward in a loop instead of one huge batch; same result
    if mode is MemoryMode.MODEL_OFFLOAD:
        pipe.enable_model_cpu_offload(device=device)
    elif mode is MemoryMode.SEQUENTIAL_OFFLOAD:
        pipe.remove_all_hooks()
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)


@dataclass(frozen=True, slots=True)
class ModelKey:
    path: str
    family: str
    device: str
    dtype: str


class LoadedPipeline:
    """A pipeline in memory and the memory mode applied to it so far."""

    def __init__(self, key: ModelKey, pipe: Any, mode: MemoryMode | None = None) -> None:
        self.key = key
        self.pipe = pipe
        self.mode = mode  # None until a mode is applied


Loader = Callable[[ModelKey], Any]


class PipelineCache:
    """Keeps the last model loaded between jobs and unloads it after ``idle_s`` without use.

    One model at a time: a GPU rarely holds two video models. With ``timer=True`` (the daemon's
    shared cache) a daemon timer thread unloads it once idle; ``sweep()`` does the same on demand
    and runs at every ``get``, so an idle GPU is handed back to other tools (e.g. ComfyUI).
    """

    def __init__(
        self,
        loader: Loader,
        *,
        idle_s: float = DEFAULT_IDLE_UNLOAD_S,
        clock: Callable[[], float] = time.monotonic,
        timer: bool = False,
    ) -> None:
        self._loader = loader
        self._clock = clock
        self._lock = threading.Lock()
        self._current: LoadedPipeline | None = None
        self._last_used = 0.0
        self._timer_enabled = timer  # the daemon's shared cache sweeps itself; tests call sweep()
        self._timer: threading.Timer | None = None
        self.idle_s = idle_s
        self.loads = 0

    @property
    def current(self) -> ModelKey | None:
        return self._current.key if self._current else None

    def get(self, key: ModelKey) -> LoadedPipeline:
        with self._lock:
            self._sweep_locked()
            if self._current is None or self._current.key != key:
                self._unload_locked()
                self._current = LoadedPipeline(key, self._loader(key))
                self.loads += 1
            self._last_used = self._clock()
            self._arm_timer_locked(self.idle_s)
            return self._current

    def _arm_timer_locked(self, delay: float) -> None:
        if not self._timer_enabled:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(max(1.0, delay + 1.0), self._timer_fired)
        self._timer.daemon = True
        self._timer.start()

    def _timer_fired(self) -> None:
        with self._lock:
            self._timer = None
            if self._current is not None and not self._sweep_locked():
                self._arm_timer_locked(self.idle_s - (self._clock() - self._last_used))

    def touch(self) -> None:
        with self._lock:
            self._last_used = self._clock()

    def sweep(self) -> bool:
        """Unload the model if it has been idle too long; True when something was unloaded."""
        with self._lock:
            return self._sweep_locked()

    def clear(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._unload_locked()

    def _sweep_locked(self) -> bool:
        if self._current is not None and self._clock() - self._last_used > self.idle_s:
            self._unload_locked()
            return True
        return False

    def _unload_locked(self) -> None:
        if self._current is None:
            return
        device = self._current.key.device
        self._current = None
        import gc

        gc.collect()
        if device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


def default_loader(families: dict[str, Family]) -> Loader:
    def load(key: ModelKey) -> Any:
        return load_pipeline(key.path, families[key.family], key.device, key.dtype)

    return load

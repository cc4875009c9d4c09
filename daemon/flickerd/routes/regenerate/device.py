"""Device choice, GPU slots, free VRAM, and the out-of-memory ladder around the one device call.

``call_pipeline`` is the device-call boundary: every denoising run goes through a ``DeviceCall``,
so tests inject ``torch.OutOfMemoryError`` there (a function that raises, then delegates) instead
of patching the route. Torch is imported lazily: the service can ask for ``gpu_status`` cheaply.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from flickerd.errors import ConfigError, InputError, RouteError
from flickerd.routes.regenerate.memory import MemoryMode, next_mode

DEFAULT_MAX_GPU_FAILURES = 3

T = TypeVar("T")
DeviceCall = Callable[[Any, dict], Any]
"""``call(pipe, kwargs) -> pipeline output``: the only place a pipeline touches the device."""


class GpuOutOfMemory(RouteError):
    reason = "out_of_memory"


def call_pipeline(pipe: Any, kwargs: dict) -> Any:
    """The default device call: run the pipeline."""
    return pipe(**kwargs)


def cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # a broken driver is "no GPU", reported by gpu_status
        return False


def resolve_device(configured: str | None, *, has_cuda: Callable[[], bool] = cuda_available) -> str:
    """``cuda`` when present and not configured otherwise; ``cpu`` only when asked for.

    CPU is for tiny models and tests: a real video model on CPU would take days, so an absent GPU
    is an error unless ``device = "cpu"`` is configured.
    """
    value = (configured or "auto").strip().lower()
    if value == "cpu":
        return "cpu"
    if value == "auto" or value == "cuda" or value.startswith("cuda:"):
        if has_cuda():
            return "cuda" if value == "auto" else value
        raise RouteError(
            "Regeneration needs a CUDA GPU and none is usable; install the NVIDIA driver, or set "
            "device = \"cpu\" in the route's params (only for tiny test models)."
        )
    raise ConfigError(f"params.device: expected \"auto\", \"cuda\", \"cuda:N\" or \"cpu\", got {configured!r}.")


def is_out_of_memory(exc: BaseException) -> bool:
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return True
    except ImportError:
        pass
    return isinstance(exc, (RuntimeError, MemoryError)) and "out of memory" in str(exc).lower()


def free_vram(device: str) -> int | None:
    """Free bytes on a CUDA ``device``; None on CPU or when the driver cannot say."""
    if not device.startswith("cuda"):
        return None
    try:
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    except Exception:
        return None


def empty_cache(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


@dataclass(frozen=True, slots=True)
class Attempt:
    mode: MemoryMode
    error: str  # "" when it succeeded


def run_with_memory_ladder(
    run: Callable[[MemoryMode], T], start: MemoryMode, device: str
) -> tuple[T, tuple[Attempt, ...]]:
    """Run ``run(mode)``; on out-of-memory retry once with the next mode, then raise ``GpuOutOfMemory``.

    The attempts (mode and error) go into the report either way.
    """
    attempts: list[Attempt] = []
    mode: MemoryMode | None = start
    while mode is not None and len(attempts) < 2:
        try:
            result = run(mode)
        except BaseException as exc:
            if not is_out_of_memory(exc):
                raise
            attempts.append(Attempt(mode, f"{type(exc).__name__}: {str(exc)[:200]}"))
            empty_cache(device)
            mode = next_mode(mode, device)
            continue
        attempts.append(Attempt(mode, ""))
        return result, tuple(attempts)
    tried = ", ".join(a.mode.value for a in attempts)
    raise GpuOutOfMemory(
        f"Regeneration ran out of {device} memory in memory mode(s) {tried}; lower the window or "
        f"resolution, raise vram_headroom_gb for other GPU users, or start at a more frugal memory_mode."
    )


@dataclass(frozen=True, slots=True)
class GpuStatus:
    usable: bool
    devices: tuple[int, ...]
    message: str  # one line for the start-up log; "" when all is well


def gpu_status(configured_slots: int, *, has_cuda: Callable[[], bool] = cuda_available) -> GpuStatus:
    """What the daemon says at start about its GPU slots (one loud line when they cannot be used)."""
    if configured_slots <= 0:
        return GpuStatus(False, (), "")
    if not has_cuda():
        return GpuStatus(
            False, (),
            f"gpu_slots = {configured_slots} but no CUDA device is usable; regeneration rules are skipped "
            "and their fallbacks run until a GPU is available.",
        )
    import torch

    return GpuStatus(True, tuple(range(torch.cuda.device_count())), "")


class GpuSlots:
    """One job per slot per GPU; a GPU that fails ``max_failures`` times in a row leaves the rotation.

    ``with slots.slot() as gpu:`` waits for a free slot and yields the GPU index; an exception
    inside the block counts as a failure of that GPU unless it is an input or config problem.
    """

    def __init__(self, gpus: Sequence[int], *, per_gpu: int = 1, max_failures: int = DEFAULT_MAX_GPU_FAILURES) -> None:
        self._cond = threading.Condition()
        self._free = {g: per_gpu for g in gpus}
        self._failures = {g: 0 for g in gpus}
        self._retired: dict[int, str] = {}
        self.max_failures = max_failures

    @property
    def usable(self) -> tuple[int, ...]:
        with self._cond:
            return tuple(g for g in self._free if g not in self._retired)

    @property
    def retired(self) -> dict[int, str]:
        """GPUs taken out of rotation, with the last error of each."""
        with self._cond:
            return dict(self._retired)

    def acquire(self, timeout: float | None = None) -> int | None:
        """A GPU index with a free slot (the least loaded), or None on timeout or when none is usable."""
        with self._cond:
            def ready() -> bool:
                return not self._usable() or any(self._free[g] > 0 for g in self._usable())

            if not self._cond.wait_for(ready, timeout=timeout):
                return None
            candidates = [g for g in self._usable() if self._free[g] > 0]
            if not candidates:
                return None
            gpu = max(candidates, key=lambda g: self._free[g])
            self._free[gpu] -= 1
            return gpu

    def _usable(self) -> list[int]:
        return [g for g in self._free if g not in self._retired]

    def release(self, gpu: int, *, error: str | None = None) -> None:
        """Give the slot back; ``error`` counts a failure, success resets the count."""
        with self._cond:
            self._free[gpu] += 1
            if error is None:
                self._failures[gpu] = 0
            else:
                self._failures[gpu] += 1
                if self._failures[gpu] >= self.max_failures:
                    self._retired[gpu] = error
            self._cond.notify_all()

    @contextmanager
    def slot(self, timeout: float | None = None) -> Iterator[int]:
        gpu = self.acquire(timeout)
        if gpu is None:
            raise RouteError("No GPU slot is free or usable; every GPU has failed repeatedly or is busy.")
        try:
            yield gpu
        except (ConfigError, InputError):  # the file or the settings, not the GPU
            self.release(gpu)
            raise
        except Exception as exc:
            self.release(gpu, error=f"{type(exc).__name__}: {exc}"[:300])
            raise
        else:
            self.release(gpu)

"""Device choice, the out-of-memory ladder at the device-call boundary, GPU slots and start-up status."""

from __future__ import annotations

import threading

import pytest
import torch

from flickerd.errors import ConfigError, InputError, RouteError
from flickerd.routes.regenerate.device import (
    GpuOutOfMemory, GpuSlots, gpu_status, is_out_of_memory, resolve_device, run_with_memory_ladder,
)
from flickerd.routes.regenerate.memory import MemoryMode


def test_cpu_only_when_configured_and_cuda_when_present():
    assert resolve_device("cpu", has_cuda=lambda: False) == "cpu"
    assert resolve_device("auto", has_cuda=lambda: True) == "cuda"
    assert resolve_device(None, has_cuda=lambda: True) == "cuda"
    assert resolve_device("cuda:1", has_cuda=lambda: True) == "cuda:1"
    with pytest.raises(RouteError, match='set device = "cpu"'):
        resolve_device("auto", has_cuda=lambda: False)
    with pytest.raises(ConfigError, match="params.device"):
        resolve_device("tpu", has_cuda=lambda: True)


def test_oom_is_recognised_by_type_and_by_cuda_message():
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_ladder_retries_once_with_the_next_mode():
    seen = []

    def run(mode):
        seen.append(mode)
        if mode is MemoryMode.NONE:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return "frames"

    result, attempts = run_with_memory_ladder(run, MemoryMode.NONE, "cpu")
    assert result == "frames"
    assert seen == [MemoryMode.NONE, MemoryMode.VAE_SLICING]
    assert [a.mode for a in attempts] == seen and attempts[0].error.startswith("OutOfMemoryError") and not attempts[1].error


def test_ladder_gives_up_after_one_retry_with_a_clear_error():
    def run(mode):
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(GpuOutOfMemory, match="model_offload, sequential_offload") as info:
        run_with_memory_ladder(run, MemoryMode.MODEL_OFFLOAD, "cuda")
    assert info.value.reason == "out_of_memory"
    with pytest.raises(GpuOutOfMemory, match="vae_tiling"):  # last mode on CPU: no retry left
        run_with_memory_ladder(run, MemoryMode.VAE_TILING, "cpu")


def test_other_errors_pass_through_the_ladder_untouched():
    def run(mode):
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        run_with_memory_ladder(run, MemoryMode.NONE, "cpu")


def test_gpu_that_keeps_failing_leaves_the_rotation():
    slots = GpuSlots([0, 1], max_failures=2)
    for _ in range(2):
        with pytest.raises(InputError):  # the file's fault, not the GPU's: never counts
            with slots.slot():
                raise InputError("bad file")
    assert slots.retired == {}
    for _ in range(2):
        with pytest.raises(RuntimeError):
            with slots.slot() as gpu:
                assert gpu == 0
                raise RuntimeError("CUDA error: an illegal memory access was encountered")
    assert 0 in slots.retired and "illegal memory access" in slots.retired[0]
    assert slots.usable == (1,)
    with slots.slot() as gpu:
        assert gpu == 1


def test_one_job_per_slot():
    slots = GpuSlots([0])
    assert slots.acquire() == 0
    assert slots.acquire(timeout=0.05) is None
    got = []
    t = threading.Thread(target=lambda: got.append(slots.acquire(timeout=5)))
    t.start()
    slots.release(0)
    t.join(5)
    assert got == [0]


def test_start_up_status_is_loud_when_slots_have_no_gpu():
    status = gpu_status(1, has_cuda=lambda: False)
    assert not status.usable and "gpu_slots = 1 but no CUDA device is usable" in status.message
    assert gpu_status(0, has_cuda=lambda: False).message == ""

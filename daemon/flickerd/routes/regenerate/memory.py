"""Memory modes for a pipeline on one GPU, their order of escalation, and choosing one from free VRAM (pure).

Each mode includes the savings of the ones before it:

    none → vae_slicing → vae_tiling → model_offload → sequential_offload

Offload modes move weights between CPU and GPU, so they exist on CUDA only; on CPU the ladder
stops at ``vae_tiling``. For SVD, whose VAE has no tiling, the lever is ``decode_chunk_size``:
large (all frames at once, the most stable) in ``none``, smaller with every step.
"""

from __future__ import annotations

from enum import Enum

from flickerd.errors import ConfigError

GIB = 1024**3


class MemoryMode(str, Enum):
    NONE = "none"
    VAE_SLICING = "vae_slicing"
    VAE_TILING = "vae_tiling"
    MODEL_OFFLOAD = "model_offload"
    SEQUENTIAL_OFFLOAD = "sequential_offload"

    @property
    def offload(self) -> bool:
        return self in (MemoryMode.MODEL_OFFLOAD, MemoryMode.SEQUENTIAL_OFFLOAD)


LADDER: tuple[MemoryMode, ...] = tuple(MemoryMode)
AUTO = "auto"

# Rough peak VRAM (GiB) for one native window, per mode, for CogVideoX-2b (fp16), Wan2.1-14B (bf16)
# and SVD-XT (fp16), from the models' documentation (diffusers CogVideoX docs and model card, Wan 2.1
# card, diffusers SVD guide) with the steps between interpolated. Only used to pick a starting mode
# under memory_mode = "auto"; the OOM ladder corrects a wrong guess, and smaller checkpoints
# (CogVideoX-5b needs more, Wan-1.3B far less) are better served by an explicit memory_mode.
VRAM_GIB: dict[str, dict[MemoryMode, float]] = {
    "cogvideox": {
        MemoryMode.NONE: 33.0, MemoryMode.VAE_SLICING: 30.0, MemoryMode.VAE_TILING: 19.0,
        MemoryMode.MODEL_OFFLOAD: 11.0, MemoryMode.SEQUENTIAL_OFFLOAD: 5.0,
    },
    "wan": {
        MemoryMode.NONE: 40.0, MemoryMode.VAE_SLICING: 38.0, MemoryMode.VAE_TILING: 30.0,
        MemoryMode.MODEL_OFFLOAD: 20.0, MemoryMode.SEQUENTIAL_OFFLOAD: 8.0,
    },
    "svd": {
        MemoryMode.NONE: 20.0, MemoryMode.VAE_SLICING: 16.0, MemoryMode.VAE_TILING: 14.0,
        MemoryMode.MODEL_OFFLOAD: 10.0, MemoryMode.SEQUENTIAL_OFFLOAD: 6.0,
    },
}


def parse_mode(value: object, path: str) -> str:
    """``auto`` or a ``MemoryMode`` value; ConfigError naming ``path`` otherwise."""
    if value == AUTO:
        return AUTO
    try:
        return MemoryMode(value).value
    except ValueError:
        choices = ", ".join([AUTO, *(m.value for m in MemoryMode)])
        raise ConfigError(f"{path}: unknown memory mode {value!r}; choose one of {choices}.") from None


def modes_for(device: str) -> tuple[MemoryMode, ...]:
    """The ladder available on ``device`` ("cuda", "cuda:1", "cpu")."""
    return LADDER if device.startswith("cuda") else tuple(m for m in LADDER if not m.offload)


def next_mode(mode: MemoryMode, device: str) -> MemoryMode | None:
    """The next, more frugal mode on ``device``; None at the end of the ladder."""
    ladder = modes_for(device)
    i = ladder.index(mode)
    return ladder[i + 1] if i + 1 < len(ladder) else None


def choose_mode(family: str, free_bytes: int | None, headroom_bytes: int, device: str) -> MemoryMode:
    """The least frugal mode whose documented peak fits in ``free_bytes - headroom_bytes``.

    Unknown free memory (CPU, or no CUDA query) starts at ``none``.
    """
    ladder = modes_for(device)
    if free_bytes is None or not device.startswith("cuda"):
        return ladder[0]
    budget = free_bytes - headroom_bytes
    table = VRAM_GIB.get(family.split("-")[0], VRAM_GIB["wan"])
    for mode in ladder:
        if table[mode] * GIB <= budget:
            return mode
    return ladder[-1]


def decode_chunk(mode: MemoryMode, frames: int) -> int:
    """SVD's ``decode_chunk_size`` in ``mode``: every frame at once when memory allows."""
    return max(1, min(frames, {MemoryMode.NONE: frames, MemoryMode.VAE_SLICING: 8, MemoryMode.VAE_TILING: 4,
                   MemoryMode.MODEL_OFFLOAD: 4, MemoryMode.SEQUENTIAL_OFFLOAD: 2}[mode]))

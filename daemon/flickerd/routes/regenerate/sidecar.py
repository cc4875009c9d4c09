"""The sidecar record: prompt, negative prompt, seed and model for one render.

A sidecar is ``NAME.json`` next to ``NAME.mp4`` or, failing that, a JSON object in the container's
``flickerd`` (or ``comment``) metadata tag. It comes from the same untrusted folder as the render,
so parsing is strict: unknown keys, wrong types, huge or binary text, non-finite numbers, duplicate
keys and model names that could point outside the model folder are all rejected with a
``SidecarError`` naming the problem. Nothing else escapes ``parse_sidecar``. Sidecar files are
read through ``flickerd.media.guarded``: a regular file inside the render's folder, 64 KiB at most.

An image-sequence folder's record comes from ``FOLDER.json`` beside it or ``FOLDER/_sequence.json``
(which may also give the sequence's ``fps``), else from its first frame's PNG text chunks
(ComfyUI ``prompt``/``workflow``, A1111 ``parameters``). Those files are a frame tool's as much
as ours, so for sequences anything unusable is ignored with a warning, never fatal.

    {"prompt": "a red fox in snow", "negative_prompt": "blurry", "seed": 42,
     "model": "CogVideoX-2b", "family": "cogvideox-t2v", "strength": 0.5}
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog

from flickerd.errors import InputError, UnsafeInput
from flickerd.media.guarded import CAPS, InputKind, Refusal, read_input

_log = structlog.get_logger("flickerd.sidecar")

MAX_SIDECAR_BYTES = CAPS[InputKind.SIDECAR]
MAX_PROMPT_CHARS = 4000
MAX_SEED = 2**63 - 1
METADATA_KEYS = ("flickerd", "comment")
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_FAMILY_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_KEYS = frozenset({"version", "prompt", "negative_prompt", "seed", "model", "family", "strength", "guide",
                   "window", "seams"})
MAX_GUIDE_CHARS = 1024
MAX_SEAMS = 4096  # window joins listed one by one; a render of 4096 windows is far past any model's
MAX_FRAME_INDEX = 10**7
MIN_WINDOW = 2  # frames per render window: a join every frame would be no window at all


class SidecarError(InputError):
    """The sidecar exists but cannot be trusted or understood."""


@dataclass(frozen=True, slots=True)
class Sidecar:
    origin: str  # the file, or "PATH (container metadata)"
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    model: str | None = None  # a folder name under the configured model root, never a path
    family: str | None = None
    strength: float | None = None
    guide: str | None = None  # the render's source video: a relative path inside the watched folder
    window: int | None = None  # frames per render window: a join (seam) every ``window`` frames
    seams: tuple[int, ...] = ()  # frames that start a render window, listed (0-based)

    @property
    def text_to_video(self) -> bool:
        """Prompt, seed and model are all given: enough to re-render from text alone."""
        return bool(self.prompt) and self.seed is not None and self.model is not None

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in ((k, getattr(self, k)) for k in self.__slots__)}

    def seams_within(self, frames: int) -> tuple[int, ...]:
        """The frames inside a clip of ``frames`` that start a render window: those listed, and
        every ``window``-th (the first window starts at 0, which is no seam)."""
        every = range(self.window, frames, self.window) if self.window else ()
        return tuple(sorted({s for s in (*self.seams, *every) if 0 < s < frames}))


def _show(value: object) -> str:
    """A short, safe rendering of a rejected value for a message."""
    try:
        return repr(value)[:40]
    except ValueError:  # an integer too long to print
        return f"<{type(value).__name__}>"


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise SidecarError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _reject_constant(name: str) -> float:
    raise SidecarError(f"{name} is not a number JSON allows")


def _text(origin: str, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise SidecarError(f"{origin}: {key!r} must be a string, got {type(value).__name__}.")
    if len(value) > MAX_PROMPT_CHARS:
        raise SidecarError(f"{origin}: {key!r} is {len(value)} characters; the limit is {MAX_PROMPT_CHARS}.")
    if any(ord(c) < 32 and c not in "\n\t" for c in value) or "\x7f" in value:
        raise SidecarError(f"{origin}: {key!r} contains control characters; use plain text.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SidecarError(f"{origin}: {key!r} contains an unpaired surrogate; use valid Unicode text.") from None
    return value.strip()


def _name(origin: str, key: str, value: object, pattern: re.Pattern) -> str:
    if not isinstance(value, str):
        raise SidecarError(f"{origin}: {key!r} must be a string, got {type(value).__name__}.")
    if "/" in value or "\\" in value or value in (".", "..") or value.startswith("."):
        raise SidecarError(
            f"{origin}: {key!r} must be a plain name, not a path ({value[:80]!r}); sidecars may not point outside the model folder."
        )
    if not pattern.fullmatch(value):
        raise SidecarError(f"{origin}: {key!r} must match {pattern.pattern}, got {value[:80]!r}.")
    return value


def from_mapping(data: object, origin: str) -> Sidecar:
    """Validate an already-decoded JSON value."""
    if not isinstance(data, Mapping):
        raise SidecarError(f"{origin}: a sidecar must be a JSON object, got {type(data).__name__}.")
    unknown = sorted(str(k)[:40] for k in data if k not in _KEYS)
    if unknown:
        raise SidecarError(f"{origin}: unknown keys {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(_KEYS))}.")
    version = data.get("version", 1)
    if type(version) is not int or version != 1:
        raise SidecarError(f"{origin}: 'version' must be 1, got {_show(version)}.")
    seed = data.get("seed")
    if seed is not None and (type(seed) is not int or not 0 <= seed <= MAX_SEED):
        raise SidecarError(f"{origin}: 'seed' must be an integer from 0 to {MAX_SEED}, got {_show(seed)}.")
    strength = data.get("strength")
    if strength is not None:
        if type(strength) not in (int, float) or not math.isfinite(strength) or not 0.0 < strength <= 1.0:
            raise SidecarError(f"{origin}: 'strength' must be a number in (0, 1], got {_show(strength)}.")
        strength = float(strength)
    model = data.get("model")
    family = data.get("family")
    return Sidecar(
        origin=origin,
        prompt=_text(origin, "prompt", data.get("prompt", "")),
        negative_prompt=_text(origin, "negative_prompt", data.get("negative_prompt", "")),
        seed=seed,
        model=None if model is None else _name(origin, "model", model, _MODEL_NAME),
        family=None if family is None else _name(origin, "family", family, _FAMILY_NAME),
        strength=strength,
        guide=None if data.get("guide") is None else _relative(origin, "guide", data["guide"]),
        window=None if data.get("window") is None else _count(origin, "window", data["window"], MIN_WINDOW),
        seams=_seams(origin, data.get("seams", [])),
    )


def _count(origin: str, key: str, value: object, least: int) -> int:
    if type(value) is not int or not least <= value <= MAX_FRAME_INDEX:
        raise SidecarError(f"{origin}: {key!r} must be a whole number of frames from {least} to {MAX_FRAME_INDEX}, "
                           f"got {_show(value)}.")
    return value


def _seams(origin: str, value: object) -> tuple[int, ...]:
    """Frame indices that start a render window: a list of whole numbers, at most ``MAX_SEAMS``."""
    if not isinstance(value, list):
        raise SidecarError(f"{origin}: 'seams' must be a list of frame numbers, got {type(value).__name__}.")
    if len(value) > MAX_SEAMS:
        raise SidecarError(f"{origin}: 'seams' lists {len(value)} frames; the limit is {MAX_SEAMS}.")
    return tuple(sorted({_count(origin, "seams", v, 1) for v in value}))


def _relative(origin: str, key: str, value: object) -> str:
    """A relative path that stays below the sidecar's folder (no absolute path, no '..')."""
    if not isinstance(value, str) or not value.strip():
        raise SidecarError(f"{origin}: {key!r} must be a non-empty string, got {_show(value)}.")
    if len(value) > MAX_GUIDE_CHARS or any(ord(c) < 32 for c in value):
        raise SidecarError(f"{origin}: {key!r} must be a plain relative path, got {value[:80]!r}.")
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "\\")) or ".." in parts or os.path.isabs(value):
        raise SidecarError(f"{origin}: {key!r} must be a path inside the watched folder, relative to the render's "
                           f"folder, without '..' ({value[:80]!r}).")
    return value


def parse_sidecar(text: str | bytes, origin: str) -> Sidecar:
    """Parse sidecar JSON; raise ``SidecarError`` (and nothing else) when it is not acceptable."""
    if isinstance(text, bytes):
        if len(text) > MAX_SIDECAR_BYTES:
            raise SidecarError(f"{origin}: the sidecar is {len(text)} bytes; the limit is {MAX_SIDECAR_BYTES}.")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise SidecarError(f"{origin}: the sidecar is not UTF-8 text.") from None
    if len(text) > MAX_SIDECAR_BYTES:
        raise SidecarError(f"{origin}: the sidecar is {len(text)} characters; the limit is {MAX_SIDECAR_BYTES}.")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except SidecarError as exc:
        raise SidecarError(f"{origin}: {exc}.") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, over-long integers, deep nesting
        raise SidecarError(f"{origin}: not valid JSON ({str(exc)[:120]}).") from None
    return from_mapping(data, origin)


def sidecar_path(video: str | os.PathLike) -> Path:
    """Where the sidecar of ``video`` lives: the same name with ``.json``."""
    return Path(video).with_suffix(".json")


def read_sidecar(video: str | os.PathLike, metadata: Mapping[str, str] | None = None) -> Sidecar | None:
    """The sidecar for ``video``, from ``NAME.json`` or container metadata; None when there is none."""
    if os.path.isdir(video):
        return _sequence_sidecar(Path(video))
    path = sidecar_path(video)
    if os.path.lexists(path):
        return parse_sidecar(_read(path), str(path))
    return _from_metadata(video, metadata or {})


def _read(path: Path) -> bytes:
    """A sidecar's bytes through the guard: a regular file inside the render's folder, at most 64 KiB."""
    try:
        return read_input(path, InputKind.SIDECAR, root=path.parent)
    except UnsafeInput as exc:
        if exc.why is Refusal.LINK_OUTSIDE:
            raise SidecarError(f"{path}: the sidecar links outside the render's folder ({os.path.realpath(path)}); "
                               "refusing to read it.") from None
        raise SidecarError(str(exc)) from None
    except OSError as exc:
        raise SidecarError(f"{path}: the sidecar cannot be read ({exc.strerror or exc}).") from exc


def _from_metadata(video: str | os.PathLike, metadata: Mapping[str, str]) -> Sidecar | None:
    """A sidecar from container tags: our own JSON, or what a generator (ComfyUI) wrote there.

    Tags travel with any file, so unlike ``NAME.json`` they are never fatal: anything that is
    neither our sidecar nor a readable generator workflow is ignored with a warning.
    """
    from flickerd.media.generator_metadata import from_tags

    for key in METADATA_KEYS:
        value = metadata.get(key, "")
        if not value.lstrip().startswith("{"):
            continue
        origin = f"{video} (container metadata {key!r})"
        try:
            return parse_sidecar(value, origin)
        except SidecarError as exc:
            generated = from_tags({key: value})
            if generated is not None:
                # a generator's checkpoint file name is not one of our model folders: keep it out
                return Sidecar(origin=f"{origin}, {generated.source}", prompt=generated.prompt,
                               negative_prompt=generated.negative_prompt, seed=generated.seed)
            _log.warning("metadata_ignored", where=origin, why=str(exc))
    return None


SEQUENCE_ONLY_KEYS = ("fps",)  # the sequence's own sidecar keys, not the generator's


def _sequence_sidecar(folder: Path) -> Sidecar | None:
    """A sequence's record: its sidecar JSON, else its first frame's PNG text chunks (never raises)."""
    from flickerd.media.generator_metadata import from_png, from_tags
    from flickerd.media.sequence import find_sequence, sidecar_paths

    for path in map(Path, sidecar_paths(folder)):
        if not os.path.lexists(path):
            continue
        origin = str(path)
        try:
            text = _read(path).decode("utf-8")
            data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
            if not isinstance(data, Mapping):
                raise SidecarError(f"{path}: a sidecar must be a JSON object.")
            own = {k: v for k, v in data.items() if k not in SEQUENCE_ONLY_KEYS}
            if not own:
                continue  # only the frame rate: nothing about the generator here
            if set(own) <= _KEYS:
                return from_mapping(own, origin)
            generated = from_tags({"comment": text})  # a generator's {"prompt": graph, "workflow": …}
            if generated is not None:
                return Sidecar(origin=f"{origin}, {generated.source}", prompt=generated.prompt,
                               negative_prompt=generated.negative_prompt, seed=generated.seed)
            raise SidecarError(f"{path}: neither a flickerd sidecar nor a generator's metadata.")
        except (SidecarError, OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            _log.warning("metadata_ignored", where=origin, why=str(exc)[:200])
    try:
        first = find_sequence(folder).paths[0]
    except InputError:
        return None
    if not first.lower().endswith(".png"):
        return None
    generated = from_png(first)
    if generated is None:
        return None
    try:  # the chunks are untrusted text too: the same checks as a sidecar's
        origin = f"{first} (PNG text chunks, {generated.source})"
        return Sidecar(origin=origin, prompt=_text(origin, "prompt", generated.prompt),
                       negative_prompt=_text(origin, "negative_prompt", generated.negative_prompt),
                       seed=generated.seed if generated.seed is None or generated.seed <= MAX_SEED else None)
    except SidecarError as exc:
        _log.warning("metadata_ignored", where=first, why=str(exc)[:200])
        return None


def generator_record(src: str | os.PathLike, metadata: Mapping[str, str] | None = None) -> Sidecar | None:
    """``read_sidecar`` for reports: a sidecar that cannot be used is a warning here, not an error."""
    try:
        return read_sidecar(src, metadata)
    except SidecarError as exc:
        _log.warning("metadata_ignored", where=str(src), why=str(exc)[:200])
        return None


def resolve_model(name: str, model_root: str | os.PathLike) -> Path:
    """``model_root/name``, refusing anything (a symlink included) that resolves outside ``model_root``."""
    _name(f"model {name!r}", "model", name, _MODEL_NAME)
    root = Path(model_root).resolve()
    target = (root / name).resolve()
    if target.parent != root:
        raise SidecarError(f"model {name!r} resolves to {target}, outside the model folder {root}.")
    return target

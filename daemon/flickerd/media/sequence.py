"""Image sequences (a folder of numbered PNG, JPEG, TIFF or EXR frames) as one render.

A sequence is the largest group of files in the folder sharing a prefix and extension
with a frame number before the extension (``shot_0001.png``, or ComfyUI's ``ComfyUI_00001_.png``
with one ``_``/``-`` after the number). Gaps in the numbering are reported, not filled. Frames
are read one at a time.

Every file of a sequence is read through ``guarded``: a frame that is a link leading out of its
folder, or a pipe, socket or device, is not a frame (it is listed in ``ignored``, never opened);
a sidecar that is one is ignored like a malformed one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from flickerd.errors import CorruptInput, MissingInput, NotAVideo, UnsafeInput
from flickerd.media.guarded import InputKind, open_input, read_input, refusal

SEQUENCE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr")
DEFAULT_SEQUENCE_FPS = Fraction(24)
# A sidecar ``DIR.json`` beside the folder, or this file inside it, may give {"fps": 24}.
INNER_SIDECAR = "_sequence.json"
_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<num>\d+)(?P<suffix>[_-]?)(?P<ext>\.[A-Za-z]+)$")
# Frame rates a caller (the daemon: a folder's ``sequence_fps``) set for folders without a sidecar.
_fps_defaults: dict[str, Fraction] = {}
_fps_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class ImageSequence:
    folder: str
    prefix: str
    ext: str
    digits: int  # zero padding of the numbers, e.g. 4 for 0001
    numbers: tuple[int, ...]  # sorted
    gaps: tuple[int, ...]  # missing numbers between first and last
    suffix: str = ""  # between the number and the extension ("_" in ComfyUI's names)
    ignored: tuple[str, ...] = ()  # frame names refused unread: links leading out, pipes, devices

    @property
    def paths(self) -> list[str]:
        return [self.path_for(n) for n in self.numbers]

    def name_for(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.digits}d}{self.suffix}{self.ext}"

    def path_for(self, number: int) -> str:
        return os.path.join(self.folder, self.name_for(number))


def is_frame_name(name: str) -> bool:
    """Whether ``name`` looks like a numbered image frame (hidden names never do)."""
    if name.startswith("."):
        return False
    m = _NUMBERED.match(name)
    return bool(m) and m["ext"].lower() in SEQUENCE_EXTS


def find_sequence(folder: str | os.PathLike) -> ImageSequence:
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise MissingInput(f"{folder}: not a folder of image frames.")
    groups: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    ignored: list[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            m = _NUMBERED.match(entry.name)
            if entry.name.startswith(".") or not m or m["ext"].lower() not in SEQUENCE_EXTS:
                continue
            if not _plain_file(entry) and refusal(entry.path, root=folder) is not None:
                ignored.append(entry.name)
                continue
            groups[(m["prefix"], m["suffix"], m["ext"])].append((int(m["num"]), len(m["num"])))
    if not groups:
        raise NotAVideo(f"{folder}: holds no numbered image frames ({', '.join(SEQUENCE_EXTS)}).")
    (prefix, suffix, ext), items = max(groups.items(), key=lambda kv: (len(kv[1]), kv[0]))
    numbers = sorted(n for n, _ in items)
    digits = min(d for _, d in items)
    present = set(numbers)
    gaps = tuple(n for n in range(numbers[0], numbers[-1] + 1) if n not in present)
    return ImageSequence(folder, prefix, ext, digits, tuple(numbers), gaps, suffix, tuple(sorted(ignored)))


def _plain_file(entry: os.DirEntry) -> bool:
    """A regular file that is not a link: nothing to check (the directory entry says so, no syscall)."""
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def describe_gaps(gaps: tuple[int, ...], limit: int = 20) -> str:
    """``5, 6, 9`` (the first ``limit`` missing frame numbers, then how many more)."""
    shown = ", ".join(str(n) for n in gaps[:limit])
    return shown + (f" and {len(gaps) - limit} more" if len(gaps) > limit else "")


def frame_size(path: str) -> tuple[int, int]:
    """(width, height) from the frame's header alone (nothing is decoded)."""
    if path.lower().endswith(".exr"):
        try:
            import OpenEXR

            with _open_frame(path) as fh, OpenEXR.File(fh, header_only=True) as f:
                (x0, y0), (x1, y1) = f.header()["dataWindow"]
            return int(x1 - x0 + 1), int(y1 - y0 + 1)
        except (ImportError, OSError, RuntimeError, KeyError, TypeError, ValueError) as exc:
            raise CorruptInput(f"{path}: the EXR frame header cannot be read ({exc}).") from exc
    from PIL import Image, UnidentifiedImageError

    try:
        with _open_frame(path) as fh, Image.open(fh) as im:
            return im.size
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise CorruptInput(f"{path}: the frame header cannot be read ({exc}).") from exc


def _open_frame(path: str):
    """A frame opened through the guard: a regular file inside its own folder; ``UnsafeInput`` if not."""
    return open_input(path, InputKind.FRAME, root=os.path.dirname(path) or ".")


def check_frame_sizes(seq: ImageSequence) -> tuple[int, int]:
    """Every frame must have the first frame's size (a sequence is one shot); returns it.

    Only headers are read, so this is cheap enough for the settle gate of long sequences.
    """
    paths = seq.paths
    first = frame_size(paths[0])
    for path in paths[1:]:
        size = frame_size(path)
        if size != first:
            raise CorruptInput(
                f"{seq.folder}: frames differ in size ({os.path.basename(path)} is {size[0]}×{size[1]}, "
                f"{os.path.basename(paths[0])} is {first[0]}×{first[1]}); a sequence must be one shot "
                "of one size. Re-render or remove the odd frames, then drop the folder again."
            )
    return first


@contextlib.contextmanager
def default_fps(folder: str | os.PathLike, fps: float | Fraction) -> Iterator[None]:
    """While open, ``sequence_fps(folder)`` falls back to ``fps`` instead of 24 (a folder's config).

    Probing and reading happen deep inside diagnosis and routes, which only get a path; the
    daemon's worker sets its folder's default around one job.
    """
    key = os.path.realpath(os.fspath(folder))
    with _fps_lock:
        _fps_defaults[key] = Fraction(fps).limit_denominator(1001)
    try:
        yield
    finally:
        with _fps_lock:
            _fps_defaults.pop(key, None)


def sequence_fps(folder: str, default: Fraction | None = None) -> Fraction:
    """Frame rate from ``FOLDER.json`` or ``FOLDER/_sequence.json`` (key ``fps``), else ``default``
    (else the rate ``default_fps`` set for this folder, else 24)."""
    if default is None:
        with _fps_lock:
            default = _fps_defaults.get(os.path.realpath(folder), DEFAULT_SEQUENCE_FPS)
    for candidate in sidecar_paths(folder):
        try:
            data = json.loads(read_input(candidate, InputKind.SIDECAR, root=os.path.dirname(candidate)))
        except (OSError, ValueError, RecursionError, UnsafeInput):
            continue
        fps = data.get("fps") if isinstance(data, dict) else None
        if isinstance(fps, (int, float)) and not isinstance(fps, bool) and 0 < fps <= 1000:
            return Fraction(fps).limit_denominator(1001)
    return default


def sidecar_paths(folder: str | os.PathLike) -> tuple[str, str]:
    """Where a sequence's sidecar may be: ``FOLDER.json`` beside it, ``FOLDER/_sequence.json`` inside."""
    folder = os.fspath(folder)
    return folder.rstrip(os.sep) + ".json", os.path.join(folder, INNER_SIDECAR)


def read_image(path: str) -> np.ndarray:
    """One frame as RGB: uint8, uint16 (16-bit PNG/TIFF) or float32 (EXR, linear)."""
    if path.lower().endswith(".exr"):
        return _read_exr(path)
    try:
        with _open_frame(path) as fh:
            data = np.frombuffer(fh.read(), np.uint8)
    except FileNotFoundError as exc:
        raise MissingInput(f"{path}: the frame is gone.") from exc
    except OSError as exc:
        raise CorruptInput(f"{path}: the image frame cannot be read ({exc.strerror or exc}).") from exc
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise CorruptInput(f"{path}: the image frame cannot be decoded.")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image


def _read_exr(path: str) -> np.ndarray:
    try:
        import OpenEXR
    except ImportError as exc:
        raise NotAVideo(f"{path}: reading EXR needs the OpenEXR package (pip install OpenEXR).") from exc
    try:
        with _open_frame(path) as fh, OpenEXR.File(fh) as f:
            channels = f.channels()
            if "RGB" in channels:
                rgb = channels["RGB"].pixels
            elif "RGBA" in channels:
                rgb = channels["RGBA"].pixels[..., :3]
            else:
                names = [n for n in ("R", "G", "B") if n in channels]
                if not names:
                    raise CorruptInput(f"{path}: the EXR frame has no R, G, B channels.")
                rgb = np.dstack([channels[n].pixels for n in names] * (3 // len(names)))
    except (OSError, RuntimeError) as exc:
        raise CorruptInput(f"{path}: the EXR frame cannot be decoded ({exc}).") from exc
    return np.ascontiguousarray(rgb, dtype=np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4))


def to_display(image: np.ndarray, *, deep: bool) -> np.ndarray:
    """Convert a frame of any sample type to uint8 (or uint16 when ``deep``) display RGB."""
    if image.dtype == np.float32:
        v = linear_to_srgb(image)
        return (v * 65535 + 0.5).astype(np.uint16) if deep else (v * 255 + 0.5).astype(np.uint8)
    if image.dtype == np.uint16:
        return image if deep else (image >> 8).astype(np.uint8)
    return image.astype(np.uint16) * 257 if deep else image


def iter_sequence(seq: ImageSequence, size: tuple[int, int], *, gray: bool, deep: bool) -> Iterator[np.ndarray]:
    for path in seq.paths:
        image = to_display(read_image(path), deep=deep)
        if image.shape[1] != size[0] or image.shape[0] != size[1]:
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        yield cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if gray else image


class SequenceWriter:
    """Write frames as a numbered sequence in ``folder`` (same format as the source sequence).

    Frames arrive as display RGB (uint8 or uint16); EXR output converts back to linear float.
    """

    def __init__(self, folder: str | os.PathLike, template: ImageSequence, *, sixteen_bit: bool) -> None:
        self.folder = os.fspath(folder)
        os.makedirs(self.folder, exist_ok=True)
        self.template = template
        self.sixteen_bit = sixteen_bit
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        number = self.template.numbers[self.frames] if self.frames < len(self.template.numbers) else \
            self.template.numbers[-1] + self.frames - len(self.template.numbers) + 1
        path = os.path.join(self.folder, self.template.name_for(number))
        ext = self.template.ext.lower()
        if ext == ".exr":
            import OpenEXR

            scale = 65535.0 if rgb.dtype == np.uint16 else 255.0
            lin = srgb_to_linear(rgb.astype(np.float32) / scale).astype(np.float32)
            header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
            with OpenEXR.File(header, {"RGB": lin}) as f:
                f.write(path)
        else:
            out = rgb
            if ext in (".jpg", ".jpeg") and out.dtype == np.uint16:
                out = (out >> 8).astype(np.uint8)
            elif self.sixteen_bit and out.dtype == np.uint8:
                out = out.astype(np.uint16) * 257
            elif not self.sixteen_bit and out.dtype == np.uint16:
                out = (out >> 8).astype(np.uint8)
            if not cv2.imwrite(path, cv2.cvtColor(out, cv2.COLOR_RGB2BGR)):
                raise OSError(f"{path}: the frame could not be written.")
        self.frames += 1

    def close(self) -> None:
        pass

    def __enter__(self) -> "SequenceWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

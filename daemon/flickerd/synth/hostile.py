"""A hostile-input corpus: files a hot folder must survive, each with its documented outcome.

``build(folder)`` writes every case into ``folder`` and returns ``Hostile`` records that say
what flickerd must do with it: quarantine it with a fixed ``reason`` (never attempting it),
or accept and process it like any render. All files are tiny (a few KiB to ~1.5 MiB) and
made in well under a second each; the bombs are crafted byte by byte so their headers
*declare* far more than they hold, which is exactly what the limits must catch before any
decoding starts.

Outcomes with the default limits (``flickerd.limits``):

============================ ======================================================= ========================
case                         what it is                                              outcome
============================ ======================================================= ========================
zero_byte                    an empty ``.mp4``                                       quarantined: empty_input
truncated_{05,50}            a valid mp4 cut at 5 %, 50 % (moov at the end)         quarantined: not_a_video
truncated_95                 the same cut inside its moov                            quarantined: corrupt_input
truncated_mkv_80             a valid mkv cut at 80 %: the frames before the cut      processed
header_only                  a faststart mp4 cut right after its ``moov``            quarantined: corrupt_input
wrong_extension              a valid Matroska clip named ``.mp4``                    processed
text_as_mp4                  a text file named ``.mp4``                              quarantined: not_a_video
huge_dims_gif                a GIF whose logical screen is 30,000 × 30,000           quarantined: limit_exceeded
huge_dims_mkv                Matroska rawvideo declaring 30,000 × 30,000             quarantined: limit_exceeded
million_frames               an mp4 whose ``stts`` declares 1,000,000 samples        quarantined: limit_exceeded
gif_bomb                     8,000 × 4,000 canvas, 40,000 one-pixel frames           quarantined: limit_exceeded
corrupt_packets              an mkv with garbage written over mid-stream packets     processed
odd_dimensions               63 × 47 H.264 4:4:4                                     processed
ten_bit                      H.264 4:2:0 10-bit                                      processed
yuv444                       H.264 4:4:4 8-bit                                       processed
variable_frame_rate          an mkv with irregular frame times                       processed
rotated_phone                an mp4 with a 90° display matrix                        processed
no_video_stream              an audio-only ``.mp4``                                  quarantined: not_a_video
============================ ======================================================= ========================

"processed" means the file passes the probe gate and the limits and runs the folder's
rules (its own journal outcome: done, report_only, ...), never quarantined and never a crash.
"""

from __future__ import annotations

import os
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from flickerd.media.writer import reproducible

WIDTH, HEIGHT, FRAMES, FPS = 64, 48, 12, 8
DECLARED_SIDE = 30_000  # the "huge frame" cases declare this width and height
DECLARED_FRAMES = 1_000_000
BOMB_CANVAS = (8_000, 4_000)  # under the default max_pixels, so only the expansion ratio catches it
BOMB_FRAMES = 40_000

PROCESSED = "processed"


@dataclass(frozen=True, slots=True)
class Hostile:
    """One corpus file and what must happen to it."""

    name: str
    path: Path
    outcome: str  # "quarantined" or PROCESSED
    reason: str | None  # the quarantine reason (``flickerd.errors`` reason labels), None when processed
    about: str  # one line for reports and test ids


# ---- plain clips ---------------------------------------------------------------------------


def _texture(seed: int, width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(40, 215, (height, width, 3), dtype=np.uint8)


def write_clip(path: Path, *, codec: str = "libx264", pix_fmt: str = "yuv420p", width: int = WIDTH,
               height: int = HEIGHT, frames: int = FRAMES, fps: int = FPS, seed: int = 0,
               times: list[float] | None = None, options: dict[str, str] | None = None,
               container_options: dict[str, str] | None = None) -> Path:
    """A small clip of a slowly moving texture; ``times`` (seconds) gives each frame its own pts."""
    base = _texture(seed, width + frames, height)
    with av.open(str(path), "w", options=container_options or {}) as c:
        s = c.add_stream(codec, rate=fps, options=reproducible(codec, options or {}))
        s.width, s.height, s.pix_fmt = width, height, pix_fmt
        if times is not None:
            s.time_base = Fraction(1, 1000)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, i:i + width]), format="rgb24")
            if times is not None:
                frame.pts, frame.time_base = int(round(times[i] * 1000)), Fraction(1, 1000)
            for p in s.encode(frame.reformat(format=pix_fmt)):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def _ffmpeg(*args: str) -> None:
    from flickerd.media.ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True,
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


# ---- byte surgery --------------------------------------------------------------------------


def _find_box(data: bytes, kind: bytes, start: int = 0) -> int:
    """Offset of the first MP4 box of type ``kind`` (its size field), searching the raw bytes."""
    at = data.find(kind, start)
    if at < 4:
        raise ValueError(f"no {kind!r} box in the file")
    return at - 4


def _patch_stts(data: bytearray, samples: int) -> None:
    """Make the first ``stts`` entry declare ``samples`` samples (nb_frames comes from stts)."""
    at = _find_box(bytes(data), b"stts")
    # size(4) type(4) version/flags(4) entry_count(4) then (sample_count, sample_delta) pairs
    struct.pack_into(">I", data, at + 16, samples)


def _gif(width: int, height: int, frames: int, *, delay_cs: int = 4) -> bytes:
    """A GIF89a with a ``width``×``height`` logical screen and ``frames`` one-pixel images."""
    out = bytearray(b"GIF89a")
    out += struct.pack("<HHBBB", width, height, 0x80, 0, 0)  # global colour table of 2 entries
    out += b"\x00\x00\x00\xff\xff\xff"
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    # one 1×1 image: graphic control (delay), descriptor, LZW min size 2, data [clear, 0, end]
    image = (b"\x21\xf9\x04\x00" + struct.pack("<H", delay_cs) + b"\x00\x00"
             + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
             + b"\x02\x02\x44\x01\x00")
    out += image * frames
    out += b"\x3b"
    return bytes(out)


def _ebml_uint(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


def _patch_mkv_size(data: bytearray, width: int, height: int) -> None:
    """Rewrite Matroska PixelWidth (0xB0) / PixelHeight (0xBA) elements that hold 2-byte values."""
    for element_id, value in ((0xB0, width), (0xBA, height)):
        marker = bytes([element_id, 0x82])  # ID, then a 1-byte size of 2
        at = data.find(marker)
        if at < 0:
            raise ValueError(f"no 2-byte element 0x{element_id:X} in the Matroska header")
        data[at + 2:at + 4] = _ebml_uint(value, 2)


# ---- the cases -----------------------------------------------------------------------------


def _zero_byte(p: Path) -> None:
    p.write_bytes(b"")


def _truncated(fraction: float) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        full = write_clip(p.with_name(".full-" + p.name), seed=1)
        data = full.read_bytes()
        full.unlink()
        p.write_bytes(data[: max(1, int(len(data) * fraction))])
    return make


def _truncated_mkv(p: Path) -> None:
    full = write_clip(p.with_name(".full-" + p.name), seed=2, frames=FRAMES)
    data = full.read_bytes()
    full.unlink()
    p.write_bytes(data[: int(len(data) * 0.8)])  # past the key frame: the first frames decode


def _header_only(p: Path) -> None:
    full = write_clip(p.with_name(".full-" + p.name), seed=3, container_options={"movflags": "+faststart"})
    data = full.read_bytes()
    full.unlink()
    moov = _find_box(data, b"moov")
    size = struct.unpack_from(">I", data, moov)[0]
    p.write_bytes(data[: moov + size])  # ftyp + moov, no mdat: every sample points past the end


def _wrong_extension(p: Path) -> None:
    tmp = write_clip(p.with_name(".tmp-" + p.stem + ".mkv"), seed=4)
    tmp.rename(p)


def _text(p: Path) -> None:
    p.write_text("This is not a video.\nIt only has a video's name.\n")


def _huge_dims_gif(p: Path) -> None:
    p.write_bytes(_gif(DECLARED_SIDE, DECLARED_SIDE, 2))


def _huge_dims_mkv(p: Path) -> None:
    # rawvideo takes its frame size from the container, so the header alone declares it
    src = write_clip(p.with_name(".src-" + p.name), seed=5, frames=4, width=256, height=256)
    raw = p.with_name(".raw-" + p.name)
    _ffmpeg("-i", str(src), "-c:v", "rawvideo", "-pix_fmt", "gray", "-f", "matroska", str(raw))
    src.unlink()
    data = bytearray(raw.read_bytes())
    raw.unlink()
    _patch_mkv_size(data, DECLARED_SIDE, DECLARED_SIDE)
    p.write_bytes(bytes(data))


def _million_frames(p: Path) -> None:
    write_clip(p, seed=6)
    data = bytearray(p.read_bytes())
    _patch_stts(data, DECLARED_FRAMES)
    p.write_bytes(bytes(data))


def _gif_bomb(p: Path) -> None:
    p.write_bytes(_gif(*BOMB_CANVAS, BOMB_FRAMES, delay_cs=1))


def _corrupt_packets(p: Path) -> None:
    write_clip(p, seed=7, frames=FRAMES, container_options={})
    data = bytearray(p.read_bytes())
    rng = np.random.default_rng(7)
    # overwrite the middle third with noise: the header and the index at the end stay intact
    lo, hi = len(data) // 3, 2 * len(data) // 3
    data[lo:hi] = rng.integers(0, 256, hi - lo, dtype=np.uint8).tobytes()
    p.write_bytes(bytes(data))


def _odd(p: Path) -> None:
    write_clip(p, seed=8, width=63, height=47, pix_fmt="yuv444p")


def _ten_bit(p: Path) -> None:
    write_clip(p, seed=9, pix_fmt="yuv420p10le")


def _yuv444(p: Path) -> None:
    write_clip(p, seed=10, pix_fmt="yuv444p")


def _vfr(p: Path) -> None:
    gaps = [0.04, 0.2, 0.05, 0.5, 0.04, 0.125, 0.3, 0.04, 0.08, 0.25, 0.06]
    times = [0.0]
    for g in gaps[: FRAMES - 1]:
        times.append(times[-1] + g)
    write_clip(p, seed=11, times=times)


def _rotated(p: Path) -> None:
    src = write_clip(p.with_name(".src-" + p.name), seed=12)
    _ffmpeg("-display_rotation:v:0", "90", "-i", str(src), "-c", "copy", str(p))
    src.unlink()


def _no_video(p: Path) -> None:
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", "-b:a", "32k", str(p))


# name, file name, builder, outcome, reason, about
CASES: tuple[tuple[str, str, Callable[[Path], None], str, str | None, str], ...] = (
    ("zero_byte", "zero_byte.mp4", _zero_byte, "quarantined", "empty_input", "an empty file"),
    ("truncated_05", "truncated_05.mp4", _truncated(0.05), "quarantined", "not_a_video", "mp4 cut at 5 %"),
    ("truncated_50", "truncated_50.mp4", _truncated(0.50), "quarantined", "not_a_video", "mp4 cut at 50 %"),
    ("truncated_95", "truncated_95.mp4", _truncated(0.95), "quarantined", "corrupt_input", "mp4 cut at 95 %"),
    ("truncated_mkv_80", "truncated_mkv_80.mkv", _truncated_mkv, PROCESSED, None, "mkv cut at 80 %"),
    ("header_only", "header_only.mp4", _header_only, "quarantined", "corrupt_input", "ftyp + moov, no media data"),
    ("wrong_extension", "wrong_extension.mp4", _wrong_extension, PROCESSED, None, "Matroska named .mp4"),
    ("text_as_mp4", "text_as_mp4.mp4", _text, "quarantined", "not_a_video", "a text file named .mp4"),
    ("huge_dims_gif", "huge_dims.gif", _huge_dims_gif, "quarantined", "limit_exceeded", "GIF declaring 30000×30000"),
    ("huge_dims_mkv", "huge_dims.mkv", _huge_dims_mkv, "quarantined", "limit_exceeded",
     "Matroska rawvideo declaring 30000×30000"),
    ("million_frames", "million_frames.mp4", _million_frames, "quarantined", "limit_exceeded",
     "mp4 declaring 1,000,000 frames"),
    ("gif_bomb", "gif_bomb.gif", _gif_bomb, "quarantined", "limit_exceeded", "8000×4000 × 40,000 frames in ~1 MiB"),
    ("corrupt_packets", "corrupt_packets.mkv", _corrupt_packets, PROCESSED, None, "noise over mid-stream packets"),
    ("odd_dimensions", "odd_dimensions.mp4", _odd, PROCESSED, None, "63×47 4:4:4"),
    ("ten_bit", "ten_bit.mp4", _ten_bit, PROCESSED, None, "H.264 10-bit 4:2:0"),
    ("yuv444", "yuv444.mp4", _yuv444, PROCESSED, None, "H.264 8-bit 4:4:4"),
    ("variable_frame_rate", "variable_frame_rate.mkv", _vfr, PROCESSED, None, "irregular frame times"),
    ("rotated_phone", "rotated_phone.mp4", _rotated, PROCESSED, None, "90° display matrix"),
    ("no_video_stream", "no_video_stream.mp4", _no_video, "quarantined", "not_a_video", "audio only"),
)

NAMES: tuple[str, ...] = tuple(c[0] for c in CASES)


def build(folder: str | os.PathLike, names: tuple[str, ...] | None = None) -> list[Hostile]:
    """Write the corpus (or the ``names`` cases) into ``folder``; returns what each must become.

    Helper files are written under dot names and removed, so a watched folder only ever sees
    the finished cases (still, build elsewhere and move them in to avoid half-written events).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, filename, make, outcome, reason, about in CASES:
        if names is not None and name not in names:
            continue
        path = folder / filename
        make(path)
        out.append(Hostile(name, path, outcome, reason, about))
    return out

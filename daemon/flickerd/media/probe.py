"""Probe a video file: codec, geometry, timing, pixel format, colour metadata, audio.

``probe`` only demuxes (it never decodes more than ``decode_check`` frames), so it is cheap
enough to run as the settle gate on every candidate file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction

import av

from flickerd.errors import CorruptInput, EmptyInput, LimitExceeded, MissingInput, NotAVideo
from flickerd.media.guarded import refusal
from flickerd.media.webp import is_webp, probe_webp

# Packets counted when the container does not declare a frame count (webm, gif, some mkv).
MAX_COUNTED_PACKETS = 200_000


LIMITED_RANGE, FULL_RANGE = 1, 2  # AVCOL_RANGE_MPEG (Y 16-235), AVCOL_RANGE_JPEG (0-255)


@dataclass(frozen=True, slots=True)
class MediaInfo:
    path: str
    container: str  # demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "gif"
    codec: str
    width: int
    height: int
    fps: float
    fps_num: int
    fps_den: int
    frame_count: int
    frame_count_exact: bool  # False when estimated from duration × fps
    duration_s: float
    pix_fmt: str
    bit_depth: int
    color_range: int  # AVColorRange / AVColorPrimaries / AVColorTransferCharacteristic / AVColorSpace
    color_primaries: int
    color_trc: int
    colorspace: int
    has_audio: bool
    audio_codec: str | None
    bitrate: int | None  # bits per second of the whole file
    rotation: int  # degrees, from stream side data or a rotate tag; PyAV 18 shows neither: decoded frames carry it
    size_bytes: int
    metadata: dict[str, str]  # container tags (title, comment, ...)
    sequence_gaps: tuple[int, ...] = ()  # image sequences: frame numbers missing from the run

    @property
    def full_range(self) -> bool:
        """Whether YUV samples span 0–255 (JPEG range), not Y 16–235 / chroma 16–240."""
        return self.color_range == FULL_RANGE or self.pix_fmt.startswith("yuvj")

    @property
    def is_sequence(self) -> bool:
        return self.container == "image2"

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


def _open(path: str) -> av.container.InputContainer:
    if not os.path.exists(path):
        raise MissingInput(f"{path}: no such file.")
    if os.path.isdir(path):
        raise NotAVideo(f"{path}: is a directory, not a video file or an image sequence.")
    refused = refusal(path)  # a pipe would block FFmpeg's open forever, a device feed it forever
    if refused is not None:
        raise refused.error()
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise MissingInput(f"{path}: cannot be read ({exc.strerror}).") from exc
    if size == 0:
        raise EmptyInput(f"{path}: the file is empty (0 bytes); was it still being written?")
    try:
        return av.open(path, mode="r", metadata_errors="ignore")
    except PermissionError as exc:
        raise MissingInput(f"{path}: permission denied; check the file's owner and mode.") from exc
    except av.error.InvalidDataError as exc:
        raise NotAVideo(f"{path}: not a recognised media container ({exc}).") from exc
    except av.error.FFmpegError as exc:
        raise CorruptInput(f"{path}: the container cannot be opened ({exc}).") from exc


def _rotation(stream) -> int:
    try:
        for sd in getattr(stream, "side_data", None) or ():
            if "DISPLAYMATRIX" in str(getattr(sd, "type", "")).upper():
                return int(round(float(sd.to_ndarray()))) if hasattr(sd, "to_ndarray") else 0
    except Exception:  # side data is best effort: never fail a probe on it
        pass
    tag = stream.metadata.get("rotate")
    return int(tag) % 360 if tag and tag.lstrip("-").isdigit() else 0


def _bit_depth(pix_fmt: str | None) -> int:
    if not pix_fmt:
        return 8
    try:
        return max(c.bits for c in av.VideoFormat(pix_fmt).components)
    except (ValueError, TypeError):
        return 8


def probe(path: str | os.PathLike, *, decode_check: int = 0) -> MediaInfo:
    """Describe ``path``; with ``decode_check`` > 0 also prove that many frames decode.

    Raises an ``InputError`` subclass with a one-sentence message for anything unusable.
    """
    info, container = probe_open(path)
    if container is not None:
        container.close()
    if decode_check > 0:
        _check_decodes(info.path, decode_check)
    return info


def probe_open(path: str | os.PathLike) -> tuple[MediaInfo, av.container.InputContainer | None]:
    """``probe``, handing back the container still open and unread when it can (else None).

    Opening a container reads its header and the first packets again: a caller that decodes
    right after probing saves that by taking this one over (and closing it).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return _probe_sequence(path), None
    container = _open(path)
    if container.format.name == "webp_pipe" or is_webp(path):
        container.close()
        return _probe_webp(path), None
    hand_back = False
    try:
        if not container.streams.video:
            raise NotAVideo(f"{path}: contains no video stream.")
        stream = container.streams.video[0]
        cc = stream.codec_context
        if not cc.width or not cc.height:
            refused = _refused_size(path)
            if refused:
                raise LimitExceeded(
                    f"{path}: the video declares {refused[0]}×{refused[1]} pixels per frame, more than FFmpeg "
                    "will decode (limits.max_pixels); it was not attempted."
                )
            raise CorruptInput(f"{path}: the video stream declares no frame size.")
        rates = [Fraction(r) for r in (stream.average_rate, stream.guessed_rate, stream.base_rate) if r and r > 0]
        rate = rates[0] if rates else Fraction(25)
        fps = float(rate)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        frames = int(stream.frames or 0)
        exact = unread = frames > 0  # counting packets reads the container to its end: not handed back
        if not exact:
            frames, duration = _count_packets(container, stream, duration, fps)
            exact = frames > 0
        if exact and duration:
            rate = _agreeing_rate(rates, frames, duration) or rate
            fps = float(rate)
        if not duration and frames:
            duration = frames / fps
        audio = container.streams.audio[0] if container.streams.audio else None
        info = MediaInfo(
            path=path,
            container=container.format.name,
            codec=cc.name,
            width=int(cc.width),
            height=int(cc.height),
            fps=fps,
            fps_num=rate.numerator,
            fps_den=rate.denominator,
            frame_count=frames,
            frame_count_exact=exact,
            duration_s=float(duration),
            pix_fmt=cc.pix_fmt or "unknown",
            bit_depth=_bit_depth(cc.pix_fmt),
            color_range=int(cc.color_range or 0),
            color_primaries=int(cc.color_primaries or 2),
            color_trc=int(cc.color_trc or 2),
            colorspace=int(cc.colorspace or 2),
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            bitrate=int(container.bit_rate) if container.bit_rate else None,
            rotation=_rotation(stream),
            size_bytes=os.path.getsize(path),
            metadata={str(k): str(v) for k, v in container.metadata.items()},
        )
        hand_back = unread
    except av.error.FFmpegError as exc:
        raise CorruptInput(f"{path}: the container is damaged ({exc}).") from exc
    finally:
        if not hand_back:
            container.close()
    return info, container if hand_back else None


RATE_TOLERANCE = 0.01  # a rate whose frames last within 1% of the stream's duration agrees with it


def _agreeing_rate(rates: list[Fraction], frames: int, duration: float) -> Fraction | None:
    """Of the stream's rates (the average first), the first whose ``frames`` last ``duration``.

    The demuxer's average can be the first frames' alone: an 8 fps GIF, whose delays alternate
    12 and 13 cs, reads 25/3, and its output would play 4% fast; its guessed rate, 8, agrees.
    None when no rate agrees (variable timing: the average stays)."""
    for r in rates:
        if abs(frames / float(r) - duration) <= RATE_TOLERANCE * duration:
            return r
    return None


_REFUSED_SIZE = re.compile(r"Picture size (\d+)x(\d+) is invalid")


def _refused_size(path: str) -> tuple[int, int] | None:
    """The frame size a header declared but FFmpeg refused as too large (it then reports 0×0).

    FFmpeg only says so in its log, so the file is opened once more with the log captured.
    """
    import av.logging

    level = av.logging.get_level()
    try:
        av.logging.set_level(av.logging.ERROR)
        with av.logging.Capture() as logs:
            try:
                av.open(path, mode="r", metadata_errors="ignore").close()
            except av.error.FFmpegError:
                pass
    finally:
        av.logging.set_level(level)
    for _level, _name, message in logs:
        m = _REFUSED_SIZE.search(message)
        if m:
            return int(m.group(1)), int(m.group(2))
    return None


def _count_packets(container, stream, duration: float, fps: float) -> tuple[int, float]:
    """Frame count by demuxing (no decode) when the header does not say."""
    count = 0
    last_end = 0.0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            count += 1
            if packet.pts is not None and packet.time_base is not None:
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                last_end = max(last_end, end)
            if count >= MAX_COUNTED_PACKETS:
                break
    except av.error.FFmpegError:
        pass  # a damaged tail: keep what was counted; decoding will say more
    if count == 0 and duration:
        return int(round(duration * fps)), duration
    return count, duration or last_end


def _check_decodes(path: str, n: int) -> None:
    """Prove the first ``n`` frames decode (the settle gate's last step)."""
    container = _open(path)
    got = 0
    try:
        for frame in container.decode(video=0):
            got += 1
            if got >= n:
                break
    except av.error.FFmpegError as exc:
        raise CorruptInput(f"{path}: frames fail to decode ({exc}).") from exc
    finally:
        container.close()
    if got == 0:
        raise CorruptInput(f"{path}: the video stream holds no decodable frame.")


def _probe_webp(path: str) -> MediaInfo:
    w = probe_webp(path)
    rate = w["rate"]
    return MediaInfo(
        path=path, container="webp", codec="webp", width=w["width"], height=w["height"],
        fps=float(rate), fps_num=rate.numerator, fps_den=rate.denominator,
        frame_count=w["frames"], frame_count_exact=True, duration_s=w["duration"],
        pix_fmt=w["pix_fmt"], bit_depth=8, color_range=0, color_primaries=2, color_trc=2,
        colorspace=2, has_audio=False, audio_codec=None, bitrate=None, rotation=0,
        size_bytes=os.path.getsize(path), metadata={},
    )


def _probe_sequence(folder: str) -> MediaInfo:
    # imported here: numpy and OpenCV are not needed to probe a video (``flickerd diagnose``
    # starts decoding before they load)
    from flickerd.media.sequence import find_sequence, read_image, sequence_fps

    seq = find_sequence(folder)
    first = read_image(seq.paths[0])
    rate = sequence_fps(folder)
    depth = {1: 8, 2: 16, 4: 32}[first.dtype.itemsize]
    n = len(seq.numbers)
    return MediaInfo(
        path=folder, container="image2", codec=seq.ext.lstrip(".").lower(),
        width=int(first.shape[1]), height=int(first.shape[0]),
        fps=float(rate), fps_num=rate.numerator, fps_den=rate.denominator,
        frame_count=n, frame_count_exact=True, duration_s=n / float(rate),
        pix_fmt={8: "rgb24", 16: "rgb48le", 32: "gbrpf32le"}[depth], bit_depth=depth,
        color_range=2, color_primaries=1, color_trc=13 if depth < 32 else 8, colorspace=0,
        has_audio=False, audio_codec=None, bitrate=None, rotation=0,
        size_bytes=sum(os.path.getsize(p) for p in seq.paths), metadata={},
        sequence_gaps=seq.gaps,
    )

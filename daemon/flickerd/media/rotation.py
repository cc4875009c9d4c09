"""The display rotation of a video (a phone's 90° display matrix), read and carried to a fix.

flickerd decodes and encodes frames in their coded orientation, so a fixed video must carry
the source's display matrix, or it plays sideways. PyAV 18 exposes the matrix only on decoded
frames (``VideoFrame.rotation``), not on streams, so reading it costs one decoded frame.
"""

from __future__ import annotations

import os

import av

from flickerd.media.ffmpeg import media_arg, run_ffmpeg

MATRIX_CONTAINERS = (".mp4", ".mov", ".m4v")  # the containers that store a display matrix


def display_rotation(path: str | os.PathLike) -> int:
    """Degrees counter-clockwise the first video frame is to be turned for display (0 when none or unreadable)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return 0  # image sequences have no display matrix
    try:
        with av.open(path, metadata_errors="ignore") as container:
            if not container.streams.video:
                return 0
            for frame in container.decode(video=0):
                return int(round(frame.rotation)) % 360
    except (av.error.FFmpegError, OSError, ValueError):
        pass
    return 0


def carry_rotation(out: str | os.PathLike, rotation: int, exe: str | None = None) -> None:
    """Give ``out`` the display ``rotation`` (the source's) by a stream copy, without re-encoding.

    Nothing happens when the rotation is 0, ``out`` already has it, or ``out``'s container
    cannot store one.
    """
    out = os.fspath(out)
    if not rotation or not out.lower().endswith(MATRIX_CONTAINERS) or display_rotation(out) == rotation:
        return
    root, ext = os.path.splitext(out)
    tmp = f"{root}.rotated{ext}"
    try:
        # -display_rotation is clockwise-negative like the frame's value: the same number round-trips
        run_ffmpeg(["-display_rotation:v:0", str(rotation), "-i", media_arg(out), "-map", "0", "-c", "copy",
                    "-map_metadata", "0", media_arg(tmp)], exe=exe)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)

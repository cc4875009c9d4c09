"""Is a file's head a video container at all? A cheap look that tells junk from a render in progress.

A probe that fails on a stable file can mean two things: a render whose writer paused (an mp4
whose ``moov`` is not written yet: its head already says ``ftyp``), or a file that never was a
video (a text file named ``notes.mp4``). Only the second can be given up at once. ``looks_like``
answers from the first bytes: ``True`` when they are the signature of a container FFmpeg reads
video from, ``False`` when they are something else, ``None`` when they cannot tell (too few
bytes, or zeros a downloader wrote ahead of the data).
"""

from __future__ import annotations

import os

from flickerd.media.guarded import InputKind, open_input

HEAD_BYTES = 512

# ISO BMFF / QuickTime: the first box's type (mp4, mov, m4v, 3gp, fragmented mp4)
_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"junk", b"moof", b"styp",
          b"sidx", b"prfl")
_PREFIXES = (
    b"\x1a\x45\xdf\xa3",  # EBML: Matroska, WebM
    b"GIF87a", b"GIF89a",
    b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3", b"\x00\x00\x01\xb0",  # MPEG program stream, MPEG-1/2/4 video
    b"\x00\x00\x00\x01", b"\x00\x00\x01",  # H.264/H.265 Annex B elementary stream
    b"FLV", b"OggS", b"DKIF", b"YUV4MPEG2", b".RMF", b"nut/multimedia container",
    b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # ASF (wmv)
    b"\x06\x0e\x2b\x34",  # MXF
    b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff",  # (A)PNG, MJPEG / a JPEG FFmpeg reads as one frame
)
_RIFF = (b"AVI ", b"AVIX", b"WEBP")
_TS_PACKET = 188


def looks_like(head: bytes) -> bool | None:
    """Whether ``head`` (a file's first bytes) starts like a video container (see the module docstring)."""
    if len(head) < 12 or not head.strip(b"\0"):
        return None
    if head[4:8] in _BOXES or head.startswith(_PREFIXES):
        return True
    if head[:4] == b"RIFF":
        return head[8:12] in _RIFF
    if head[0] == 0x47 and (len(head) <= _TS_PACKET or head[_TS_PACKET] == 0x47):  # MPEG transport stream
        return True
    if len(head) > 4 and head[4] == 0x47:  # M2TS: a 4-byte timestamp before each packet
        return True
    return False


def read_head(path: str | os.PathLike, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes, through the guarded opener (a pipe or a link leading out is refused)."""
    with open_input(path, InputKind.VIDEO) as f:
        return f.read(size)

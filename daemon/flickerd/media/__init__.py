"""Media I/O on PyAV and the ffmpeg binary: probe, streaming decode, streaming encode.

This package and ``service/`` are the only places that touch media files. Importing it
loads PyAV only; the frame reader (numpy, OpenCV) loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flickerd.lazy_exports import lazy_exports
from flickerd.media.probe import MediaInfo, probe

if TYPE_CHECKING:
    from flickerd.media.reader import Frame, iter_frames

__all__ = ["MediaInfo", "probe", "Frame", "iter_frames"]

__getattr__ = lazy_exports(__name__, {"Frame": "reader", "iter_frames": "reader"})

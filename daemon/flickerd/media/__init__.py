"""Media I/O on PyAV and the ffmpeg binary: probe, streaming decode, streaming encode.

This package and ``service/`` are the only places that touch media files.
"""

from flickerd.media.probe import MediaInfo, probe
from flickerd.media.reader import Frame, iter_frames

__all__ = ["MediaInfo", "probe", "Frame", "iter_frames"]

"""Decoded frame pairs kept on disk for a later pass over the same two videos.

Verification decodes the input and the output frame by frame; the side-by-side clip needs the
very same frames again once verification has found where to zoom. ``PairSpill`` writes each
pair's raw pixels to one file in the job's workdir as verification reads them, so the clip
reads them back instead of decoding both videos a second time (the same arrays: the clip is
unchanged). Bounded: past ``max_bytes`` it gives up, deletes what it wrote, and the clip
decodes as before; it does not start on a disk with less than ``max_bytes`` + 1 GiB free.
Frames pass through a file, not memory (the page cache is not the job's RSS).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

DEFAULT_MAX_BYTES = 512 * 1024 * 1024  # 832x480 RGB: ~220 pairs; 1080p: ~40
FREE_MARGIN_BYTES = 1024 * 1024 * 1024  # kept free beyond the spill's own limit, or it is not started


def _free_bytes(folder: str) -> int:
    try:
        st = os.statvfs(folder)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


class PairSpill:
    """Append (source, output) frames of fixed shapes and dtypes; read them back in order once complete."""

    def __init__(self, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.count = 0
        self._shapes: tuple[tuple[tuple[int, ...], np.dtype], ...] | None = None
        self._file = None
        self._abandoned = False
        self._written = 0

    def add(self, *frames: np.ndarray) -> None:
        """Keep one pair; a pair of another shape, or the byte limit, abandons the spill."""
        if self._abandoned:
            return
        shapes = tuple((f.shape, f.dtype) for f in frames)
        if self._shapes is None:
            self._shapes = shapes
        size = sum(f.nbytes for f in frames)
        if shapes != self._shapes or self._written + size > self.max_bytes:
            self.abandon()
            return
        try:
            if self._file is None:
                if _free_bytes(os.path.dirname(self.path) or ".") < self.max_bytes + FREE_MARGIN_BYTES:
                    self.abandon()  # the clip, the output and the reports need that space more
                    return
                self._file = open(self.path, "wb")
            for f in frames:
                self._file.write(np.ascontiguousarray(f).data)
        except OSError:  # a full disk costs the shortcut, never the job
            self.abandon()
            return
        self._written += size
        self.count += 1

    def abandon(self) -> None:
        """Give up: the later pass decodes the videos itself."""
        self._abandoned = True
        self.close()

    @property
    def usable(self) -> bool:
        return not self._abandoned and self.count > 0

    def pairs(self) -> Iterator[tuple[np.ndarray, ...]]:
        """The pairs in the order they were added (each array read fresh: safe to modify)."""
        if not self.usable or self._shapes is None:
            raise ValueError("no frames were kept")
        if self._file is not None:
            self._file.close()
            self._file = None
        with open(self.path, "rb") as f:
            for _ in range(self.count):
                out = []
                for shape, dtype in self._shapes:
                    a = np.empty(shape, dtype)
                    if f.readinto(a.data) != a.nbytes:
                        raise OSError(f"{self.path}: the kept frames ended early")
                    out.append(a)
                yield tuple(out)

    def close(self) -> None:
        """Delete the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> PairSpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

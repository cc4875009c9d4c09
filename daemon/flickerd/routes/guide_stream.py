"""A guide video read in lockstep with the render, for the routes that take their motion from it.

The chain hands the guide's path in the private ``_guide`` parameter (``process.py``); ``guided``
needs it, ``normalize`` and ``detail`` use it when given: the guide (the render's clean source)
steers their flows, the flickering render none.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from flickerd.errors import FlickerdError, RouteError
from flickerd.media.reader import iter_frames

GUIDE_PARAM = "_guide"  # the chain's private parameter: the guide video's path
FLOWS_FROM_GUIDE = ("normalize", "detail", "guided")  # the routes that take ``GUIDE_PARAM``


def resized(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` at ``size`` (w, h): area-averaged when shrinking; interpolated when enlarging, where
    INTER_AREA repeats pixels (a half-size guide would give the flows 2-px block edges)."""
    if image.shape[1::-1] == tuple(size):
        return image
    shrink = size[0] <= image.shape[1] and size[1] <= image.shape[0]
    return cv2.resize(image, tuple(size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def guide_frames(guide: str) -> Iterator[np.ndarray]:
    """The guide's luma at its own size, frame by frame; a guide that breaks is a route error."""
    try:
        for frame in iter_frames(guide, gray=True):
            yield frame.image
    except FlickerdError as exc:
        raise RouteError(f"the guide could not be read: {exc}") from exc


class GuideReader:
    """The guide's next luma frame at a given size, one per render frame; a guide that ends first
    is a route error (``media.guide`` checked the frame counts, so the file changed since)."""

    def __init__(self, guide: str) -> None:
        self.guide = guide
        self.frames = guide_frames(guide)
        self.seen = 0

    def close(self) -> None:
        """Stops the guide's decoder (a guide longer than the render is not read to its end)."""
        self.frames.close()

    def next(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """The next frame's luma (uint8), at ``size`` (w, h) when given."""
        g = next(self.frames, None)
        if g is None:
            raise RouteError(f"{self.guide}: the guide ended after {self.seen} frames, before the render did; a guide "
                             "needs the render's frame count.")
        self.seen += 1
        return g if size is None else resized(g, size)

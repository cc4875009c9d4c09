"""Small JPEG thumbnails of chosen frames, for reports that must stay one self-contained file."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable

THUMB_SIDE = 200  # px, the longer side
JPEG_QUALITY = 80


def grab(path: str | os.PathLike, indices: Iterable[int], *, max_side: int = THUMB_SIDE) -> dict[int, bytes]:
    """JPEG bytes of the frames at ``indices`` (decoded at thumbnail size, stopping after the last).

    Frames the file does not have are left out; a file that fails to decode gives what it gave.
    """
    import cv2

    from flickerd.errors import FlickerdError
    from flickerd.media.reader import iter_frames

    wanted = set(indices)
    out: dict[int, bytes] = {}
    if not wanted:
        return out
    try:
        for i, frame in enumerate(iter_frames(path, max_side=max_side, max_frames=max(wanted) + 1, tolerant=True)):
            if i in wanted:
                ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR),
                                        [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                if ok:
                    out[i] = data.tobytes()
    except (FlickerdError, OSError):
        pass
    return out


def data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")

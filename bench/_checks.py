"""What the reliability loops check on the files a daemon left: a file's hash, and whether a file is whole."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def whole(path: Path) -> bool:
    """Whether a file under a final name is complete: a report parses, a video opens and decodes a frame."""
    if path.name.endswith(".json"):
        try:
            json.loads(path.read_text())
            return True
        except (OSError, ValueError):
            return False
    if path.suffix == ".mp4":
        from flickerd.errors import FlickerdError
        from flickerd.media.probe import probe

        try:
            probe(path, decode_check=1)
            return True
        except FlickerdError:
            return False
    return path.stat().st_size > 0

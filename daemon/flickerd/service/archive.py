"""``on_success = "move"``: a published source leaves the watched folder for the archive, its sidecar with it."""

from __future__ import annotations

import shutil
from pathlib import Path


def archive_source(src: Path, src_root: Path, archive: Path) -> Path:
    """Move ``src`` (a video, or a sequence folder) to the same place under ``archive``; returns where.

    The sidecar goes along: ``NAME.json`` beside a video, ``FOLDER.json`` beside a sequence.
    """
    dest = archive / src.relative_to(src_root)
    sidecar = src.parent / f"{src.name}.json" if src.is_dir() else src.with_suffix(".json")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(src, dest)
    if sidecar.is_file():
        shutil.move(sidecar, dest.parent / sidecar.name)
    return dest

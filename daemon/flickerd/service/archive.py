"""``on_success = "move"``: a source whose job ended done moves to the folder's archive, its sidecar along."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("flickerd.service")


def archive_source(path: str, src_root: Path, conf: Any) -> None:
    """Move ``path`` (below the watched folder ``src_root``) into ``conf.archive``, keeping its subfolder;
    failures are logged, never raised (the job is done either way)."""
    if getattr(conf, "on_success", "keep") != "move" or not getattr(conf, "archive", None):
        return
    src = Path(path)
    dest = Path(conf.archive) / src.relative_to(src_root)
    # the sidecar (NAME.json beside a video, FOLDER.json beside a sequence) goes along
    sidecar = src.parent / f"{src.name}.json" if src.is_dir() else src.with_suffix(".json")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(src, dest)
        if sidecar.is_file():
            shutil.move(sidecar, dest.parent / sidecar.name)
        log.info("source_archived", file=path, archive=str(dest))
    except OSError as exc:
        log.error("source_archive_failed", file=path, error=str(exc))

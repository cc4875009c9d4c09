"""Durable directory entries: a rename or link is on disk only once its folder is synced."""

from __future__ import annotations

import os


def fsync_dir(folder: str | os.PathLike) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""Content hashes for idempotence, cached by (device, inode, size, mtime) so restarts do not re-hash."""

from __future__ import annotations

import hashlib
import os

from flickerd.service.journal import Journal

CHUNK_BYTES = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of the file's bytes, read in 1 MiB chunks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def content_hash(path: str | os.PathLike, journal: Journal) -> tuple[str, os.stat_result]:
    """The file's sha256, from the journal's cache when (dev, inode, size, mtime) is unchanged.

    The stat is taken before and after hashing; if the file changed meanwhile the result is
    not cached (the caller's settle logic will see the new size/mtime and try again).
    """
    before = os.stat(path)
    cached = journal.cached_hash(before)
    if cached is not None:
        return cached, before
    digest = sha256_file(path)
    after = os.stat(path)
    if (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino):
        journal.remember_hash(after, digest)
    return digest, after

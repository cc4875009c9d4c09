"""Atomic publishing into output folders: a reader never sees a half-written file.

Every file goes through ``publish``: copy (or move, same filesystem) to a dot-prefixed temp
name in the destination folder that keeps the extension (``.clip.tmp.mp4``), fsync it,
``os.replace`` it over the final name, fsync the folder. The watcher ignores dot names, so
outputs inside a watched tree never re-trigger it; ``remove_temp_files`` sweeps what a crash
left behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from flickerd.service.fsync import fsync_dir

COPY_CHUNK_BYTES = 1 << 20
_TEMP_RE = re.compile(r"^\..+\.tmp(\.[^./]+)?$")


def temp_name(final: Path) -> Path:
    """``dir/clip.mp4`` → ``dir/.clip.tmp.mp4`` (ffmpeg and players still see the extension)."""
    return final.with_name(f".{final.stem}.tmp{final.suffix}")


def is_temp_name(name: str) -> bool:
    return bool(_TEMP_RE.match(name))


def _copy_synced(src: Path, dst: Path) -> None:
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout, COPY_CHUNK_BYTES)
        fout.flush()
        os.fsync(fout.fileno())
    shutil.copystat(src, dst, follow_symlinks=True)


@contextlib.contextmanager
def _staged(final: Path) -> Iterator[Path]:
    """Yield the temp path to fill; then rename it over ``final`` and fsync the folder.

    On any failure the temp file is removed and the error re-raised, so ``final`` is either
    the old file or the complete new one.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(final)
    try:
        yield tmp
        os.replace(tmp, final)
        fsync_dir(final.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def publish(src: str | os.PathLike, final: str | os.PathLike, *, move: bool = False) -> Path:
    """Place ``src``'s bytes at ``final`` atomically and durably; returns ``final``.

    ``move=True`` lets a workdir file be renamed instead of copied when both sides share a
    filesystem (``src`` is then gone).
    """
    src, final = Path(src), Path(final)
    with _staged(final) as tmp:
        if move:
            try:
                os.replace(src, tmp)
                with open(tmp, "rb+") as f:
                    os.fsync(f.fileno())
                return final
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
        _copy_synced(src, tmp)
    return final


def publish_folder(src: str | os.PathLike, final: str | os.PathLike) -> Path:
    """Place the folder ``src`` (image-sequence frames) at ``final`` as one unit; returns ``final``.

    The frames are copied into ``.NAME.tmp`` in the destination and fsynced, the temp folder is
    renamed to ``final`` and the parent fsynced: a reader sees no folder or a complete one. An
    older ``final`` is first renamed aside (``.NAME.old.tmp``) and removed once the new one is in.
    ``src`` (in the workdir) is left for the caller to remove.
    """
    src, final = Path(src), Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp")
    old = final.with_name(f".{final.name}.old.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        for entry in sorted(os.scandir(src), key=lambda e: e.name):
            if entry.is_file():
                _copy_synced(Path(entry.path), tmp / entry.name)
        fsync_dir(tmp)
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
        fsync_dir(final.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not final.exists():
            os.replace(old, final)  # put the previous version back
        raise
    shutil.rmtree(old, ignore_errors=True)
    return final


def publish_bytes(data: bytes, final: str | os.PathLike) -> Path:
    """``publish`` for content made in memory (small reports and notes)."""
    final = Path(final)
    with _staged(final) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return final


def link_or_copy(existing: str | os.PathLike, final: str | os.PathLike) -> tuple[Path, str]:
    """Make ``final`` show ``existing``'s content: hardlink, else symlink, else an atomic copy.

    Returns the path and how (``"hardlink"``, ``"symlink"``, ``"copy"``). The link is made
    under the temp name first and renamed, so it appears atomically too.
    """
    existing, final = Path(existing), Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(final)
    for how in ("hardlink", "symlink"):
        try:
            tmp.unlink(missing_ok=True)
            if how == "hardlink":
                os.link(existing, tmp)
            else:
                os.symlink(os.path.abspath(existing), tmp)
            os.replace(tmp, final)
            fsync_dir(final.parent)
            return final, how
        except OSError:
            tmp.unlink(missing_ok=True)
    return publish(existing, final), "copy"


def move_published(src: str | os.PathLike, final: str | os.PathLike) -> Path:
    """Move an already published file or sequence folder (``_review/`` → output) atomically;
    copies across filesystems. A folder replaces an older one of the same name as one unit."""
    src, final = Path(src), Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        return _move_folder(src, final)
    try:
        os.replace(src, final)
        fsync_dir(final.parent)
        fsync_dir(src.parent)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        publish(src, final)
        src.unlink()
    return final


def _move_folder(src: Path, final: Path) -> Path:
    # a rename cannot land on a non-empty folder: the old one steps aside first (as in publish_folder)
    old = final.with_name(f".{final.name}.old.tmp")
    try:
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        try:
            os.replace(src, final)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            publish_folder(src, final)
            shutil.rmtree(src)
        fsync_dir(final.parent)
        fsync_dir(src.parent)
    except BaseException:
        if old.exists() and not final.exists():
            os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return final


def remove_temp_files(folder: str | os.PathLike, *, recursive: bool = True) -> list[Path]:
    """Delete leftover publish temp files (``.NAME.tmp.EXT``) and folders (``.NAME.tmp``) under ``folder``."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    walker = os.walk(folder) if recursive else [(str(folder), [], os.listdir(folder))]
    for root, dirs, names in walker:
        for name in [d for d in dirs if is_temp_name(d)]:
            shutil.rmtree(Path(root) / name, ignore_errors=True)
            removed.append(Path(root) / name)
            dirs.remove(name)
        for name in names:
            if is_temp_name(name):
                p = Path(root) / name
                try:
                    p.unlink()
                    removed.append(p)
                except FileNotFoundError:
                    pass
    return removed

"""Atomic publishing into output folders: a reader never sees a half-written file.

Every file goes through ``publish``: copy (or move, same filesystem) to a dot-prefixed temp
name in the destination folder that keeps the extension (``.clip.tmp.mp4``), fsync it,
``os.replace`` it over the final name, fsync the folder. The watcher ignores dot names, so
outputs inside a watched tree never re-trigger it; ``remove_temp_files`` sweeps what a crash
left behind.

The output folder (``root``) may itself be a link, the operator's choice; nothing below it may:
``_failed -> /elsewhere`` would send reports anywhere. The destination folder is opened one
component at a time from ``root`` with ``O_NOFOLLOW`` and every name is created and renamed
relative to that descriptor, so a link swapped in halfway cannot redirect a write either.
``UnsafeOutput`` says which folder is a link.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from flickerd.errors import UnsafeOutput

COPY_CHUNK_BYTES = 1 << 20
_TEMP_RE = re.compile(r"^\..+\.tmp(\.[^./]+)?$")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC

Root = str | os.PathLike | None  # the output folder; None: the destination's own folder (nothing below it)


def temp_name(final: Path) -> Path:
    """``dir/clip.mp4`` → ``dir/.clip.tmp.mp4`` (ffmpeg and players still see the extension)."""
    return final.with_name(f".{final.stem}.tmp{final.suffix}")


def is_temp_name(name: str) -> bool:
    return bool(_TEMP_RE.match(name))


def open_folder(folder: str | os.PathLike, root: Root = None) -> int:
    """A descriptor of ``folder``, made with its parents when missing, reached from ``root`` without
    following a link below it; ``UnsafeOutput`` names the first link (or file) in the way."""
    folder = Path(folder)
    base = Path(root) if root is not None else folder
    try:
        below = folder.relative_to(base).parts
    except ValueError:  # not under root: the folder alone
        base, below = folder, ()
    base.mkdir(parents=True, exist_ok=True)
    fd = os.open(base, _DIR_FLAGS)
    try:
        reached = base
        for part in below:
            reached = reached / part
            try:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                nxt = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    _name_paths(exc, reached.parent)
                    raise
                raise UnsafeOutput(
                    f"{reached}: is a link (to {os.path.realpath(reached)}) or a file, not a folder; flickerd does "
                    f"not write through links inside the output folder {base}, where they could send reports "
                    "anywhere. Replace it with a real folder.") from None
            os.close(fd)
            fd = nxt
        return fd
    except BaseException:
        os.close(fd)
        raise


def _name_paths(exc: OSError, folder: Path) -> None:
    """A call relative to a folder's descriptor names its file relatively; people read the whole path."""
    for attr in ("filename", "filename2"):
        name = getattr(exc, attr)
        if isinstance(name, str) and not os.path.isabs(name):
            setattr(exc, attr, str(folder / name))


@contextlib.contextmanager
def _folder(folder: str | os.PathLike, root: Root) -> Iterator[int]:
    fd = open_folder(folder, root)
    try:
        yield fd
    except OSError as exc:
        _name_paths(exc, Path(folder))
        raise
    finally:
        os.close(fd)


def _fsync_at(name: str, dir_fd: int) -> None:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_synced(src: Path, dir_fd: int, name: str) -> None:
    """``src``'s bytes, mode and times into ``name`` in the folder ``dir_fd``, synced."""
    with open(src, "rb") as fin:
        st = os.fstat(fin.fileno())
        fd = os.open(name, _NEW_FILE, 0o644, dir_fd=dir_fd)
        with open(fd, "wb") as fout:
            shutil.copyfileobj(fin, fout, COPY_CHUNK_BYTES)
            fout.flush()
            os.fchmod(fout.fileno(), stat.S_IMODE(st.st_mode))
            os.utime(fout.fileno(), ns=(st.st_atime_ns, st.st_mtime_ns))
            os.fsync(fout.fileno())


@contextlib.contextmanager
def _staged(final: Path, root: Root) -> Iterator[tuple[int, str]]:
    """Yield (the destination folder's descriptor, the temp name) to fill; then rename it over
    ``final`` and fsync the folder.

    On any failure the temp file is removed and the error re-raised, so ``final`` is either
    the old file or the complete new one.
    """
    with _folder(final.parent, root) as dir_fd:
        tmp = temp_name(final).name
        try:
            yield dir_fd, tmp
            os.replace(tmp, final.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.fsync(dir_fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise


def publish(src: str | os.PathLike, final: str | os.PathLike, *, move: bool = False, root: Root = None) -> Path:
    """Place ``src``'s bytes at ``final`` (below the output folder ``root``) atomically and durably; returns ``final``.

    ``move=True`` lets a workdir file be renamed instead of copied when both sides share a
    filesystem (``src`` is then gone).
    """
    src, final = Path(src), Path(final)
    with _staged(final, root) as (dir_fd, tmp):
        if move:
            try:
                os.replace(src, tmp, dst_dir_fd=dir_fd)
                _fsync_at(tmp, dir_fd)
                return final
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
        _copy_synced(src, dir_fd, tmp)
    return final


def _copy_tree(src: Path, dir_fd: int, name: str) -> None:
    """The files of ``src`` (a sequence's frames) into a new folder ``name`` in ``dir_fd``, all synced."""
    os.mkdir(name, 0o777, dir_fd=dir_fd)
    sub = os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=dir_fd)
    try:
        for entry in sorted(os.scandir(src), key=lambda e: e.name):
            if entry.is_file():
                _copy_synced(Path(entry.path), sub, entry.name)
        os.fsync(sub)
    finally:
        os.close(sub)


def _exists_at(name: str, dir_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def _swap_folder(dir_fd: int, new: str, final: str, fill: Callable[[str], None]) -> None:
    """``fill(new)`` makes folder ``new``; it replaces folder ``final`` as one unit (an older one steps aside
    to ``.NAME.old.tmp`` and is removed once the new one is in; on failure it is put back)."""
    old = f".{final}.old.tmp"
    shutil.rmtree(new, ignore_errors=True, dir_fd=dir_fd)
    try:
        fill(new)
        if _exists_at(final, dir_fd):
            shutil.rmtree(old, ignore_errors=True, dir_fd=dir_fd)
            os.replace(final, old, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        os.replace(new, final, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        os.fsync(dir_fd)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True, dir_fd=dir_fd)
        if _exists_at(old, dir_fd) and not _exists_at(final, dir_fd):
            os.replace(old, final, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)  # put the previous version back
        raise
    shutil.rmtree(old, ignore_errors=True, dir_fd=dir_fd)


def publish_folder(src: str | os.PathLike, final: str | os.PathLike, *, root: Root = None) -> Path:
    """Place the folder ``src`` (image-sequence frames) at ``final`` as one unit; returns ``final``.

    The frames are copied into ``.NAME.tmp`` in the destination and fsynced, the temp folder is
    renamed to ``final`` and the parent fsynced: a reader sees no folder or a complete one.
    ``src`` (in the workdir) is left for the caller to remove.
    """
    src, final = Path(src), Path(final)
    with _folder(final.parent, root) as dir_fd:
        _swap_folder(dir_fd, f".{final.name}.tmp", final.name, lambda new: _copy_tree(src, dir_fd, new))
    return final


def publish_bytes(data: bytes, final: str | os.PathLike, *, root: Root = None) -> Path:
    """``publish`` for content made in memory (small reports and notes)."""
    final = Path(final)
    with _staged(final, root) as (dir_fd, tmp):
        with open(os.open(tmp, _NEW_FILE, 0o644, dir_fd=dir_fd), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return final


def link_or_copy(existing: str | os.PathLike, final: str | os.PathLike, *, root: Root = None) -> tuple[Path, str]:
    """Make ``final`` show ``existing``'s content: hardlink, else symlink, else an atomic copy.

    Returns the path and how (``"hardlink"``, ``"symlink"``, ``"copy"``). The link is made
    under the temp name first and renamed, so it appears atomically too.
    """
    existing, final = Path(existing), Path(final)
    with _folder(final.parent, root) as dir_fd:
        tmp = temp_name(final).name
        for how in ("hardlink", "symlink"):
            try:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=dir_fd)
                if how == "hardlink":
                    os.link(existing, tmp, dst_dir_fd=dir_fd)
                else:
                    os.symlink(os.path.abspath(existing), tmp, dir_fd=dir_fd)
                os.replace(tmp, final.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                os.fsync(dir_fd)
                return final, how
            except OSError:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=dir_fd)
    return publish(existing, final, root=root), "copy"


@contextlib.contextmanager
def _both_named(src: Path, final: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.filename == src.name:
            exc.filename = str(src)
        if exc.filename2 == final.name:
            exc.filename2 = str(final)
        raise


def move_published(src: str | os.PathLike, final: str | os.PathLike, *, root: Root = None) -> Path:
    """Move an already published file or sequence folder (``_review/`` → output) atomically;
    copies across filesystems. A folder replaces an older one of the same name as one unit.
    Neither side is reached through a link below ``root``."""
    src, final = Path(src), Path(final)
    with _folder(src.parent, root) as src_fd, _folder(final.parent, root) as dst_fd, _both_named(src, final):
        if stat.S_ISDIR(os.stat(src.name, dir_fd=src_fd, follow_symlinks=False).st_mode):
            def fill(new: str) -> None:
                try:
                    os.replace(src.name, new, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
                    _copy_tree(src, dst_fd, new)
                    shutil.rmtree(src.name, dir_fd=src_fd)

            _swap_folder(dst_fd, f".{final.name}.tmp", final.name, fill)
        else:
            try:
                os.replace(src.name, final.name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
                os.fsync(dst_fd)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                publish(src, final, root=root)
                os.unlink(src.name, dir_fd=src_fd)
        os.fsync(src_fd)
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

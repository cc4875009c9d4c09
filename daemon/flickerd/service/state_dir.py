"""The state dir a daemon owns: one daemon per dir (a lock), and a check that it is still the same dir.

Deleting the state dir under a running daemon (``rm -rf /var/lib/flickerd``) leaves it writing to
an unlinked journal and holding a lock on an unlinked file: ``flickerd status`` finds no journal
and a second daemon takes the lock and the same files. ``lost()`` compares the files now at the
journal's and the lock's paths with the ones this daemon opened (device, inode); the daemon stops
its intake and exits non-zero at the first difference, and the service manager starts it afresh.
"""

from __future__ import annotations

import os
from pathlib import Path

from flickerd.errors import JournalError

LOCK_NAME = "daemon.lock"


class StateDir:
    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._lock_fd = lock_fd
        self._held: dict[Path, tuple[int, int]] = {}
        st = os.fstat(lock_fd)
        self._held[path / LOCK_NAME] = (st.st_dev, st.st_ino)

    @classmethod
    def claim(cls, path: str | os.PathLike) -> StateDir:
        """Create the dir if needed and lock it (held until the process exits); ``JournalError`` says why not."""
        path = Path(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot create the state dir {path} ({exc.strerror}); "
                               "create it writable for this user or set daemon.state_dir.") from exc
        return cls(path, _lock(path))

    def hold(self, file: str | os.PathLike) -> None:
        """Watch ``file`` (the journal, once open) as the one this daemon uses."""
        st = os.stat(file)
        self._held[Path(file)] = (st.st_dev, st.st_ino)

    def lost(self) -> str | None:
        """A sentence when a held file was deleted or replaced, else None (a few ``stat`` calls)."""
        for file, identity in self._held.items():
            try:
                st = os.stat(file)
                same = (st.st_dev, st.st_ino) == identity
            except OSError:
                same = False
            if not same:
                return (f"{file} was deleted or replaced while the daemon ran (was the state dir {self.path} "
                        "removed?); its journal and lock are gone, so intake stopped and the daemon exits for "
                        "the service manager to start it afresh.")
        return None


def _lock(state_dir: Path) -> int:
    """One daemon per state dir: two would both run the same pending jobs."""
    import fcntl

    path = state_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise JournalError(
            f"the state dir {state_dir} is not writable ({exc.strerror}); the journal and workdirs live there: "
            "make it writable for this user or set daemon.state_dir."
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise JournalError(
            f"another flickerd daemon (pid {other}) is using the state dir {state_dir}; "
            "stop it first or give this one its own --state-dir."
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd

"""Names in a watched folder that are not inputs: why, and which were already said.

Every such name leaves a trace once: a ``file_ignored`` log line and one count of
``flickerd_files_ignored_total{folder,why}``. The watcher says why (``Skip``); ``IgnoredNames``
remembers which (path, why) pairs were counted, since a file being written sends many events.
"""

from __future__ import annotations

from enum import Enum

MAX_REMEMBERED = 100_000  # past this the memory starts afresh: a name may then be counted again


class Skip(str, Enum):
    """Why a name is not an input (the ``why`` label of ``flickerd_files_ignored_total``)."""

    HIDDEN = "hidden"  # a dot name
    PARTIAL = "partial"  # still being written by someone else: .part, .tmp, .crdownload, a trailing ~
    PATTERN = "pattern"  # matches none of the folder's patterns
    GUIDE = "guide"  # NAME.guide.EXT: the source video of the render NAME, never a job of its own
    REFUSED = "refused"  # a pipe, socket, device or link leading out (flickerd_files_refused_total says which)


class IgnoredNames:
    """(path, why) pairs already logged and counted."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._limit = limit

    def first(self, path: str, why: str) -> bool:
        """True the first time ``path`` is ignored for ``why`` (then log and count it)."""
        key = (path, str(why))
        if key in self._seen:
            return False
        if len(self._seen) >= self._limit:
            self._seen.clear()
        self._seen.add(key)
        return True

"""Finding and checking a render's guide: the source video a restyle, upscale or edit started from.

A guide arrives three ways, looked up in this order:

1. the sidecar's ``guide`` key (``NAME.json``): a path relative to the render's folder, inside the
   watched folder; announced but not there yet, it is waited for up to ``wait_s``;
2. ``NAME.guide.EXT`` beside the render (any video extension);
3. ``GUIDES/NAME.EXT`` in the folder's ``guides`` folder (a sibling folder of sources, matched by name).

Every candidate is read through ``media.guarded``'s rules (a regular file; a link only when it
resolves inside the folder it was found in) and probed: it must decode and have the render's
frame count (any resolution). Anything else gives a ``Guide`` with no path and a ``note`` saying
why, and the render goes the blind way. These calls belong on worker threads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flickerd.errors import FlickerdError

GUIDE_MARK = ".guide"  # NAME.guide.EXT: a guide, never a job
POLL_S = 1.0
FRAME_TOLERANCE = 0  # frames: a guide must match the render's count exactly
# what became of a job's guide (the ``guide`` label of ``flickerd_guided_jobs_total``)
GUIDE_USED = "used"  # the published (or review) video came from the guided route or followed the guide's flows
GUIDE_NOT_USED = "not_used"  # a usable guide, but the guided fix was refused, failed, or no fix was made
GUIDE_UNUSABLE = "unusable"  # announced or found, but missing after the wait, unreadable, unsafe or another length
GUIDE_STATES = (GUIDE_USED, GUIDE_NOT_USED, GUIDE_UNUSABLE)


@dataclass(frozen=True, slots=True)
class Guide:
    """The outcome of a lookup: ``path`` set when a usable guide was found; ``note`` (a sentence
    for the report) when one was announced or found but cannot be used."""

    path: str | None
    origin: str  # "sidecar", "beside", "folder", "command line"
    note: str = ""

    def to_dict(self) -> dict:
        return {"path": self.path, "origin": self.origin, "note": self.note or None}


def is_guide_name(name: str) -> bool:
    """``shot.guide.mp4``: a guide beside its render, excluded from intake."""
    stem, ext = os.path.splitext(name)
    return bool(ext) and stem.endswith(GUIDE_MARK) and len(stem) > len(GUIDE_MARK)


def _candidates(folder: Path, prefix: str) -> list[Path]:
    """Regular-looking entries of ``folder`` named ``prefix.EXT`` (not sidecars), sorted."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    out = []
    for name in names:
        stem, ext = os.path.splitext(name)
        if stem == prefix and ext and ext.lower() != ".json" and not name.startswith("."):
            out.append(folder / name)
    return out


def find_guide(
    src: str | os.PathLike,
    *,
    root: str | os.PathLike,
    guides_dir: str | os.PathLike | None = None,
    wait_s: float = 0.0,
    sidecar_guide: str | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Guide | None:
    """The guide of the render ``src`` in the watched folder ``root``, checked; None when none is announced or found.

    ``sidecar_guide``: the sidecar's ``guide`` value (``read_sidecar``); ``cancelled`` ends a wait early.
    """
    src = Path(src)
    if sidecar_guide:
        path = src.parent / sidecar_guide
        deadline = clock() + wait_s
        while not os.path.lexists(path) and clock() < deadline and not cancelled():
            sleep(min(POLL_S, max(0.0, deadline - clock())))
        if not os.path.lexists(path):
            return Guide(None, "sidecar", f"the guide {sidecar_guide!r} named by the sidecar did not arrive within "
                                          f"{wait_s:g} s; the render was processed without it (blind).")
        return check_guide(src, path, root, "sidecar")
    found = _lying(src, guides_dir)
    return check_guide(src, *found) if found is not None else None


def _lying(src: Path, guides_dir: str | os.PathLike | None) -> tuple[Path, Path, str] | None:
    """A guide beside the render, else in the ``guides`` folder, unchecked: (path, the folder it
    was found in, origin); None when there is none."""
    beside = _candidates(src.parent, src.stem + GUIDE_MARK)
    if beside:
        return beside[0], src.parent, "beside"
    if guides_dir is not None:
        found = _candidates(Path(guides_dir), src.stem)
        if found:
            return found[0], Path(guides_dir), "folder"
    return None


def has_guide(src: str | os.PathLike, guides_dir: str | os.PathLike | None = None) -> bool:
    """Whether a guide lies beside the render or in the ``guides`` folder (unchecked; no wait)."""
    return _lying(Path(src), guides_dir) is not None


def check_guide(src: str | os.PathLike, guide: str | os.PathLike, root: str | os.PathLike, origin: str) -> Guide:
    """``guide`` if it is a safe, readable video with the render's frame count; else why not, as a note."""
    from flickerd.media.guarded import refusal
    from flickerd.media.probe import probe

    guide = os.path.abspath(os.fspath(guide))
    refused = refusal(guide, root=root)
    if refused is not None:
        return Guide(None, origin, f"the guide {guide} was not read ({refused.error()}); the render was processed "
                                   "without it (blind).")
    try:
        g = probe(guide, decode_check=1)
        r = probe(src)
    except FlickerdError as exc:
        return Guide(None, origin, f"the guide {guide} cannot be used ({exc}); the render was processed without it "
                                   "(blind).")
    if abs(g.frame_count - r.frame_count) > FRAME_TOLERANCE:
        return Guide(None, origin, f"the guide {guide} has {g.frame_count} frames, the render {r.frame_count}; a "
                                   "guide needs the same frame count, so the render was processed without it (blind).")
    return Guide(guide, origin)

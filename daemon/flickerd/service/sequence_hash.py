"""The idempotence hash of an image sequence: its frames' bytes in frame order, streamed.

Frame names do not enter the hash (a renamed copy of a sequence is recognised), the frame
rate does (the same frames at another rate make another video). A domain tag keeps a
sequence's hash from ever equalling a single file's.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

from flickerd.errors import FlickerdError, NotAVideo
from flickerd.media.guarded import InputKind, open_input
from flickerd.media.sequence import find_sequence, sequence_fps
from flickerd.service.sequence_settle import Snapshot, snapshot

CHUNK_BYTES = 1 << 20
DOMAIN = b"flickerd image sequence v1\n"


def sequence_hash(folder: str, *, marker: str, default_fps: float,
                  beat: Callable[[], None] = lambda: None) -> tuple[str, Snapshot]:
    """Hex sha256 over the frames, and the snapshot it describes (for the journal's size/mtime);
    ``beat`` is called per chunk read (progress for the stall check).

    A folder without frames hashes to the digest of the empty sequence (it is quarantined,
    and a later good version under the same name still differs).
    """
    from fractions import Fraction

    before = snapshot(folder, marker)
    h = hashlib.sha256(DOMAIN)
    h.update(f"fps={sequence_fps(folder, Fraction(default_fps).limit_denominator(1001))}\n".encode())
    try:
        paths = find_sequence(folder).paths
    except NotAVideo:  # no frames: the gate quarantines it with the reason
        paths = []
    for path in paths:
        with open_input(path, InputKind.FRAME, root=folder) as f:
            h.update(f"{os.fstat(f.fileno()).st_size}\n".encode())  # frame boundaries are part of the content
            while chunk := f.read(CHUNK_BYTES):
                h.update(chunk)
                beat()
    after = snapshot(folder, marker)
    if after.signature != before.signature:
        # not journaled: the next rescan settles it again
        raise FlickerdError(f"{folder}: frames changed while the sequence was hashed; it will be settled again.")
    return h.hexdigest(), after

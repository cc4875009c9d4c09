"""A fixed video written back as an image sequence like its source's (``sequence_output = "sequence"``).

Its own module so that ``media.sequence`` (frames read and written) need not import
``media.reader`` (decoding), which imports it: the two made an import circle.
"""

from __future__ import annotations

import os

from flickerd.media.reader import iter_frames
from flickerd.media.sequence import ImageSequence, SequenceWriter


def video_to_sequence(video: str, folder: str | os.PathLike, template: ImageSequence, *, sixteen_bit: bool) -> int:
    """Decode ``video`` frame by frame into a numbered sequence like ``template``; returns the count.

    Frame numbers follow the template's (gaps included), so frame N of the output replaces
    frame N of the source.
    """
    with SequenceWriter(folder, template, sixteen_bit=sixteen_bit) as writer:
        for frame in iter_frames(video, deep=sixteen_bit, threads=False):
            writer.write(frame.image)
    return writer.frames

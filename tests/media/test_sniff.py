"""The head sniff that tells junk from a render in progress."""

from __future__ import annotations

import pytest

from flickerd.media.sniff import looks_like, read_head
from tests.media.clips import make_webp
from tests.service.helpers import make_clip


def test_real_containers_look_like_video(tmp_path):
    assert looks_like(read_head(make_clip(tmp_path / "a.mp4"))) is True
    assert looks_like(read_head(make_clip(tmp_path / "a.mkv"))) is True
    assert looks_like(read_head(make_webp(tmp_path / "a.webp"))) is True


@pytest.mark.parametrize("head, expected", [
    (b"meeting notes\n" * 4, False),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff" * 20, False),  # an mp3
    (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\0" * 20, False),  # audio only
    (b"%PDF-1.7\n" + b"x" * 20, False),
    (b"\0\0\0\x18ftypmp42" + b"\0" * 20, True),  # mp4 whose moov is not written yet
    (b"\x1a\x45\xdf\xa3" + b"\x01" * 20, True),
    (b"GIF89a" + b"\x01" * 20, True),
    (b"\0" * 64, None),  # a downloader's zeros ahead of the data
    (b"ab", None),
])
def test_heads(head, expected):
    assert looks_like(head) is expected

"""The hostile corpus at the gate: the settle probe plus the default limits give each file its documented outcome.

This is the check the daemon runs before a file becomes a job, so a bomb must be refused
here from its declared numbers, quickly and without decoding.
"""

from __future__ import annotations

import time

import pytest

from flickerd.errors import FlickerdError, LimitExceeded
from flickerd.limits import Limits, check_limits
from flickerd.media.probe import probe
from flickerd.service.settle import default_probe
from flickerd.synth import hostile

pytestmark = pytest.mark.timeout(120)

GATE_SECONDS = 2.0  # the probe of a tiny file must never take long, bombs included


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return {h.name: h for h in hostile.build(tmp_path_factory.mktemp("hostile"))}


def test_corpus_has_every_documented_case(corpus):
    assert set(corpus) == set(hostile.NAMES)
    wanted = {"zero_byte", "truncated_05", "truncated_50", "truncated_95", "header_only", "wrong_extension",
              "text_as_mp4", "huge_dims_gif", "huge_dims_mkv", "million_frames", "gif_bomb", "corrupt_packets",
              "odd_dimensions", "ten_bit", "yuv444", "variable_frame_rate", "rotated_phone", "no_video_stream"}
    assert wanted <= set(corpus)
    for h in corpus.values():
        assert h.path.exists() and h.path.stat().st_size < 2 * 1024 * 1024, h.name
        assert (h.outcome == hostile.PROCESSED) == (h.reason is None), h.name
    assert not [p for p in next(iter(corpus.values())).path.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("name", hostile.NAMES)
def test_gate_gives_the_documented_outcome(corpus, name):
    h = corpus[name]
    start = time.monotonic()
    try:
        default_probe(str(h.path), Limits())
        got = hostile.PROCESSED
    except FlickerdError as exc:
        got = f"quarantined:{exc.reason}"
        assert str(h.path) in str(exc) and str(exc).rstrip().endswith((".", "?")), str(exc)
    assert time.monotonic() - start < GATE_SECONDS
    want = hostile.PROCESSED if h.outcome == hostile.PROCESSED else f"quarantined:{h.reason}"
    assert got == want, f"{h.name} ({h.about})"


def test_declared_numbers_of_the_bombs(corpus):
    """The probe reports what the header declares; the limits refuse it by name."""
    info = probe(corpus["million_frames"].path)
    assert info.frame_count == hostile.DECLARED_FRAMES and info.size_bytes < 20_000
    assert "limits.max_frames" in check_limits(info, Limits())
    bomb = probe(corpus["gif_bomb"].path)
    assert (bomb.width, bomb.height) == hostile.BOMB_CANVAS and bomb.frame_count == hostile.BOMB_FRAMES
    assert "decompression bomb" in check_limits(bomb, Limits())
    # turning the ratio check off lets the same file through: the ratio, not the size, caught it
    assert check_limits(bomb, Limits(max_expansion=0)) is None


@pytest.mark.parametrize("name", ["huge_dims_gif", "huge_dims_mkv"])
def test_huge_declared_frame_size_is_a_limit_not_corruption(corpus, name):
    with pytest.raises(LimitExceeded, match="30000"):
        default_probe(str(corpus[name].path), Limits())


def test_processed_cases_keep_their_properties(corpus):
    assert probe(corpus["ten_bit"].path).bit_depth == 10
    assert probe(corpus["yuv444"].path).pix_fmt == "yuv444p"
    odd = probe(corpus["odd_dimensions"].path)
    assert (odd.width, odd.height) == (63, 47)
    assert probe(corpus["wrong_extension"].path).container.startswith("matroska")


_PEAK_RSS = """
import sys
from flickerd.errors import FlickerdError
from flickerd.limits import Limits
from flickerd.service.settle import default_probe

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) // 1024

with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # reset the peak (VmHWM): measure only what the gate adds, not the imports
before = status("VmRSS")
try:
    default_probe(sys.argv[1], Limits(**({{}} if sys.argv[2] == "default" else {{"max_expansion": 0}})))
except FlickerdError as exc:
    print(exc.reason)
else:
    print("accepted")
print(status("VmHWM") - before)
"""


def _gate_in_child(path, limits: str) -> tuple[str, int]:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _PEAK_RSS.replace("{{", "{").replace("}}", "}"), str(path), limits],
                         capture_output=True, text=True, timeout=60, check=True).stdout.split()
    return out[0], int(out[1])


def test_bomb_is_refused_before_any_frame_is_decoded(corpus):
    """Peak memory proves it: one decoded frame of the bomb's canvas is 128 MiB (BGRA)."""
    reason, refused_mib = _gate_in_child(corpus["gif_bomb"].path, "default")
    assert reason == "limit_exceeded"
    # the same gate with the ratio check off decodes two frames and pays for them
    reason, decoded_mib = _gate_in_child(corpus["gif_bomb"].path, "off")
    assert reason == "accepted"
    assert decoded_mib - refused_mib > 100, (refused_mib, decoded_mib)

"""A phone clip's display matrix survives the fix: frames stay in coded orientation, the output carries the matrix."""

import json
import subprocess

import av
import pytest

from flickerd.media.ffmpeg import ffmpeg_exe
from flickerd.media.rotation import carry_rotation, display_rotation
from tests.service.helpers import FLICKERD, make_clip


def _rotated(tmp_path, degrees: int):
    plain = make_clip(tmp_path / "plain.mp4", frames=24, width=96, height=64, flicker=14)
    out = tmp_path / f"phone{degrees}.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-display_rotation:v:0", str(degrees), "-i", str(plain),
                    "-c", "copy", str(out)], check=True)
    return out


def _first_frame(path):
    with av.open(str(path)) as c:
        f = next(c.decode(video=0))
        return f.width, f.height, round(f.rotation)


@pytest.mark.parametrize("route", ["auto", "ffmpeg"])
def test_a_fixed_phone_clip_keeps_its_display_rotation(tmp_path, route):
    src = _rotated(tmp_path, 90)
    out = tmp_path / f"fixed-{route}.mp4"
    r = subprocess.run([*FLICKERD, "fix", str(src), "-o", str(out), "--route", route],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _first_frame(src) == (96, 64, 90)
    assert _first_frame(out) == (96, 64, 90)  # the pixels as coded, the matrix as the source's
    report = json.loads((tmp_path / f"fixed-{route}.report.json").read_text())
    assert report["source"]["probe"]["rotation"] == 90


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_carry_rotation_round_trips_every_quarter_turn(tmp_path, degrees):
    src = _rotated(tmp_path, degrees)
    plain = tmp_path / "plain.mp4"
    assert display_rotation(src) == degrees and display_rotation(plain) == 0
    carry_rotation(plain, degrees)
    assert display_rotation(plain) == degrees
    assert not list(tmp_path.glob("*.rotated.*"))  # the stream copy replaced the file


def test_a_container_without_a_matrix_is_left_alone(tmp_path):
    mkv = tmp_path / "a.mkv"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=12:duration=0.5",
                    "-c:v", "libx264", str(mkv)], check=True)
    before = mkv.read_bytes()
    carry_rotation(mkv, 90)
    assert mkv.read_bytes() == before


@pytest.mark.parametrize("degrees", [90, 270])
def test_the_diagnosis_reads_the_rotation_off_its_own_first_frame(tmp_path, degrees):
    """The daemon takes the source's rotation from the diagnosis instead of decoding the first frame again."""
    from flickerd.diagnose import run

    d = run(_rotated(tmp_path, degrees))
    assert d.rotation == degrees and d.to_json()["rotation"] == degrees
    assert run(tmp_path / "plain.mp4").rotation == 0

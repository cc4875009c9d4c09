"""``flickerd diagnose --json`` on the videos users drop: codecs, pixel formats, odd geometry, VFR.

Each clip is a tiny moving test pattern written by the bundled ffmpeg; the diagnosis must
read every frame and print one schema-1 object, whatever the container or pixel format.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flickerd.media.ffmpeg import ffmpeg_exe

FLICKERD = str(Path(sys.executable).with_name("flickerd"))
PATTERN = ["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=12:duration=1"]  # 12 frames

CASES = {  # name: (file name, encoder arguments, frames expected)
    "h264_10bit": ("a.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p10le"], 12),
    "hevc_10bit": ("a.mp4", ["-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params", "log-level=none"], 12),
    "prores_422_10bit": ("a.mov", ["-c:v", "prores_ks", "-pix_fmt", "yuv422p10le"], 12),
    "vp9_alpha": ("a.webm", ["-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", "-deadline", "realtime"], 12),
    "av1": ("a.mkv", ["-c:v", "libaom-av1", "-cpu-used", "8", "-row-mt", "1"], 12),
    "mjpeg": ("a.avi", ["-c:v", "mjpeg"], 12),
    "png_in_mov_rgb": ("a.mov", ["-c:v", "png"], 12),
    "ffv1": ("a.mkv", ["-c:v", "ffv1"], 12),
    "yuv444_odd_size": ("a.mp4", ["-vf", "crop=95:63:0:0", "-c:v", "libx264", "-pix_fmt", "yuv444p"], 12),
    "intra_only": ("a.mp4", ["-c:v", "libx264", "-g", "1"], 12),
    "vfr": ("a.mp4", ["-vf", "setpts='if(lt(N,6),N,N*1.5)/12/TB'", "-fps_mode", "vfr", "-c:v", "libx264"], None),
}


def _encode(tmp_path: Path, name: str) -> tuple[Path, int | None]:
    file, args, frames = CASES[name]
    out = tmp_path / f"{name}-{file}"
    r = subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *PATTERN, *args, str(out)], capture_output=True, text=True)
    if r.returncode != 0 and "Unknown encoder" in r.stderr:
        pytest.skip(f"this ffmpeg has no encoder for {name}")
    assert r.returncode == 0, r.stderr
    return out, frames


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_kind_of_video_gets_a_diagnosis(tmp_path, name):
    path, frames = _encode(tmp_path, name)
    r = subprocess.run([FLICKERD, "diagnose", "--json", path], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == 5 and doc["file"] == str(path)
    assert doc["verdict"] in {"clean", "generative_flicker", "codec_artifacts", "mixed", "incoherent"}
    assert doc["frames"] == len(doc["timeline"]) >= 10
    if frames is not None:
        assert doc["frames"] == frames
    assert [p["index"] for p in doc["timeline"]] == list(range(doc["frames"]))


def test_a_second_video_stream_and_audio_are_ignored(tmp_path):
    out = tmp_path / "two.mkv"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *PATTERN, "-f", "lavfi", "-i", "testsrc=size=48x32:rate=12:duration=1",
                    "-f", "lavfi", "-i", "sine=duration=1", "-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264",
                    "-c:a", "aac", str(out)], check=True)
    r = subprocess.run([FLICKERD, "diagnose", "--json", out], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["frames"] == 12 and (doc["width"], doc["height"]) == (96, 64)


def test_an_audio_only_file_is_one_clear_line(tmp_path):
    out = tmp_path / "voice.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(out)],
                   check=True)
    r = subprocess.run([FLICKERD, "diagnose", "--json", out], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == f"flickerd diagnose: {out}: contains no video stream.\n"

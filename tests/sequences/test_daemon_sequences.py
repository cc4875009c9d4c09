"""Image-sequence renders through ``flickerd run``: real frames, the real daemon, journal and routes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from flickerd.media.probe import probe
from flickerd.media.reader import iter_frames
from tests.sequences.frames import comfy_chunks, frame, snapshot_bytes, write_frame, write_sequence
from tests.service.helpers import Daemon, make_clip, rows, wait_for, write_config

pytestmark = pytest.mark.timeout(120)

FIX_RULES = """
[[rules]]
name = "normalize-all"
action = "fix"
steps = [{ route = "normalize" }]

[diagnose]
scale = 0.5  # tiny frames: half-scale analysis is plenty and quicker
"""


def _folder(name: str, extra: str) -> str:
    return f"""
[[folders]]
name = "{name}"
path = "{name}"
settle_s = 0.3
settle_max_s = 60
{extra}
"""


def _done(root: Path, path: Path, timeout: float = 60.0) -> dict:
    def finished():
        got = rows(root, f"path = '{path}' AND state NOT IN ('pending', 'running')")
        return got[0] if got else None

    return wait_for(finished, timeout, interval=0.1, what=f"a finished job for {path}")


def _frame_count(video: Path) -> int:
    return sum(1 for _ in iter_frames(video, max_side=32))


@pytest.mark.slow
def test_sequence_settles_by_marker_or_by_quiet_period(tmp_path):
    cfg = write_config(tmp_path, rules=FIX_RULES, settle_max_s=60, folder_extra="sequence_quiet_s = 0\n" + _folder(
        "quiet", 'sequence_marker = ""\nsequence_quiet_s = 1.5\nsequence_fps = 10'))
    (tmp_path / "quiet").mkdir()
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        # 1. a marker folder (quiet period off): frames land one by one, each renamed in from a
        # hidden temp name; one temp frame is never finished
        shot = tmp_path / "in" / "shot"
        shot.mkdir()
        (shot / "_sequence.json").write_text(json.dumps({"fps": 12}))
        for n in range(1, 11):
            write_frame(shot, f"shot_{n:04d}.png", frame(n))
            time.sleep(0.05)
        (shot / ".shot_0011.png.tmp").write_bytes(b"half a frame")
        time.sleep(2.0)  # many settle_s periods: without the marker it must not be taken
        assert rows(tmp_path) == [], d.log()
        (shot / "_done").touch()
        before = snapshot_bytes(shot)
        job = _done(tmp_path, shot)
        assert job["state"] == "done", d.log()
        out = tmp_path / "in.fixed" / "shot.mp4"
        assert job["output_path"] == str(out)
        info = probe(out)
        assert (info.fps_num, info.fps_den) == (12, 1)  # from the sidecar
        assert _frame_count(out) == 10
        assert (tmp_path / "in.fixed" / "shot.report.json").exists()

        # 2. no marker: frames arriving more often than the quiet period keep it unsettled
        slow = tmp_path / "quiet" / "slow"
        last = 0.0
        for n in range(1, 6):
            write_frame(slow, f"slow_{n:04d}.png", frame(n, seed=3))
            last = time.time()
            time.sleep(0.6)
            assert rows(tmp_path, "folder = 'quiet'") == [], "taken while frames were still arriving"
        job2 = _done(tmp_path, slow)
        assert job2["state"] == "done", d.log()
        assert job2["created_at"] - last >= 1.5 - 0.05  # only after a full quiet period
        out2 = tmp_path / "quiet.fixed" / "slow.mp4"
        assert (probe(out2).fps_num, probe(out2).fps_den) == (10, 1)  # the folder's sequence_fps
        assert _frame_count(out2) == 5

        time.sleep(1.0)  # late frame events must not make another job
        assert len(rows(tmp_path)) == 2, rows(tmp_path)
        assert snapshot_bytes(shot) == before  # sources never modified
        assert not any(p.name.startswith(".") for p in (tmp_path / "in.fixed").rglob("*"))
    finally:
        assert d.stop() == 0, d.log()


@pytest.mark.slow
def test_tiff16_to_sequence_gaps_broken_and_comfyui_metadata(tmp_path):
    cfg = write_config(tmp_path, rules=FIX_RULES, settle_max_s=60, folder_extra="sequence_quiet_s = 0.5\n" + _folder(
        "frames", 'sequence_quiet_s = 0.5\nsequence_output = "sequence"\non_success = "move"'))
    (tmp_path / "frames").mkdir()
    staging = tmp_path / "staging"
    # a 16-bit TIFF sequence for the frames-out folder
    tiff_paths = write_sequence(staging / "tiff16", range(1, 9), ext=".tif", deep=True, seed=1)
    # 16-bit frames delivered as video: 10-bit or more, not 8-bit H.264
    write_sequence(staging / "deep", range(1, 7), ext=".tif", deep=True, seed=6)
    # a PNG sequence with frames 5 and 6 missing
    write_sequence(staging / "gappy", [1, 2, 3, 4, 7, 8, 9, 10], seed=2)
    # a broken one: one frame of another size
    write_sequence(staging / "broken", range(1, 5), seed=4)
    write_frame(staging / "broken", "shot_0005.png", frame(5, size=(32, 24)))
    # ComfyUI's names (ComfyUI_00001_.png), text chunks on the first frame
    comfy = staging / "comfy"
    for n in range(1, 9):
        write_frame(comfy, f"ComfyUI_{n:05d}_.png", frame(n, seed=5), pnginfo=comfy_chunks() if n == 1 else None)
    tiff_before = snapshot_bytes(staging / "tiff16")

    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        # whole folders renamed in, as a render farm's atomic move does
        (tmp_path / "frames" / "tiff16.json").write_text('{"fps": 12}')  # its sidecar, beside it
        os.rename(staging / "tiff16", tmp_path / "frames" / "tiff16")
        for name in ("broken", "gappy", "comfy", "deep"):
            os.rename(staging / name, tmp_path / "in" / name)
        clip = make_clip(tmp_path / "in" / "after.mp4", flicker=20)  # the daemon keeps going

        tiff = _done(tmp_path, tmp_path / "frames" / "tiff16")
        broken = _done(tmp_path, tmp_path / "in" / "broken")
        gappy = _done(tmp_path, tmp_path / "in" / "gappy")
        comfy_job = _done(tmp_path, tmp_path / "in" / "comfy")
        video = _done(tmp_path, clip)
        deep = _done(tmp_path, tmp_path / "in" / "deep")
    finally:
        assert d.stop() == 0, d.log()
    log = d.log()

    # 16-bit TIFF in → a 16-bit TIFF sequence out, same names and count, published as a folder
    assert tiff["state"] == "done", log
    out = tmp_path / "frames.fixed" / "tiff16"
    assert tiff["output_path"] == str(out)
    names = sorted(p.name for p in out.iterdir())
    assert names == [p.name for p in tiff_paths]
    for p in out.iterdir():
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        assert img.dtype == np.uint16 and img.shape == (48, 64, 3)
        assert np.any(img & 0xFF)  # not 8-bit data shifted up
    assert (tmp_path / "frames.fixed" / "tiff16.report.json").exists()
    # on_success = "move": the whole folder, untouched, goes to the archive
    assert not (tmp_path / "frames" / "tiff16").exists()
    assert snapshot_bytes(tmp_path / "frames.done" / "tiff16") == tiff_before
    assert (tmp_path / "frames.done" / "tiff16.json").read_text() == '{"fps": 12}'  # the sidecar went along
    assert not (tmp_path / "frames" / "tiff16.json").exists()

    # mixed sizes: quarantined with the reason, a note in _failed/
    assert broken["state"] == "quarantined" and broken["reason"] == "corrupt_input", log
    assert "differ in size" in broken["error"]
    assert json.loads((tmp_path / "in.fixed" / "_failed" / "broken.report.json").read_text())["failure"] == "corrupt_input"

    # gaps: processed, and said in the journal (status, webhooks), the log and the report
    assert gappy["state"] == "done" and gappy["reason"] == "sequence_gaps", log
    assert "5, 6" in gappy["error"]
    assert '"reason": "sequence_gaps"' in log
    report = json.loads((tmp_path / "in.fixed" / "gappy.report.json").read_text())
    assert any("5, 6" in n for n in report["notes"])
    assert report["source"]["probe"]["sequence_gaps"] == [5, 6]
    assert _frame_count(tmp_path / "in.fixed" / "gappy.mp4") == 8

    # ComfyUI chunks of the first frame fill the generator record of the report
    assert comfy_job["state"] == "done", log
    gen = json.loads((tmp_path / "in.fixed" / "comfy.report.json").read_text())["source"]["probe"]["generator"]
    assert gen["seed"] == 123456 and gen["prompt"] == "a red fox running through snow"
    assert gen["negative_prompt"] == "blurry, flicker" and "comfyui-png" in gen["origin"]

    assert deep["state"] == "done", log
    deep_info = probe(deep["output_path"])
    assert deep["output_path"].endswith("deep.mov") and deep_info.codec == "prores" and deep_info.bit_depth >= 10

    assert video["state"] == "done", log
    assert len(rows(tmp_path)) == 6  # one job per sequence, none per frame

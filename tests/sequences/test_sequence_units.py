"""The parts of sequence intake one at a time: settling, watching, hashing, publishing, metadata, config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from flickerd import config
from flickerd.errors import ConfigError, CorruptInput, NotAVideo
from flickerd.media.sequence import find_sequence
from flickerd.routes.regenerate.sidecar import read_sidecar
from flickerd.service.publish import move_published, publish_folder, remove_temp_files
from flickerd.service.sequence_hash import sequence_hash
from flickerd.service.sequence_settle import SequenceRules
from flickerd.service.settle import Settled, Settler
from flickerd.service.watcher import WatchSpec, scan, scan_sequences, sequence_folder
from tests.sequences.frames import comfy_chunks, frame, write_frame, write_sequence


def _settler(root: Path, rules: SequenceRules, *, settle_s: float = 1.0) -> tuple[Settler, str]:
    s = Settler()
    s.observe(str(root), "in", 0.0, settle_s=settle_s, settle_max_s=3600, sequence=rules)
    return s, str(root)


def _run(s: Settler, until: float, step: float = 0.25) -> list:
    """Drive the settler's clock to ``until``; returns every non-WAIT check."""
    out, now = [], 0.0
    while now <= until:
        out += s.due(now)
        now += step
    return out


def test_marker_only_waits_for_the_marker_then_for_stable_frames(tmp_path):
    shot = tmp_path / "shot"
    write_sequence(shot, range(1, 5))
    s, path = _settler(shot, SequenceRules(marker="_done", quiet_s=0))
    assert _run(s, 30.0) == []  # stable for 30 s, but no marker: never taken
    assert path in s
    (shot / "_done").touch()
    s.observe(path, "in", 30.0, settle_s=1.0, settle_max_s=3600, sequence=SequenceRules(quiet_s=0))  # its event
    assert s.next_due() == 30.25  # looked at soon, not at the next routine look
    assert s.due(30.25) + s.due(31.0) == []  # seen; the frames must still be stable for settle_s
    checks = s.due(31.3)
    assert [c.state for c in checks] == [Settled.READY] and path not in s


def test_quiet_period_restarts_on_every_new_or_changed_frame(tmp_path):
    shot = tmp_path / "shot"
    write_sequence(shot, range(1, 3))
    s, path = _settler(shot, SequenceRules(marker="_done", quiet_s=3.0))
    assert s.due(0.0) == []  # first look
    write_frame(shot, "shot_0003.png", frame(3))
    assert s.due(2.0) == []  # a new frame: the quiet period starts again at 2.0
    assert s.due(4.0) == []
    write_frame(shot, "shot_0002.png", frame(2, seed=5))  # a frame re-written: a change too
    assert s.due(5.0) == []  # ... again from 5.0
    assert s.due(7.9) == [] and path in s
    assert [c.state for c in s.due(8.0)] == [Settled.READY]


def test_hidden_and_partial_names_are_not_frames(tmp_path):
    shot = tmp_path / "shot"
    write_sequence(shot, range(1, 3))
    s, path = _settler(shot, SequenceRules(marker="", quiet_s=2.0))
    assert s.due(0.0) == []
    (shot / ".shot_0003.png.tmp").write_bytes(b"x")
    (shot / "shot_0004.png.part").write_bytes(b"x")
    (shot / "notes.txt").write_text("n")
    assert [c.state for c in s.due(2.1)] == [Settled.READY]


def test_empty_folder_is_ignored_and_broken_sequences_are_unusable(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    s, _ = _settler(empty, SequenceRules(quiet_s=1.0))
    assert [c.state for c in s.due(0.0)] == [Settled.IGNORED]

    mixed = tmp_path / "mixed"
    write_sequence(mixed, range(1, 4))
    write_frame(mixed, "shot_0004.png", frame(4, size=(32, 24)))
    s, _ = _settler(mixed, SequenceRules(quiet_s=1.0), settle_s=0.5)
    checks = _run(s, 10.0)
    assert [c.state for c in checks] == [Settled.UNUSABLE]
    assert isinstance(checks[0].error, CorruptInput) and "differ in size" in str(checks[0].error)

    marked = tmp_path / "marked"
    marked.mkdir()
    (marked / "_done").touch()
    s, _ = _settler(marked, SequenceRules(quiet_s=0), settle_s=0.5)
    checks = _run(s, 10.0)
    assert [c.state for c in checks] == [Settled.UNUSABLE] and isinstance(checks[0].error, NotAVideo)


def test_watcher_maps_frame_events_to_their_folder(tmp_path):
    out = tmp_path / "in.fixed"
    spec = WatchSpec("in", tmp_path, ("*.mp4",), recursive=False, poll=False, poll_interval_s=1.0, excluded=(out,))
    shot = str(tmp_path / "shot")
    assert sequence_folder(spec, f"{shot}/shot_0001.png") == shot
    assert sequence_folder(spec, f"{shot}/ComfyUI_00001_.png") == shot
    assert sequence_folder(spec, f"{shot}/_done") == shot
    assert sequence_folder(spec, shot, is_dir=True) == shot
    assert sequence_folder(spec, f"{shot}/.shot_0002.png.tmp") is None
    assert sequence_folder(spec, f"{shot}/shot_0002.png.part") is None
    assert sequence_folder(spec, f"{shot}/notes.txt") is None
    assert sequence_folder(spec, str(tmp_path / "loose_0001.png")) is None  # frames need a folder of their own
    assert sequence_folder(spec, f"{shot}/deeper/shot_0001.png") is None  # not recursive
    assert sequence_folder(spec, f"{out}/shot/shot_0001.png") is None  # outputs never
    assert sequence_folder(spec, str(tmp_path / ".hidden" / "shot_0001.png")) is None
    rec = WatchSpec("in", tmp_path, ("*.mp4",), recursive=True, poll=False, poll_interval_s=1.0, excluded=(out,))
    assert sequence_folder(rec, f"{shot}/deeper/shot_0001.png") == f"{shot}/deeper"
    off = WatchSpec("in", tmp_path, ("*.mp4",), False, False, 1.0, (out,), sequences=False)
    assert sequence_folder(off, f"{shot}/shot_0001.png") is None

    write_sequence(tmp_path / "shot", range(1, 3))
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(b"x")
    write_sequence(out / "shot", range(1, 3))
    assert list(scan_sequences(spec)) == [shot]
    assert list(scan(spec)) == []  # the frames are not files to process one by one


def test_sequence_hash_is_content_in_order(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_sequence(a, range(1, 5))
    b.mkdir()
    for n, src in enumerate(sorted(a.iterdir()), start=11):  # renamed frames, same content
        (b / f"other.{n:04d}.png").write_bytes(src.read_bytes())
    ha, _ = sequence_hash(str(a), marker="_done", default_fps=24)
    hb, snap = sequence_hash(str(b), marker="_done", default_fps=24)
    assert ha == hb and snap.frames == 4 and snap.size == sum(p.stat().st_size for p in b.iterdir())
    assert sequence_hash(str(a), marker="_done", default_fps=12)[0] != ha  # another rate, another video
    (b / "other.0012.png").rename(b / "x.png")
    (b / "other.0011.png").rename(b / "other.0012.png")
    (b / "x.png").rename(b / "other.0011.png")
    assert sequence_hash(str(b), marker="_done", default_fps=24)[0] != ha  # order matters


def test_publish_folder_replaces_a_previous_version_whole(tmp_path):
    src, final = tmp_path / "work" / "shot", tmp_path / "out" / "shot"
    write_sequence(src, range(1, 4))
    write_sequence(final, range(1, 6), seed=9)  # an older, longer version
    assert publish_folder(src, final) == final
    assert sorted(p.name for p in final.iterdir()) == sorted(p.name for p in src.iterdir())
    assert [p.read_bytes() for p in sorted(final.iterdir())] == [p.read_bytes() for p in sorted(src.iterdir())]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["shot"]  # no temp or old folder left
    (tmp_path / "out" / ".left.tmp").mkdir()
    (tmp_path / "out" / ".left.tmp" / "f_0001.png").write_bytes(b"x")
    assert remove_temp_files(tmp_path / "out") == [tmp_path / "out" / ".left.tmp"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["shot"]


def test_approving_a_reviewed_sequence_replaces_the_published_folder(tmp_path):
    review, final = tmp_path / "out" / "_review" / "shot", tmp_path / "out" / "shot"
    write_sequence(review, range(1, 4))
    write_sequence(final, range(1, 6), seed=9)  # an earlier published version
    want = {p.name: p.read_bytes() for p in review.iterdir()}
    assert move_published(review, final) == final
    assert {p.name: p.read_bytes() for p in final.iterdir()} == want
    assert not review.exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["_review", "shot"]  # nothing left aside


def test_generator_record_of_a_sequence(tmp_path):
    comfy = tmp_path / "comfy"
    for n in range(1, 4):
        write_frame(comfy, f"ComfyUI_{n:05d}_.png", frame(n), pnginfo=comfy_chunks() if n == 1 else None)
    seq = find_sequence(comfy)
    assert (seq.prefix, seq.suffix, seq.numbers) == ("ComfyUI_", "_", (1, 2, 3))
    rec = read_sidecar(comfy)  # what the regeneration route reads
    assert rec is not None and rec.prompt == "a red fox running through snow" and rec.seed == 123456
    assert rec.negative_prompt == "blurry, flicker" and rec.model is None

    # a sidecar beside the folder wins; its fps key belongs to the sequence, not the generator
    (tmp_path / "comfy.json").write_text(json.dumps({"fps": 12, "prompt": "a calm lake", "seed": 7}))
    rec = read_sidecar(comfy)
    assert (rec.prompt, rec.seed) == ("a calm lake", 7)

    # malformed or oversized: a warning, then the frames' own chunks
    (tmp_path / "comfy.json").write_text("{not json")
    with capture_logs() as logs:
        assert read_sidecar(comfy).seed == 123456
    assert any(e["event"] == "metadata_ignored" for e in logs)
    (tmp_path / "comfy.json").write_text(json.dumps({"prompt": "x" * (70 * 1024)}))
    with capture_logs() as logs:
        assert read_sidecar(comfy).seed == 123456
    assert any(e["event"] == "metadata_ignored" for e in logs)
    # only a frame rate: no record from the file, none from plain frames either
    plain = tmp_path / "plain"
    write_sequence(plain, range(1, 3), fps=12)
    assert read_sidecar(plain) is None


def _folder_toml(tmp_path: Path, extra: str) -> str:
    return f'[[folders]]\npath = "{tmp_path}"\n{extra}\n'


def test_config_keys(tmp_path):
    f = config.loads(_folder_toml(tmp_path, "")).folders[0]
    assert (f.sequence_marker, f.sequence_quiet_s, f.sequence_fps, f.sequence_output) == ("_done", 10.0, 24.0, "video")
    f = config.loads(_folder_toml(tmp_path, 'sequence_marker = ""\nsequence_quiet_s = 0\nsequence_fps = 23.976\n'
                                            'sequence_output = "sequence"')).folders[0]
    assert (f.sequence_marker, f.sequence_quiet_s, f.sequence_fps, f.sequence_output) == ("", 0.0, 23.976, "sequence")
    with pytest.raises(ConfigError) as err:
        config.loads(_folder_toml(tmp_path, 'sequence_marker = "../done"\nsequence_quiet_s = -1\nsequence_fps = 0\n'
                                            'sequence_output = "frames"\nsequence_quietness = 3'))
    text = str(err.value)
    for key in ("sequence_marker", "sequence_quiet_s", "sequence_fps", "sequence_output", "sequence_quietness"):
        assert f"folders[0].{key}:" in text, text


def test_ffmpeg_route_reads_a_sequence_through_a_lossless_video(tmp_path):
    from flickerd.diagnose.settings import DiagnoseSettings
    from flickerd.process import process_file
    from flickerd.routes.base import Step

    shot = tmp_path / "shot"
    write_sequence(shot, range(1, 9), ext=".jpg")
    before = {p.name: p.read_bytes() for p in shot.iterdir()}
    out = process_file(shot, tmp_path / "work", route_override=[Step("ffmpeg", {})], compare=False,
                       diagnose_settings=DiagnoseSettings(scale=0.5))
    assert out.failure is None and out.status in ("done", "rejected"), out.reason
    assert out.chain is not None and out.chain.steps[0].route == "ffmpeg"
    assert {p.name: p.read_bytes() for p in shot.iterdir()} == before


def test_sequence_output_codec():
    from flickerd.service.worker import sequence_codec

    assert sequence_codec(deep=False, sequence_output="video", output_codec="") == ""  # H.264 mp4
    assert sequence_codec(deep=True, sequence_output="video", output_codec="") == "prores"  # 10-bit kept
    assert sequence_codec(deep=True, sequence_output="video", output_codec="h265") == "h265"
    assert sequence_codec(deep=True, sequence_output="sequence", output_codec="h265") == "ffv1"  # lossless between

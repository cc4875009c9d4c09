"""How a guide arrives (media.guide): beside, by the sidecar (waited for), from a guides folder; checked."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from flickerd.media.guide import check_guide, find_guide, is_guide_name
from flickerd.routes.regenerate.sidecar import SidecarError, parse_sidecar
from flickerd.synth import real

from .conftest import scene


def test_guide_names():
    assert is_guide_name("shot.guide.mp4")
    assert is_guide_name("a.b.guide.mov")
    assert not is_guide_name("shot.mp4")
    assert not is_guide_name(".guide.mp4")
    assert not is_guide_name("guide.mp4")


def test_found_beside_the_render(material):
    folder, *_ = material
    g = find_guide(folder / "shot.mp4", root=folder)
    assert g is not None and g.path == str(folder / "shot.guide.mp4") and g.origin == "beside" and not g.note


def test_no_guide_is_none(tmp_path):
    real.encode(scene()[:4], tmp_path / "other.mp4", fps=12)
    assert find_guide(tmp_path / "other.mp4", root=tmp_path) is None


def test_guides_folder_matched_by_name(material, tmp_path):
    folder, *_ = material
    watched, sources = tmp_path / "in", tmp_path / "sources"
    watched.mkdir()
    sources.mkdir()
    shutil.copy(folder / "shot.mp4", watched / "shot.mp4")
    shutil.copy(folder / "shot.guide.mp4", sources / "shot.mov")
    (sources / "shot.json").write_text("{}")  # a sidecar there is not a guide
    g = find_guide(watched / "shot.mp4", root=watched, guides_dir=sources)
    assert g is not None and g.path == str(sources / "shot.mov") and g.origin == "folder"


def test_sidecar_guide_waited_for_then_blind(material, tmp_path):
    folder, *_ = material
    shutil.copy(folder / "shot.mp4", tmp_path / "shot.mp4")
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    g = find_guide(tmp_path / "shot.mp4", root=tmp_path, wait_s=5.0, sidecar_guide="src/shot.mp4",
                   sleep=sleep, clock=lambda: now[0])
    assert g is not None and g.path is None and g.origin == "sidecar"
    assert "did not arrive within 5 s" in g.note and "blind" in g.note
    assert 4.9 <= sum(slept) <= 5.1


def test_sidecar_guide_arriving_during_the_wait(material, tmp_path):
    folder, *_ = material
    shutil.copy(folder / "shot.mp4", tmp_path / "shot.mp4")
    (tmp_path / "src").mkdir()
    now = [0.0]

    def sleep(s):  # the guide lands after two seconds
        now[0] += s
        if now[0] >= 2 and not (tmp_path / "src" / "shot.mp4").exists():
            shutil.copy(folder / "shot.guide.mp4", tmp_path / "src" / "shot.mp4")

    g = find_guide(tmp_path / "shot.mp4", root=tmp_path, wait_s=30.0, sidecar_guide="src/shot.mp4",
                   sleep=sleep, clock=lambda: now[0])
    assert g is not None and g.path == str(tmp_path / "src" / "shot.mp4") and not g.note
    assert now[0] < 5


def test_wrong_frame_count_is_a_note(material, tmp_path):
    folder, *_ = material
    real.encode(scene()[:10], tmp_path / "short.mp4", fps=12)
    g = check_guide(folder / "shot.mp4", tmp_path / "short.mp4", tmp_path, "beside")
    assert g.path is None and "10 frames, the render 16" in g.note


def test_unreadable_guide_is_a_note(material, tmp_path):
    folder, *_ = material
    (tmp_path / "bad.mp4").write_text("not a video")
    g = check_guide(folder / "shot.mp4", tmp_path / "bad.mp4", tmp_path, "beside")
    assert g.path is None and "cannot be used" in g.note


def test_link_leading_out_is_refused(material, tmp_path):
    folder, *_ = material
    watched = tmp_path / "in"
    watched.mkdir()
    shutil.copy(folder / "shot.mp4", watched / "shot.mp4")
    os.symlink(folder / "shot.guide.mp4", watched / "shot.guide.mp4")  # a link to another folder
    g = find_guide(watched / "shot.mp4", root=watched)
    assert g is not None and g.path is None and "was not read" in g.note


def test_sidecar_guide_key():
    assert parse_sidecar(json.dumps({"guide": "sources/shot.mp4"}), "s.json").guide == "sources/shot.mp4"
    assert parse_sidecar("{}", "s.json").guide is None
    for bad in ("/etc/passwd", "../elsewhere/shot.mp4", "a/../../b.mp4", "", 3):
        with pytest.raises(SidecarError):
            parse_sidecar(json.dumps({"guide": bad}), "s.json")

import os

import pytest

from flickerd.service import publish as pub


def test_temp_name_keeps_extension(tmp_path):
    assert pub.temp_name(tmp_path / "clip.mp4").name == ".clip.tmp.mp4"
    assert pub.is_temp_name(".clip.tmp.mp4") and pub.is_temp_name(".clip.report.tmp.json")
    assert not pub.is_temp_name("clip.mp4") and not pub.is_temp_name(".hidden.mp4")


def test_publish_copies_atomically_and_keeps_source(tmp_path):
    src = tmp_path / "work" / "out.mp4"
    src.parent.mkdir()
    src.write_bytes(b"video" * 100)
    final = pub.publish(src, tmp_path / "dest" / "clip.mp4")
    assert final.read_bytes() == b"video" * 100
    assert src.exists()
    assert os.listdir(final.parent) == ["clip.mp4"]


def test_publish_move_replaces_existing(tmp_path):
    (tmp_path / "dest").mkdir()
    old = tmp_path / "dest" / "clip.mp4"
    old.write_bytes(b"old")
    src = tmp_path / "new.mp4"
    src.write_bytes(b"new")
    pub.publish(src, old, move=True)
    assert old.read_bytes() == b"new" and not src.exists()
    assert os.listdir(old.parent) == ["clip.mp4"]


def test_publish_failure_leaves_no_temp(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(FileNotFoundError):
        pub.publish(tmp_path / "missing.mp4", dest / "clip.mp4")
    assert os.listdir(dest) == []
    # a directory in the way of the final name: os.replace fails after the temp is written
    (dest / "clip.mp4").mkdir()
    src = tmp_path / "a.mp4"
    src.write_bytes(b"x")
    with pytest.raises(OSError):
        pub.publish(src, dest / "clip.mp4")
    assert sorted(os.listdir(dest)) == ["clip.mp4"]


def test_link_or_copy_shares_content(tmp_path):
    orig = tmp_path / "out" / "a.mp4"
    orig.parent.mkdir()
    orig.write_bytes(b"fixed")
    final, how = pub.link_or_copy(orig, tmp_path / "out" / "b.mp4")
    assert how == "hardlink" and final.read_bytes() == b"fixed"
    assert os.stat(final).st_ino == os.stat(orig).st_ino


def test_remove_temp_files_only_ours(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in (".a.tmp.mp4", "sub/.b.report.tmp.json", "keep.mp4", ".keep.mp4"):
        (tmp_path / name).write_bytes(b"x")
    removed = pub.remove_temp_files(tmp_path)
    assert sorted(p.name for p in removed) == [".a.tmp.mp4", ".b.report.tmp.json"]
    assert (tmp_path / "keep.mp4").exists() and (tmp_path / ".keep.mp4").exists()

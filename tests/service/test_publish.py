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


@pytest.mark.parametrize("write", ["publish", "publish_bytes", "link_or_copy", "publish_folder", "move_published"])
def test_nothing_is_written_through_a_link_below_the_output_folder(tmp_path, write):
    """``OUT/_failed -> /elsewhere`` must not send a report elsewhere; ``OUT`` itself may be a link."""
    from flickerd.errors import UnsafeOutput

    real_out, outside = tmp_path / "real-out", tmp_path / "outside"
    real_out.mkdir()
    outside.mkdir()
    out = tmp_path / "out"
    out.symlink_to(real_out)  # the operator's choice: allowed
    (out / "_failed").symlink_to(outside)  # someone's link below it: refused
    src = tmp_path / "work" / "a.mp4"
    src.parent.mkdir()
    src.write_bytes(b"video")
    frames = tmp_path / "work" / "frames"
    frames.mkdir()
    (frames / "f_0001.png").write_bytes(b"png")
    final = out / "_failed" / "sub" / "a.mp4"
    calls = {
        "publish": lambda: pub.publish(src, final, root=out),
        "publish_bytes": lambda: pub.publish_bytes(b"{}", final, root=out),
        "link_or_copy": lambda: pub.link_or_copy(src, final, root=out),
        "publish_folder": lambda: pub.publish_folder(frames, out / "_failed" / "frames", root=out),
        "move_published": lambda: pub.move_published(src, final, root=out),
    }
    with pytest.raises(UnsafeOutput, match="_failed"):
        calls[write]()
    assert os.listdir(outside) == [] and src.exists()
    # through a real folder it works, below the linked output folder
    (out / "_failed").unlink()
    calls[write]()
    assert (real_out / "_failed").is_dir() and os.listdir(outside) == []

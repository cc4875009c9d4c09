"""Path safety in a real daemon: links out of a folder are not followed, hostile names reach ffmpeg safely,
sidecars cannot escape, and no input's outputs land on another's."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from flickerd.routes.regenerate.sidecar import SidecarError, read_sidecar
from flickerd.synth.hostile import write_clip
from tests.reliability.helpers import Daemon, make_clip, rows, sha256, temp_leftovers, write_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

FFMPEG_RULES = """
[[rules]]
name = "deflicker-all"
action = "fix"
steps = [{ route = "ffmpeg", params = { deflicker = true, deband = false } }]
"""


def test_symlinks_out_of_the_folder_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    secret = make_clip(outside / "secret.mp4", seed=1)
    make_clip(outside / "dir" / "deep.mp4", seed=2)
    before = sha256(secret)
    cfg = write_config(tmp_path, settle_s=0.2, folder_extra="recursive = true")
    src = tmp_path / "in"
    make_clip(src / "plain.mp4")
    make_clip(src / ".store" / "kept.mp4", seed=3)
    (src / "alias.mp4").symlink_to(src / ".store" / "kept.mp4")  # resolves inside: fine
    (src / "escape.mp4").symlink_to(secret)
    (src / "relative.mp4").symlink_to(Path("..") / "outside" / "secret.mp4")
    (src / "linkdir").symlink_to(outside / "dir", target_is_directory=True)
    d = Daemon(tmp_path, config=cfg)
    try:
        d.wait_log("daemon_started")
        make_clip(tmp_path / "late.mp4", seed=4)
        (src / "late-escape.mp4").symlink_to(tmp_path / "late.mp4")  # seen by inotify, not the startup scan
        (src / "late-alias.mp4").symlink_to(src / "plain.mp4")
        from tests.reliability.helpers import wait_for

        wait_for(lambda: len(rows(tmp_path, "state NOT IN ('pending', 'running')")) == 3, 60, what="3 jobs")
        import time

        time.sleep(1.0)  # time enough for a wrongly followed link to show up as a row
    finally:
        assert d.stop() == 0, d.log()[-3000:]
    names = sorted(Path(r["path"]).name for r in rows(tmp_path))
    assert names == ["alias.mp4", "late-alias.mp4", "plain.mp4"], d.log()[-3000:]
    log = d.log()
    for name in ("escape.mp4", "relative.mp4", "late-escape.mp4"):
        assert f'"file": "{src / name}"' in log and "symlink_outside" in log, name
    assert sha256(secret) == before
    assert not any("secret" in p.name or "deep" in p.name for p in (tmp_path / "in.fixed").rglob("*"))


HOSTILE_NAMES = [
    "-dash.mp4",
    "--help.mp4",
    "new\nline.mp4",
    "ünï cødé ✓ 日本.mp4",
    "sp  ace .mp4",
    "col:on.mp4",
    "file:notreally.mp4",
    "$(touch PWNED).mp4",
    "semi;colon & 'quote\" `tick`.mp4",
    "percent%d.mp4",
]


def test_hostile_names_reach_ffmpeg_and_every_command_safely(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.2, rules=FFMPEG_RULES, folder_extra="auto_accept = true")
    digests = {}
    for i, name in enumerate(HOSTILE_NAMES):
        staged = write_clip(tmp_path / f"stage{i}.mp4", seed=i)
        staged.rename(tmp_path / "in" / name)
        digests[name] = sha256(tmp_path / "in" / name)
    d = Daemon(tmp_path, "--once", config=cfg)
    assert d.wait(150) == 0, d.log()[-4000:]
    jobs = {Path(r["path"]).name: r for r in rows(tmp_path)}
    assert set(jobs) == set(HOSTILE_NAMES)
    out = tmp_path / "in.fixed"
    for name, job in jobs.items():
        # the ffmpeg route ran on it: fixed and published, or verified worse and rejected — never a failure
        assert job["route"] == "ffmpeg" and job["state"] in ("done", "rejected"), (name, job["error"], job["reason"])
        stem = Path(name).stem
        where = out if job["state"] == "done" else out / "_failed"
        assert (where / f"{stem}.report.json").exists(), name
        if job["state"] == "done":
            assert job["output_path"] == str(out / name) and (out / name).stat().st_size > 0
        assert sha256(tmp_path / "in" / name) == digests[name]
    assert not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()
    assert temp_leftovers(out) == []


def test_outputs_never_land_on_another_inputs_names(tmp_path):
    cfg = write_config(tmp_path, settle_s=0.2, rules=FFMPEG_RULES, folder_extra="auto_accept = true")
    src = tmp_path / "in"
    write_clip(src / ".a.mp4", seed=1).rename(src / "a.mp4")
    write_clip(src / ".a.mkv", seed=2).rename(src / "a.mkv")  # same stem, other container
    write_clip(src / ".b.mp4", seed=3).rename(src / "b.mp4")
    write_clip(src / ".bc.mp4", seed=4).rename(src / "b.compare.mp4")  # b's side-by-side clip has this name
    d = Daemon(tmp_path, "--once", config=cfg)
    assert d.wait(150) == 0, d.log()[-4000:]
    jobs = rows(tmp_path)
    assert len(jobs) == 4
    claimed: dict[str, str] = {}
    for job in jobs:
        assert job["state"] in ("done", "rejected"), job
        report = Path(job["report_path"])
        body = json.loads(report.read_text())
        assert job["path"] in json.dumps(body), f"{report} does not describe {job['path']}"
        family = [report] + [report.with_name(report.name.replace(".report.json", k))
                             for k in (".flicker.png", ".compare.mp4")]
        if job["output_path"]:
            family.append(Path(job["output_path"]))
        for f in family:
            if f.exists():
                assert str(f) not in claimed, f"{f} belongs to both {claimed.get(str(f))} and {job['path']}"
                claimed[str(f)] = job["path"]
    by_name = {Path(j["path"]).name: j for j in jobs}
    assert by_name["a.mp4"]["report_path"] != by_name["a.mkv"]["report_path"]
    # every file in the output tree belongs to exactly one input
    published = {str(p) for p in (tmp_path / "in.fixed").rglob("*") if p.is_file()}
    assert published == set(claimed), sorted(published ^ set(claimed))


def test_sidecar_links_out_of_the_folder_are_refused(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "creds.json").write_text('{"prompt": "not yours", "seed": 1}')
    folder = tmp_path / "in"
    video = make_clip(folder / "clip.mp4")
    (folder / "clip.json").symlink_to(outside / "creds.json")
    with pytest.raises(SidecarError, match="outside"):
        read_sidecar(video)
    os.unlink(folder / "clip.json")
    shutil.copy(outside / "creds.json", folder / "clip.json")  # the same content, inside: accepted
    assert read_sidecar(video).seed == 1

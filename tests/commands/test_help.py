"""What the command line says about itself: each sub-command's help, and its usage errors."""

from __future__ import annotations

import pytest

from flickerd import cli
from flickerd.routes.registry import ROUTES
from tests.service.helpers import make_clip


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit):
        cli.main([*argv, "--help"])
    return capsys.readouterr().out


def test_approve_and_reject_each_say_what_they_do(capsys):
    approve, reject = _help(capsys, "approve"), _help(capsys, "reject")
    assert approve.split("positional arguments")[0] != reject.split("positional arguments")[0]
    assert "Publish" in approve and "_failed" not in approve
    assert "Refuse" in reject and "_failed" in reject
    overview = _help(capsys)
    assert overview.count("Publish a candidate") == 1 and overview.count("Refuse a candidate") == 1


def test_fix_route_help_names_every_route_of_the_default_chain(capsys):
    text = " ".join(_help(capsys, "fix").split())  # argparse wraps lines
    for name in ROUTES:
        assert name in text, name
    assert "detail" in text


def test_fix_unknown_route_suggests_the_close_one(tmp_path, capsys):
    src = make_clip(tmp_path / "a.mp4")
    assert cli.main(["fix", str(src), "--route", "normalize+detial"]) == 2
    err = capsys.readouterr().err
    assert "unknown route 'detial'; did you mean 'detail'? Choose auto" in err


def test_fix_output_without_an_extension_is_refused_before_any_work(tmp_path, capsys):
    src = make_clip(tmp_path / "a.mp4")
    assert cli.main(["fix", str(src), "-o", str(tmp_path / "out")]) == 2
    assert "no such folder, and no extension" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_fix_a_gif_to_an_mp4_name_writes_an_mp4(tmp_path, capsys):
    """The kept codec of a GIF would put GIF data in a file named .mp4; -o's extension decides."""
    import av
    import numpy as np

    from flickerd.synth.real import encode

    rng = np.random.default_rng(3)
    frames = [np.clip(rng.normal(120 + 20 * (t % 2), 10, (48, 64, 3)), 0, 255).astype(np.uint8) for t in range(8)]
    mp4 = encode(frames, tmp_path / "a.mp4", fps=8)
    gif = tmp_path / "a.gif"
    with av.open(mp4) as i, av.open(str(gif), "w") as o:
        s = o.add_stream("gif", rate=8)
        s.width, s.height, s.pix_fmt = 64, 48, "rgb8"
        for f in i.decode(video=0):
            o.mux(s.encode(f.reformat(format="rgb8")))
        o.mux(s.encode())
    assert cli.main(["fix", str(gif), "--route", "normalize", "--no-compare", "-o", str(tmp_path / "out.mp4")]) == 0
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert "mp4" in c.format.name and c.streams.video[0].codec_context.name == "h264"
    from flickerd.commands.fix import named_codec

    assert named_codec("a.gif", "b.mp4") == "libx264" and named_codec("a.gif", "b.gif") is None
    assert named_codec("a.mp4", "b.mkv") is None  # a video keeps its codec

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

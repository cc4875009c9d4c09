"""``flickerd run --watch DIR ...``: each DIR gets the shared rules and its sibling output."""

from __future__ import annotations

import pytest

from flickerd import config
from flickerd.errors import ConfigError
from flickerd.rules import DEFAULT_RULES


def test_each_dir_gets_default_rules_and_sibling_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = config.default()
    cfg = config.with_watch_dirs(base, ["renders", tmp_path / "x" / "shots"])
    a, b = cfg.folders
    assert (a.name, a.path, a.output) == ("renders", tmp_path / "renders", tmp_path / "renders.fixed")
    assert (b.name, b.path, b.output) == ("shots", tmp_path / "x" / "shots", tmp_path / "x" / "shots.fixed")
    assert a.rules == b.rules == DEFAULT_RULES
    assert a.rules_hash == cfg.rules_hash == config.rules_hash(DEFAULT_RULES)
    # everything else comes from the config it was given
    assert (cfg.state_dir, cfg.limits, cfg.metrics_address) == (base.state_dir, base.limits, base.metrics_address)


def test_same_basename_gets_a_unique_name(tmp_path):
    cfg = config.with_watch_dirs(config.loads(""), [tmp_path / "a" / "renders", tmp_path / "b" / "renders"])
    assert [f.name for f in cfg.folders] == ["renders", "renders-2"]


def test_shared_rules_of_the_config_are_used(tmp_path):
    base = config.loads('[[rules]]\nname = "all"\nsteps = ["normalize"]\n')
    cfg = config.with_watch_dirs(base, [tmp_path / "in"])
    assert cfg.folders[0].rules == base.rules != DEFAULT_RULES


@pytest.mark.parametrize(
    "dirs, expected",
    [
        (["in", "in/"], "folders[1].path: {tmp}/in is already watched by folders[0]."),
        (["in", "in.fixed"], "folders[0].output: {tmp}/in.fixed is the input folder of folders[1]"),
        ([], "--watch: give at least one folder to watch."),
    ],
)
def test_bad_watch_dirs(tmp_path, monkeypatch, dirs, expected):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        config.with_watch_dirs(config.loads(""), dirs)
    assert expected.format(tmp=tmp_path) in str(info.value)

"""Guides are never jobs; the folder keys that bring them have defaults and are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from flickerd.config import DEFAULT_GUIDE_WAIT_S, loads as load_config_text
from flickerd.errors import ConfigError
from flickerd.service.ignored import Skip
from flickerd.service.watcher import WatchSpec, wanted, why_skipped


def spec(tmp_path: Path) -> WatchSpec:
    return WatchSpec(name="in", path=tmp_path, patterns=("*.mp4", "*.mov"), recursive=False, poll=True,
                     poll_interval_s=1.0, excluded=())


def test_guide_files_are_not_inputs(tmp_path):
    s = spec(tmp_path)
    assert wanted(s, str(tmp_path / "shot.mp4"))
    assert not wanted(s, str(tmp_path / "shot.guide.mp4"))
    assert why_skipped(s, str(tmp_path / "shot.guide.mov")) is Skip.GUIDE
    assert why_skipped(s, str(tmp_path / "shot.mp4")) is None


def test_folder_guide_keys(tmp_path):
    base = f'[daemon]\nstate_dir = "{tmp_path}/state"\n[[folders]]\npath = "{tmp_path}/in"\n'
    cfg = load_config_text(base)
    assert cfg.folders[0].guides is None and cfg.folders[0].guide_wait_s == DEFAULT_GUIDE_WAIT_S == 30.0
    cfg = load_config_text(base + f'guides = "{tmp_path}/sources"\nguide_wait_s = 5\n')
    assert cfg.folders[0].guides == tmp_path / "sources" and cfg.folders[0].guide_wait_s == 5.0
    with pytest.raises(ConfigError, match=r"folders\[0\]\.guides: must be a folder outside the watched folder"):
        load_config_text(base + f'guides = "{tmp_path}/in/sources"\n')
    with pytest.raises(ConfigError, match=r"folders\[0\]\.guide_wait_s"):
        load_config_text(base + "guide_wait_s = -1\n")

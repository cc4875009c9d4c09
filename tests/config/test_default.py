"""The embedded default config, the documented example in config/, and path resolution."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from flickerd import config
from flickerd.limits import Limits
from flickerd.routes.base import Step
from flickerd.rules import DEFAULT_RULES, Rule

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "flickerd.toml"
EMBEDDED = REPO / "daemon" / "flickerd" / "defaults" / "flickerd.toml"


def test_example_and_embedded_default_are_identical():
    assert EXAMPLE.read_bytes() == EMBEDDED.read_bytes()


def test_default_spells_out_exactly_the_default_rules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = config.default()
    assert cfg.rules == DEFAULT_RULES
    assert [f.rules for f in cfg.folders] == [DEFAULT_RULES]
    assert cfg.rules_hash == cfg.folders[0].rules_hash == config.rules_hash(DEFAULT_RULES)


def test_default_resolves_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = config.default()
    (folder,) = cfg.folders
    assert folder.name == "incoming"
    assert folder.path == tmp_path / "hotfolder" / "incoming"
    assert folder.output == tmp_path / "hotfolder" / "incoming.fixed"
    assert cfg.state_dir == tmp_path / "hotfolder" / ".flickerd-state"
    assert cfg.metrics_address == "127.0.0.1:9478"
    assert cfg.limits == Limits()
    assert folder.mode == "fix" and folder.on_success == "keep" and folder.archive is None


def test_example_file_loads_relative_to_its_own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the cwd must not matter for a file
    cfg = config.load(EXAMPLE)
    assert cfg.source == str(EXAMPLE)
    assert cfg.folders[0].path == EXAMPLE.parent / "hotfolder" / "incoming"
    assert cfg.state_dir == EXAMPLE.parent / "hotfolder" / ".flickerd-state"
    assert cfg.rules == DEFAULT_RULES


def test_owned_sections_go_through_their_owners():
    cfg = config.loads('[diagnose]\nmax_side = 160\n[acceptance]\nmin_ssim = 0.5\n')
    from flickerd.diagnose.settings import DiagnoseSettings
    from flickerd.verify import Acceptance

    assert isinstance(cfg.diagnose, DiagnoseSettings) and cfg.diagnose.max_side == 160
    assert isinstance(cfg.acceptance, Acceptance) and cfg.acceptance.min_ssim == 0.5


def test_minimal_config_fills_every_default(tmp_path):
    cfg = config.loads('[[folders]]\npath = "renders"\n', base_dir=tmp_path)
    (folder,) = cfg.folders
    assert folder.name == "renders"
    assert folder.output == tmp_path / "renders.fixed"
    assert folder.rules == DEFAULT_RULES
    assert cfg.state_dir == tmp_path / config.DEFAULT_STATE_DIR
    assert cfg.cpu_workers == config.DEFAULT_CPU_WORKERS and cfg.executor == "local"


def test_full_folder_and_daemon_settings(tmp_path):
    text = f'''
[daemon]
state_dir = "{tmp_path}/state"
metrics_address = "0.0.0.0:0"
cpu_workers = 4
gpu_slots = 2
executor = "ray"
ray_address = "ray://head:10001"
log_level = "debug"
max_attempts = 5
rescan_interval_s = 10
shutdown_timeout_s = 0
ffmpeg_path = "bin/ffmpeg"

[limits]
max_pixels = 1000
max_frames = 0

[[folders]]
name = "nas"
path = "~/renders"
output = "out"
patterns = ["*.mp4"]
recursive = true
poll = true
poll_interval_s = 0.5
settle_s = 30
settle_max_s = 60
mode = "diagnose"
priority = -3
auto_accept = false
on_success = "move"
'''
    cfg = config.loads(text, base_dir=tmp_path)
    assert cfg.state_dir == tmp_path / "state"
    assert (cfg.cpu_workers, cfg.gpu_slots, cfg.executor, cfg.ray_address) == (4, 2, "ray", "ray://head:10001")
    assert (cfg.log_level, cfg.max_attempts, cfg.rescan_interval_s, cfg.shutdown_timeout_s) == ("debug", 5, 10.0, 0.0)
    assert cfg.ffmpeg_path == str(tmp_path / "bin" / "ffmpeg")
    assert cfg.limits == Limits(max_pixels=1000, max_frames=0)
    (f,) = cfg.folders
    assert f.path == Path("~/renders").expanduser() and f.output == tmp_path / "out"
    assert f.archive == Path("~/renders.done").expanduser()  # the default archive for "move"
    assert (f.patterns, f.recursive, f.poll, f.poll_interval_s) == (("*.mp4",), True, True, 0.5)
    assert (f.settle_s, f.settle_max_s, f.mode, f.priority, f.auto_accept) == (30.0, 60.0, "diagnose", -3, False)


def test_folder_rules_override_the_shared_rules_and_route_params_apply(tmp_path):
    text = '''
[routes.rife]
mode = "interpolate"
factor = 2

[[rules]]
name = "all"
steps = ["normalize", { route = "rife", params = { mode = "smooth" } }]

[[folders]]
path = "a"

[[folders]]
path = "b"
[[folders.rules]]
name = "short-generative"
when = { verdict = "generative_flicker", min_scores = { luma_flicker = 1 }, max_duration_s = 600, sidecar = false }
action = "review"
steps = [{ route = "rife" }]
fallback = ["normalize"]
'''
    cfg = config.loads(text, base_dir=tmp_path)
    a, b = cfg.folders
    assert a.rules == cfg.rules
    (shared,) = cfg.rules
    assert shared.steps == (Step("normalize", {}), Step("rife", {"mode": "smooth", "factor": 2}))
    (own,) = b.rules
    assert own.steps == (Step("rife", {"mode": "interpolate", "factor": 2}),)
    assert own.fallback == (Step("normalize", {}),)
    assert own.match.min_scores == {"luma_flicker": 1.0} and own.match.max_duration_s == 600.0
    assert own.match.sidecar is False and own.action.value == "review"
    assert a.rules_hash != b.rules_hash
    assert cfg.rules_hash not in (a.rules_hash, b.rules_hash)  # covers both tables


def test_rules_hash_is_stable_and_sensitive():
    base = config.rules_hash(DEFAULT_RULES)
    assert config.rules_hash(tuple(DEFAULT_RULES)) == base
    changed = list(DEFAULT_RULES)
    at = next(i for i, r in enumerate(changed) if r.steps)
    rife = changed[at]
    changed[at] = dataclasses.replace(rife, steps=(rife.steps[0], Step("rife", {"mode": "smooth", "strength": 0.5})))
    assert config.rules_hash(tuple(changed)) != base
    reordered = (DEFAULT_RULES[1], DEFAULT_RULES[0], *DEFAULT_RULES[2:])
    assert config.rules_hash(reordered) != base
    assert isinstance(DEFAULT_RULES[0], Rule)


def test_rules_hash_ignores_toml_spelling(tmp_path):
    one = config.loads('[[rules]]\nname = "r"\nwhen = { verdict = "mixed" }\nsteps = ["normalize"]\n')
    two = config.loads('[[rules]]\nsteps = [ { route = "normalize", params = {} } ]\nwhen.verdict = ["mixed"]\nname = "r"\n')
    assert one.rules_hash == two.rules_hash


def test_config_is_frozen():
    cfg = config.loads("")
    try:
        cfg.cpu_workers = 9  # type: ignore[misc]
    except dataclasses.FrozenInstanceError:
        return
    raise AssertionError("Config must be frozen")

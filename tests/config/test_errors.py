"""Every class of config error names its key path (or file and line) in a full sentence."""

from __future__ import annotations

import pytest

from flickerd import config
from flickerd.errors import ConfigError


def error_of(text: str, **kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        config.loads(text, source="test.toml", **kwargs)
    return str(info.value)


def test_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[daemon]\ncpu_workers = 2\nlog_level = "info\n')
    with pytest.raises(ConfigError) as info:
        config.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}, line 3, column ")
    assert "invalid TOML" in message


def test_syntax_error_on_a_later_line():
    message = error_of("\n" * 6 + "[[folders]]\npath = = 1\n")
    assert message.startswith("test.toml, line 8, column 8: invalid TOML")


def test_unreadable_and_non_utf8_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        config.load(tmp_path / "missing.toml")
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[daemon]\nlog_level = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        config.load(path)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("cpu_workers = 2\n", "test.toml: cpu_workers: unknown key; known keys: "),
        ("[deamon]\n", "deamon: unknown key; did you mean 'daemon'?"),
        ("[daemon]\ncpu_worker = 2\n", "daemon.cpu_worker: unknown key; did you mean 'cpu_workers'?"),
        ("[limits]\nmax_pixel = 2\n", "limits.max_pixel: unknown key; did you mean 'max_pixels'?"),
        ('[[folders]]\npath = "a"\nsettle = 3\n', "folders[0].settle: unknown key; did you mean 'settle_s'?"),
        ('[[rules]]\nname = "r"\nacton = "fix"\nsteps = ["rife"]\n', "rules[0].acton: unknown key; did you mean 'action'?"),
        ('[[rules]]\nwhen = { verdicts = ["clean"] }\naction = "report"\n', "rules[0].when.verdicts: unknown key; did you mean 'verdict'?"),
        ('[[rules]]\nsteps = [{ route = "rife", param = {} }]\n', "rules[0].steps[0].param: unknown key; did you mean 'params'?"),
        ("[diagnose]\nmax_sid = 3\n", "diagnose.max_sid: unknown key"),
        ("[acceptance]\nmin_ssm = 0.5\n", "acceptance.min_ssm: unknown key"),
        ('[[rules]]\nname = "g"\naction = "fix"\nsteps = [{ route = "guided", params = { radiuss = 1 } }]\n',
         "rules[0].steps[0].params.radiuss: unknown parameter of the guided route; did you mean 'radius'?"),
        ('[[rules]]\nname = "d"\naction = "fix"\nsteps = [{ route = "drift", params = { seams = [-1] } }]\n',
         "rules[0].steps[0].params.seams: expected a list of frame indices"),
    ],
)
def test_unknown_keys_are_errors_at_every_level(text, expected):
    assert expected in error_of(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ('[daemon]\ncpu_workers = "x"\n', "daemon.cpu_workers: expected an integer, got 'x'."),
        ("[daemon]\ncpu_workers = true\n", "daemon.cpu_workers: expected an integer, got true."),
        ("[daemon]\ncpu_workers = 0\n", "daemon.cpu_workers: must be at least 1, got 0."),
        ('[daemon]\nrescan_interval_s = "1s"\n', "daemon.rescan_interval_s: expected a number, got '1s'."),
        ("[daemon]\nrescan_interval_s = nan\n", "daemon.rescan_interval_s: expected a finite number, got nan."),
        ("[daemon]\nrescan_interval_s = 0\n", "daemon.rescan_interval_s: must be greater than 0"),
        ("[daemon]\nstate_dir = 3\n", "daemon.state_dir: expected a string, got 3."),
        ('[daemon]\nexecutor = "rey"\n', "daemon.executor: expected one of 'local', 'ray', got 'rey'; did you mean 'ray'?"),
        ('[daemon]\nmetrics_address = "localhost"\n', "daemon.metrics_address: expected HOST:PORT"),
        ('[daemon]\nmetrics_address = "a:70000"\n', "daemon.metrics_address: expected HOST:PORT"),
        ("daemon = 3\n", "daemon: expected a table, got 3."),
        ("[limits]\nmax_frames = 1.5\n", "limits.max_frames: expected an integer, got 1.5."),
        ("[limits]\nmax_pixels = -1\n", "limits.max_pixels: must be at least 0, got -1."),
        ('[[folders]]\npath = "a"\npatterns = "*.mp4"\n', "folders[0].patterns: expected an array of strings, got '*.mp4'."),
        ('[[folders]]\npath = "a"\npatterns = ["*.mp4", 3]\n', "folders[0].patterns[1]: expected a non-empty string, got 3."),
        ('[[folders]]\npath = "a"\nrecursive = "yes"\n', "folders[0].recursive: expected true or false, got 'yes'."),
        ('[[folders]]\npath = "a"\nmode = "repair"\n', "folders[0].mode: expected one of 'fix', 'diagnose', got 'repair'."),
        ('[[folders]]\npath = "a"\nsettle_s = 10\nsettle_max_s = 5\n', "folders[0].settle_max_s: must be at least settle_s (10)"),
        ('[[folders]]\nname = "x"\n', "folders[0].path: every folder needs a path"),
        ('[[folders]]\npath = ""\n', "folders[0].path: must not be empty."),
        ('[[folders]]\npath = "a"\nname = "my renders"\n', "folders[0].name: 'my renders' may hold only letters"),
        ('[[folders]]\npath = "a"\narchive = "old"\n', 'folders[0].archive: is used only with on_success = "move"'),
        ("folders = [1]\n", "folders[0]: expected a table, got 1."),
        ("[diagnose]\nmax_side = \"big\"\n", "diagnose.max_side: expected"),
        ("[regenerate]\nwhen = 1979-05-27\n", "regenerate.when: expected a string, number, boolean, array or table, got a date/time"),
    ],
)
def test_type_and_range_errors_name_the_expected_type(text, expected):
    assert expected in error_of(text)


FOLDERS = '[[folders]]\npath = "/srv/a"\n[[folders]]\npath = "/srv/b"\n'


@pytest.mark.parametrize(
    "rules, expected",
    [
        ('steps = [{ route = "rif" }]', "folders[1].rules[0].steps[0].route: unknown route 'rif'; did you mean 'rife'? Known routes: "),
        ('steps = ["normalise"]', "folders[1].rules[0].steps[0]: unknown route 'normalise'; did you mean 'normalize'?"),
        ('steps = ["normalize", { params = {} }]', "folders[1].rules[0].steps[1].route: every step needs a route."),
        ("steps = [3]", "folders[1].rules[0].steps[0]: expected a step table or a route name, got 3."),
        ('steps = "rife"', "folders[1].rules[0].steps: expected an array of steps, got 'rife'."),
        ('steps = ["rife"]\nfallback = [{ route = "ffmpg" }]', "folders[1].rules[0].fallback[0].route: unknown route 'ffmpg'; did you mean 'ffmpeg'?"),
        ('steps = [{ route = "rife", params = 3 }]', "folders[1].rules[0].steps[0].params: expected a table, got 3."),
        ('action = "fix"', "folders[1].rules[0].steps: a rule with action 'fix' needs at least one step."),
        ('action = "report"\nsteps = ["rife"]', "folders[1].rules[0].steps: a rule with action 'report' writes no video"),
        ('action = "delete"', "folders[1].rules[0].action: expected one of 'fix', 'review', 'report', 'attention', got 'delete'."),
        ('action = "report"\nwhen = { verdict = "flicker" }', "folders[1].rules[0].when.verdict: unknown verdict 'flicker'"),
        ('action = "report"\nwhen = { verdict = ["clean", 3] }', "folders[1].rules[0].when.verdict[1]: unknown verdict 3"),
        ('action = "report"\nwhen = { min_scores = { luma_flicker = "high" } }', "folders[1].rules[0].when.min_scores.luma_flicker: expected a number, got 'high'."),
        ('action = "report"\nwhen = { min_confidence = 2 }', "folders[1].rules[0].when.min_confidence: must be at most 1.0, got 2.0."),
        ('action = "report"\nwhen = { min_pixels = 10, max_pixels = 5 }', "folders[1].rules[0].when.min_pixels: is larger than max_pixels (5), so the rule can never match."),
        ('action = "report"\nwhen = { sidecar = "no" }', "folders[1].rules[0].when.sidecar: expected true or false, got 'no'."),
    ],
)
def test_rule_errors_name_the_full_key_path(rules, expected):
    message = error_of(FOLDERS + "[[folders.rules]]\nname = \"r\"\n" + rules + "\n")
    assert expected in message


def test_rule_names_unique_and_empty_rules_refused():
    message = error_of('[[rules]]\nname = "a"\naction = "report"\n[[rules]]\nname = "a"\naction = "report"\n')
    assert "rules[1].name: 'a' is already the name of rules[0]" in message
    assert "rules: is empty; remove it to use the default rules." in error_of("rules = []\n")


def test_unknown_route_in_route_params():
    assert "routes.rif: unknown route; did you mean 'rife'?" in error_of("[routes.rif]\nmode = 'smooth'\n")


@pytest.mark.parametrize(
    "folders, expected",
    [
        ('path = "/srv/a"\noutput = "/srv/a"', "folders[0].output: /srv/a is the input folder of folders[0]"),
        ('path = "/srv/a"\nrecursive = true\noutput = "/srv/a/fixed"',
         "folders[0].output: /srv/a/fixed is inside folders[0].path, which is watched recursively"),
        ('path = "/srv/a"\n[[folders]]\npath = "/srv/a/"', "folders[1].path: /srv/a is already watched by folders[0]."),
        ('path = "/srv/a"\n[[folders]]\npath = "/srv/b"\noutput = "/srv/a"', "folders[1].output: /srv/a is the input folder of folders[0]"),
        ('path = "/srv/a"\nrecursive = true\n[[folders]]\npath = "/srv/a/sub"',
         "folders[1].path: /srv/a/sub is inside folders[0].path, which is watched recursively."),
        ('path = "/srv/x/renders"\n[[folders]]\npath = "/srv/y/renders"',
         "folders[1].name: 'renders' is already the name of folders[0]; folder names must be unique."),
        ('path = "/srv/a"\noutput = "/srv/out"\n[[folders]]\npath = "/srv/b"\noutput = "/srv/out"',
         "folders[1].output: /srv/out is also the output of folders[0]"),
        ('path = "/srv/a"\non_success = "move"\narchive = "/srv/a"', "folders[0].archive: /srv/a is the input folder of folders[0]"),
        ('path = "/srv/a"\non_success = "move"\narchive = "/srv/a.fixed"', "folders[0].archive: /srv/a.fixed is the output folder"),
    ],
)
def test_folder_sanity(folders, expected):
    assert expected in error_of("[[folders]]\n" + folders + "\n")


def test_output_inside_a_non_recursive_input_is_allowed():
    cfg = config.loads('[[folders]]\npath = "/srv/a"\noutput = "/srv/a/fixed"\n')
    assert str(cfg.folders[0].output) == "/srv/a/fixed"


def test_symlinked_output_that_is_the_input_is_caught(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "in")
    message = error_of('[[folders]]\npath = "in"\noutput = "link"\n', base_dir=tmp_path)
    assert "folders[0].output: " in message and "is the input folder of folders[0]" in message


def test_all_errors_are_reported_at_once():
    message = error_of('[daemon]\ncpu_workers = "x"\nlog_level = "loud"\n[[folders]]\npath = "a"\nbogus = 1\n')
    assert message.startswith("test.toml: 3 errors:\n")
    for part in ("daemon.cpu_workers", "daemon.log_level", "folders[0].bogus"):
        assert part in message


def test_odd_keys_are_quoted_in_paths():
    assert 'daemon."odd key": unknown key' in error_of('[daemon]\n"odd key" = 1\n')


def test_single_brackets_for_an_array_of_tables():
    message = error_of('[folders]\npath = "a"\n')
    assert "folders: expected an array of tables, got a table; write [[folders]] (double brackets)" in message


def test_folder_sanity_is_reported_alongside_other_errors():
    message = error_of('[daemon]\ncpu_workers = "two"\n[[folders]]\npath = "/srv/in"\noutput = "/srv/in"\n')
    assert "daemon.cpu_workers: expected an integer" in message
    assert "folders[0].output: /srv/in is the input folder of folders[0]" in message


def test_score_names_are_checked_when_the_diagnosis_declares_them(monkeypatch):
    from flickerd.config_rules import known_scores
    from flickerd.diagnose import model

    if known_scores() is None:  # until the diagnosis declares SCORE_NAMES, declare some here
        monkeypatch.setattr(model, "SCORE_NAMES", ("luma_flicker", "chroma_flicker", "warp_error"), raising=False)
    real = sorted(known_scores())[0]
    typo = real[:-2] + real[-1] + real[-2]
    message = error_of(f'[[rules]]\nwhen = {{ min_scores = {{ {typo} = 0.5 }} }}\naction = "report"\n')
    assert f"rules[0].when.min_scores.{typo}: unknown score" in message
    config.loads(f'[[rules]]\nwhen = {{ max_scores = {{ {real} = 0.5 }} }}\naction = "report"\n')


@pytest.mark.parametrize(
    "route, typo, meant",
    [("ffmpeg", "deflikcer", "deflicker"), ("normalize", "strenght", "strength"), ("detail", "radus", "radius"),
     ("rife", "mdoe", "mode")],
)
def test_a_route_parameter_typo_gets_a_did_you_mean(route, typo, meant):
    """Every route's parameters, ``detail`` included (it was not checked at load time at all)."""
    message = error_of(f'[[rules]]\nname = "r"\nsteps = [{{ route = "{route}", params = {{ {typo} = 1 }} }}]\n')
    assert f"rules[0].steps[0].params.{typo}: unknown parameter of the {route} route; did you mean '{meant}'?" \
        in message
    assert "Known: " in message

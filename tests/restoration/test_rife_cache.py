"""RIFE weights are loaded once per process and placement, and shared safely between threads."""

from __future__ import annotations

import shutil
import threading

import pytest

torch = pytest.importorskip("torch")

from flickerd.routes.rife import weights  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_cache():
    weights.clear_cache()
    yield
    weights.clear_cache()


def test_same_file_and_placement_share_one_network(monkeypatch):
    loads = []
    real = weights.load_network

    def counting(*a, **kw):
        loads.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(weights, "load_network", counting)
    results = []
    threads = [threading.Thread(target=lambda: results.append(weights.cached_network())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1
    assert all(net is results[0][0] for net, _ in results)
    assert results[0][1].sha256 == weights.SHA256
    other, _ = weights.cached_network(memory_format=torch.channels_last)
    assert other is not results[0][0] and len(loads) == 2
    conv = next(p for p in other.parameters() if p.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)


def test_a_replaced_file_is_loaded_again(tmp_path):
    path, _ = weights.locate()
    copy = tmp_path / "flownet.pkl"
    shutil.copy(path, copy)
    first, info = weights.cached_network(str(copy))
    assert info.source == "configured"
    assert weights.cached_network(str(copy))[0] is first
    copy.write_bytes(b"not a checkpoint")
    with pytest.raises(weights.ModelError):
        weights.cached_network(str(copy))

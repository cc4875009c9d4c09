"""Frame pairs kept on disk for a later pass: read back as written, bounded, and cleaned up."""

from __future__ import annotations

import numpy as np

from flickerd.media.spill import PairSpill


def _pair(i: int, shape=(6, 10, 3)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(i)
    return rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 256, (shape[0] + 1, shape[1], 3), dtype=np.uint8)


def test_pairs_come_back_in_order_and_equal(tmp_path):
    path = tmp_path / ".frames.tmp"
    with PairSpill(str(path)) as spill:
        for i in range(5):
            spill.add(*_pair(i))
        assert spill.usable and spill.count == 5
        back = list(spill.pairs())
        assert len(back) == 5
        for i, (a, b) in enumerate(back):
            x, y = _pair(i)
            assert np.array_equal(a, x) and np.array_equal(b, y)
        assert path.exists()
    assert not path.exists()


def test_past_the_byte_limit_it_gives_up_and_deletes_its_file(tmp_path):
    path = tmp_path / ".frames.tmp"
    x, y = _pair(0)
    spill = PairSpill(str(path), max_bytes=3 * (x.nbytes + y.nbytes))
    for i in range(3):
        spill.add(*_pair(i))
    assert spill.usable and path.exists()
    spill.add(*_pair(3))
    assert not spill.usable and not path.exists()
    spill.add(*_pair(4))  # ignored from now on
    assert not spill.usable and not path.exists()


def test_a_pair_of_another_size_abandons_it(tmp_path):
    spill = PairSpill(str(tmp_path / ".frames.tmp"))
    spill.add(*_pair(0))
    spill.add(*_pair(1, shape=(8, 10, 3)))
    assert not spill.usable
    spill.close()


def test_an_unwritable_place_costs_the_shortcut_not_the_job(tmp_path):
    spill = PairSpill(str(tmp_path / "missing" / ".frames.tmp"))
    spill.add(*_pair(0))  # no exception
    assert not spill.usable


def test_a_nearly_full_disk_is_left_alone(tmp_path, monkeypatch):
    from flickerd.media import spill as module

    monkeypatch.setattr(module, "_free_bytes", lambda folder: module.FREE_MARGIN_BYTES)
    spill = PairSpill(str(tmp_path / ".frames.tmp"), max_bytes=10_000)
    spill.add(*_pair(0))
    assert not spill.usable and not (tmp_path / ".frames.tmp").exists()

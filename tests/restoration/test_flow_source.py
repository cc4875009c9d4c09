"""Flow sources: computed ahead on a thread or on the spot, the same flows either way."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from flickerd.flow import flow
from flickerd.flow_source import AheadFlows, DirectFlows


def _pair():
    rng = np.random.default_rng(0)
    a = (rng.random((40, 56)) * 255).astype(np.uint8)
    return a, np.roll(a, 2, axis=1)


@pytest.mark.parametrize("make", [AheadFlows, DirectFlows])
def test_flows_match_the_plain_call(make):
    a, b = _pair()
    with make() as flows:
        flows.request("ab", a, b, "fast")
        flows.request("ba", b, a, "fast")
        assert np.array_equal(flows.get("ab"), flow(a, b, "fast"))
        assert np.array_equal(flows.get("ba"), flow(b, a, "fast"))
        flows.forget(lambda key: key == "ba")
        with pytest.raises(KeyError):
            flows.get("ab")
        assert np.array_equal(flows.get("ba"), flow(b, a, "fast"))


def test_a_failing_stage_leaves_no_thread():
    a, b = _pair()
    before = threading.active_count()
    with pytest.raises(RuntimeError):
        with AheadFlows() as flows:
            for k in range(20):
                flows.request(k, a, b, "medium")
            raise RuntimeError("the stage failed part-way")
    assert threading.active_count() == before

"""Frames under 32 px on a side: OpenCV's DIS flow killed the process (SIGSEGV) on them, so a banner-shaped
file in a hot folder could take a worker down. Each case runs in a child process, which a crash cannot take
the test run with."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest


FLOWS = """
import numpy as np
from flickerd.flow import flow, flow_from
rng = np.random.default_rng(0)
for h, w in ((24, 200), (12, 100), (8, 100), (28, 300), (200, 24), (4, 4)):
    a = (rng.random((h, w)) * 255).astype(np.uint8)
    b = np.roll(a, 2, 1)
    for f in (flow(a, b), flow(a, b, "medium", shift=(2.0, 0.0))):
        assert f.shape == (h, w, 2), f.shape
        f = flow_from(a, b, f, "medium")
        assert f.shape == (h, w, 2) and np.isfinite(f).all()
print("flows ok")
"""


def _run(args, **kw):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, **kw)


def test_flow_on_frames_under_32_px_returns_a_flow_of_their_size():
    r = _run(["-c", FLOWS])
    assert r.returncode == 0 and "flows ok" in r.stdout, (r.returncode, r.stderr[-2000:])


def test_flow_from_refuses_a_start_of_another_size():
    from flickerd.flow import flow_from

    a = np.zeros((40, 40), np.uint8)
    with pytest.raises(ValueError):
        flow_from(a, a, np.zeros((20, 20, 2), np.float32))


def test_a_banner_shaped_clip_is_diagnosed_not_a_crash(tmp_path):
    clip = tmp_path / "banner.mp4"
    rng = np.random.default_rng(1)
    base = (rng.random((48, 480, 3)) * 255).astype(np.uint8)
    with av.open(str(clip), "w") as out:
        s = out.add_stream("libx264", rate=Fraction(24))
        s.width, s.height, s.pix_fmt = 480, 48, "yuv420p"
        for t in range(12):
            frame = av.VideoFrame.from_ndarray(np.roll(base, 3 * t, 1), format="rgb24")
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    r = _run(["-m", "flickerd", "diagnose", str(clip), "--json"])
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert json.loads(r.stdout)["verdict"]

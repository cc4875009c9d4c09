"""Regeneration's own acceptance: flicker must fall, structure must hold at low resolution."""

from __future__ import annotations

import numpy as np
import pytest

from flickerd.errors import ConfigError
from flickerd.media.probe import probe
from flickerd.media.writer import VideoWriter
from flickerd.routes.regenerate.acceptance import RegenAcceptance, RegenScores, flicker_score, judge, measure, ssim

from tests.regenerate.conftest import make_render


def ramp(n: int, flicker: float = 0.0, shift: int = 0) -> list[np.ndarray]:
    """A panning gradient; ``flicker`` alternates the brightness of every other frame."""
    x = np.arange(48, dtype=np.float32)
    frames = []
    for t in range(n):
        row = (x + 2 * t + shift) * 4 % 256
        frame = np.tile(row, (32, 1)) + (flicker if t % 2 else -flicker)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def test_flicker_score_separates_flicker_from_steady_motion():
    steady = flicker_score(ramp(10))
    flickering = flicker_score(ramp(10, flicker=12))
    assert flickering > 10 * max(steady, 0.5)
    assert flicker_score(ramp(2, flicker=50)) == 0.0  # needs three frames


def test_ssim_is_one_for_identical_and_low_for_unrelated():
    a = ramp(1)[0]
    assert ssim(a, a) == pytest.approx(1.0)
    noise = np.random.default_rng(0).integers(0, 256, a.shape).astype(np.uint8)
    assert ssim(a, noise) < 0.3


def test_judge_requires_less_flicker_and_the_same_shot():
    ok = judge(RegenScores(8.0, 2.0, 0.8, 20))
    assert ok.accepted and ok.reasons == ()
    worse = judge(RegenScores(8.0, 7.0, 0.8, 20))
    assert not worse.accepted and "flicker went from 8.00 to 7.00" in worse.reasons[0]
    moved = judge(RegenScores(8.0, 1.0, 0.2, 20))
    assert not moved.accepted and "no longer matches the shot" in moved.reasons[0]
    clean = judge(RegenScores(0.1, 0.3, 0.9, 20))  # nothing to reduce: only must not add flicker
    assert clean.accepted


def test_thresholds_come_from_config_with_key_paths():
    acc = RegenAcceptance.from_mapping({"min_flicker_reduction": 0.5, "structure_side": 24}, "acceptance.regenerate")
    assert acc.min_flicker_reduction == 0.5 and acc.structure_side == 24
    with pytest.raises(ConfigError, match="acceptance.regenerate.min_structure: expected a number from 0 to 1"):
        RegenAcceptance.from_mapping({"min_structure": 2}, "acceptance.regenerate")
    with pytest.raises(ConfigError, match="acceptance.regenerate.bogus: unknown key"):
        RegenAcceptance.from_mapping({"bogus": 1}, "acceptance.regenerate")
    with pytest.raises(ConfigError, match="structure_side: expected an integer"):
        RegenAcceptance.from_mapping({"structure_side": "big"}, "acceptance.regenerate")


def test_measure_streams_two_real_files(tmp_path):
    src = make_render(str(tmp_path / "src.mp4"), width=48, height=32, frames=12, audio=False)
    info = probe(src)
    flickery = str(tmp_path / "flicker.mp4")
    steady = str(tmp_path / "steady.mp4")
    for path, amount in ((flickery, 25), (steady, 0)):
        with VideoWriter(path, info) as w:
            for frame in ramp(12, flicker=amount):
                w.write(np.repeat(frame[:, :, None], 3, axis=2))
    fixed = measure(flickery, steady)
    assert fixed.frames == 12 and fixed.flicker_before > 5 * max(fixed.flicker_after, 0.5)
    assert fixed.structure > 0.5
    assert judge(fixed).accepted
    assert not judge(measure(steady, flickery)).accepted

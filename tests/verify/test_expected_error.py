"""``expected_error_change``: a fix whose change is mostly one more encode is refused, one that
undoes more flicker than the encode adds is published. The truth (the clean frames) says which
output is really closer, so the test fails if the measure's sign or the threshold is wrong."""

import cv2
import numpy as np
import pytest

from flickerd.errors import ConfigError
from flickerd.verify import FITTED_MAX_EXPECTED_ERROR_CHANGE, Acceptance, check
from . import clips

cv2.setNumThreads(1)
N = 16


def _psnr(frames, truth):
    mse = np.mean([np.mean((a - b) ** 2) for a, b in zip(frames, truth)])
    return 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return tmp_path_factory.mktemp("expected"), clips.moving_frames(N, speed=2.0)


@pytest.mark.parametrize(("amplitude", "crf", "accept"), [(1.5, 20, False), (10.0, 16, True)])
def test_a_fix_is_published_only_if_it_undoes_more_flicker_than_its_encode_adds(clean, amplitude, crf, accept):
    d, frames = clean
    src = clips.write(str(d / f"src{amplitude}.mp4"), clips.luma_flicker(frames, amplitude))
    # the flicker removed exactly, but written by a coarser encoder: its noise is the fix's cost
    fixed = clips.write(str(d / f"fixed{amplitude}.mp4"), frames, crf=crf)
    truly_better = _psnr(clips.read(fixed), frames) > _psnr(clips.read(src), frames)
    assert truly_better == accept  # the synthetic case is what it claims to be
    on = Acceptance(max_expected_error_change=FITTED_MAX_EXPECTED_ERROR_CHANGE)  # opt-in
    v = check(src, fixed, None, None, on, rediagnose=None)
    m = v.metrics
    assert (m["expected_error_change"] <= FITTED_MAX_EXPECTED_ERROR_CHANGE) == accept, m
    assert v.accepted == accept, v.reasons
    if not accept:  # refused for this reason alone: without the threshold it would pass
        assert all("expected to end further" in r for r in v.reasons), v.reasons
        off = check(src, fixed, None, None, Acceptance(max_expected_error_change=1e6), rediagnose=None)
        assert off.accepted, off.reasons


def test_opting_in_from_a_config_keeps_deband_unjudged_on_it():
    """``[acceptance] max_expected_error_change`` reaches a chain's thresholds; the built-in ``ffmpeg``
    override keeps deband (no flicker removed) off it, and a chain with ffmpeg takes the strictest."""
    a = Acceptance.from_mapping({"max_expected_error_change": 0.25})
    assert a.for_chain(["normalize"]).max_expected_error_change == 0.25
    assert a.for_chain(["ffmpeg"]).max_expected_error_change >= 1e6
    assert a.for_chain(["normalize", "ffmpeg"]).max_expected_error_change == 0.25
    with pytest.raises(ConfigError, match="max_expected_error_change"):
        Acceptance.from_mapping({"max_expected_error_change": "low"})

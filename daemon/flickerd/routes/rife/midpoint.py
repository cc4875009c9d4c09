"""Midpoint estimators: given frame pairs (a, b), the frame halfway between them.

One protocol, two implementations: ``RifeMidpoint`` runs our HDv3 network (CPU or CUDA,
fp32 or fp16, padding the frames to the multiple the network needs), and
``flickerd.routes.rife.dis_fallback.DisMidpoint`` uses OpenCV DIS flow when no weights
exist. Both take and return CPU float32 tensors N×3×H×W in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from flickerd.routes.rife.network import IFNet, pad_multiple


@dataclass(frozen=True, slots=True)
class Middle:
    """Middle frames of a batch of pairs, with how far the motion estimate is from linear.

    ``image``: N×3×H×W in [0, 1]. ``inconsistency``: N×1×H×W, the length in pixels of
    flow(mid→a) + flow(mid→b), which is zero when both neighbours agree on one straight path.
    ``motion``: N×1×H×W, the mean length of the two flows (pixels).
    """

    image: torch.Tensor
    inconsistency: torch.Tensor
    motion: torch.Tensor


class Midpointer(Protocol):
    backend: str

    def middle(self, a: torch.Tensor, b: torch.Tensor) -> Middle: ...


def auto_scale(width: int, height: int) -> float:
    """RIFE's internal scale: 1.0 up to 2K, 0.5 above (its flow search range is fixed in pixels)."""
    return 1.0 if max(width, height) <= 2048 else 0.5


def pick_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


class RifeMidpoint:
    """The HDv3 network as a ``Midpointer``."""

    def __init__(self, net: IFNet, *, device: torch.device, fp16: bool, scale: float, channels_last: bool = True) -> None:
        self.device = device
        self.dtype = torch.float16 if fp16 else torch.float32
        self.scale = scale
        self.multiple = pad_multiple(scale)
        # channels_last lets oneDNN pick faster convolution kernels on CPU (~15% here); it sums
        # in another order, so results differ from the reference by ~1e-5 instead of 0.
        cpu_fast = channels_last and device.type == "cpu"
        self.memory_format = torch.channels_last if cpu_fast else torch.contiguous_format
        self.net = net.to(device=device, dtype=self.dtype, memory_format=self.memory_format)
        precision = "fp16" if fp16 else "fp32"
        self.backend = f"rife-hdv3 (torch {torch.__version__.split('+')[0]} {device.type}, {precision}, scale {scale:g})"

    def middle(self, a: torch.Tensor, b: torch.Tensor) -> Middle:
        h, w = a.shape[-2:]
        ph = (-h) % self.multiple
        pw = (-w) % self.multiple

        def prepare(x: torch.Tensor) -> torch.Tensor:
            x = x.to(self.device, self.dtype)
            if ph or pw:  # replicate, not zeros: a black border would pull flow at the edges
                x = F.pad(x, (0, pw, 0, ph), mode="replicate")
            return x.contiguous(memory_format=self.memory_format)

        with torch.inference_mode():
            out = self.net(prepare(a), prepare(b), self.scale)
            flow = out.flow[..., :h, :w].float()
            to_a, to_b = flow[:, 0:2], flow[:, 2:4]
            return Middle(
                image=out.image[..., :h, :w].float().clamp_(0, 1).cpu().contiguous(),
                inconsistency=torch.linalg.vector_norm(to_a + to_b, dim=1, keepdim=True).cpu(),
                motion=(0.5 * (torch.linalg.vector_norm(to_a, dim=1, keepdim=True) + torch.linalg.vector_norm(to_b, dim=1, keepdim=True))).cpu(),
            )

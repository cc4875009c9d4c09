"""The midpoint without RIFE weights: OpenCV DIS flow both ways, each frame warped halfway.

Cruder than the network (no learnt fusion mask; flow taken at the target pixel instead of
the source), but it needs no files and lets the route run everywhere. The route says in its
backend string and notes when this ran instead of the network.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from flickerd import flow as dis
from flickerd.routes.rife.midpoint import Middle

PRESET = "fast"


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor((rgb * 255.0 + 0.5).astype(np.uint8), cv2.COLOR_RGB2GRAY)


class DisMidpoint:
    """A ``Midpointer`` built on ``flickerd.flow`` (DIS, CPU)."""

    def __init__(self, preset: str = PRESET) -> None:
        self.preset = preset
        self.backend = f"dis-flow fallback (opencv {cv2.__version__}, {preset})"

    def _one(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ga, gb = _gray(a), _gray(b)
        f_ab = dis.flow(ga, gb, self.preset)
        f_ba = dis.flow(gb, ga, self.preset)
        # Content at the middle pixel x came from a at about x - f_ab/2 and from b at x - f_ba/2.
        wa = dis.warp(a, -0.5 * f_ab)
        wb = dis.warp(b, -0.5 * f_ba)
        mid = 0.5 * (wa + wb)
        round_trip = f_ab + dis.warp(f_ba, f_ab)
        inconsistency = 0.5 * np.sqrt((round_trip**2).sum(-1))
        motion = 0.25 * (np.sqrt((f_ab**2).sum(-1)) + np.sqrt((f_ba**2).sum(-1)))
        return mid, inconsistency, motion

    def middle(self, a: torch.Tensor, b: torch.Tensor) -> Middle:
        images, incons, motions = [], [], []
        for x, y in zip(a, b):
            mid, inc, mot = self._one(
                np.ascontiguousarray(x.permute(1, 2, 0).numpy(), dtype=np.float32),
                np.ascontiguousarray(y.permute(1, 2, 0).numpy(), dtype=np.float32),
            )
            images.append(torch.from_numpy(mid).permute(2, 0, 1))
            incons.append(torch.from_numpy(inc.astype(np.float32))[None])
            motions.append(torch.from_numpy(mot.astype(np.float32))[None])
        return Middle(
            image=torch.stack(images).clamp_(0, 1).contiguous(),
            inconsistency=torch.stack(incons),
            motion=torch.stack(motions),
        )


"""A fake midpoint estimator for the streaming loops: the plain average of each pair."""

import torch

from flickerd.routes.rife.midpoint import Middle


class AverageMidpoint:
    """Satisfies ``Midpointer``; records the batch size of every call."""

    backend = "average"

    def __init__(self) -> None:
        self.batches: list[int] = []

    def middle(self, a: torch.Tensor, b: torch.Tensor) -> Middle:
        self.batches.append(a.shape[0])
        zeros = torch.zeros((a.shape[0], 1, *a.shape[2:]))
        return Middle(image=(a + b) / 2, inconsistency=zeros, motion=zeros)

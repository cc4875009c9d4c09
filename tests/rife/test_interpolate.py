"""Frame-rate multiplication order and timing, with a fake midpoint (the plain average)."""

import pytest
import torch

from flickerd.routes.rife.interpolate import interpolate
from tests.rife.fakes import AverageMidpoint


def _frames(n):
    return [torch.full((3, 4, 4), float(i)) for i in range(n)]


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_double_keeps_sources_at_even_positions_and_holds_the_last(batch):
    fake = AverageMidpoint()
    out = [f[0, 0, 0].item() for f in interpolate(iter(_frames(4)), fake, factor=2, batch=batch)]
    assert out == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3]
    assert sum(fake.batches) == 3 and max(fake.batches) <= batch


def test_quadruple_recurses_on_the_halves():
    out = [f[0, 0, 0].item() for f in interpolate(iter(_frames(3)), AverageMidpoint(), factor=4, batch=2)]
    assert out == [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2, 2, 2]


def test_single_frame_and_empty_input():
    assert len(list(interpolate(iter(_frames(1)), AverageMidpoint(), factor=2))) == 2
    assert list(interpolate(iter([]), AverageMidpoint(), factor=2)) == []
    with pytest.raises(ValueError):
        list(interpolate(iter(_frames(2)), AverageMidpoint(), factor=3))

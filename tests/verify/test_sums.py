"""Verification's sums come out the same wherever numpy happened to place the image."""

import cv2
import numpy as np

from flickerd.quality import sums

# 120×200 and 90×160: sizes at which cv2.sumElems (IPP) gave two values over these alignments
SHAPES = [(120, 200), (90, 160), (160, 224), (270, 480)]


def _at(x: np.ndarray, offset: int) -> np.ndarray:
    """A copy of ``x`` starting ``offset`` bytes past a 64-byte boundary."""
    buf = np.empty(x.nbytes + 128, np.uint8)
    start = (-buf.ctypes.data) % 64 + offset
    y = buf[start:start + x.nbytes].view(x.dtype).reshape(x.shape)
    y[...] = x
    return y


def test_a_sum_does_not_depend_on_the_arrays_alignment():
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        x = (rng.standard_normal(shape) ** 2).astype(np.float32)
        z = (rng.standard_normal(shape) ** 2).astype(np.float32)
        offsets = range(0, 64, 4)
        assert len({sums.total(_at(x, o)) for o in offsets}) == 1, shape
        assert len({sums.dot(_at(x, o), _at(z, (3 * o) % 64)) for o in offsets}) == 1, shape


def test_the_sums_are_the_sums():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert sums.total(x) == 66.0 and sums.total(cv2.merge([x, x])) == 132.0
    assert sums.dot(x, np.ones_like(x)) == 66.0

"""``robust.median`` is ``np.median`` exactly (value, type, NaN handling), without importing ``numpy.ma``."""

import subprocess
import sys

import numpy as np
import pytest

from flickerd.diagnose.robust import integer_median, median


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint8])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10, 1001, 20000])
def test_median_is_numpys(dtype, n):
    a = (np.random.default_rng(n).normal(size=n) * 100).astype(dtype)
    got, expected = median(a), np.median(a)
    assert got == expected and type(got) is type(expected)


def test_median_of_nan_or_nothing_is_nan():
    assert np.isnan(median(np.array([1.0, np.nan, 3.0])))
    assert np.isnan(median(np.array([np.nan], np.float32)))
    assert np.isnan(median([]))
    assert median([3, 1, 2, 10]) == 2.5


def test_a_diagnosis_does_not_import_numpy_ma(make_clip):
    """np.median's NaN check imports numpy.ma (~40 ms of a CLI run); nothing on the diagnose path may."""
    path = make_clip("luma", frames=24)
    code = ("import sys; from flickerd.diagnose import run; run(sys.argv[1]); "
            "sys.exit(1 if 'numpy.ma' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code, str(path)]).returncode == 0


@pytest.mark.parametrize("n", [1, 2, 7, 20_000, 20_001])
def test_integer_median_is_the_median_of_whole_numbers(n):
    rng = np.random.default_rng(n)
    for values in (rng.integers(-255, 256, n).astype(np.float32), rng.integers(0, 3, n), -rng.integers(0, 40, n)):
        assert integer_median(values) == np.median(values)
    assert np.isnan(integer_median(np.array([], np.float32)))

"""``median``: numpy's median of a flat array, without the overhead of ``np.median``.

``np.median`` checks its result for NaN through ``np.ma``, whose first use imports
``numpy.ma`` (≈40 ms, a twentieth of a whole diagnosis), and costs ~0.3 ms per call on top of
the partition. This gives the same value, NaN handling included.
"""

from __future__ import annotations

import numpy as np


def median(values) -> np.floating:
    """The median of all elements, exactly as ``np.median`` computes it (NaN if any is NaN or none is given)."""
    a = np.asarray(values).ravel()
    n = a.size
    if n == 0:
        return np.float64(np.nan)
    half = n // 2
    kth = [half - 1, half] if n % 2 == 0 else [half]
    inexact = np.issubdtype(a.dtype, np.inexact)
    if inexact:
        kth.append(n - 1)  # NaNs sort last
    part = np.partition(a, kth)
    if inexact and np.isnan(part[-1]):
        return part.dtype.type(np.nan)
    return np.mean(part[half - 1:half + 1] if n % 2 == 0 else part[half:half + 1])

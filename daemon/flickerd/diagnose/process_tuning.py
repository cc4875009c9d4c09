"""Process settings for one-shot commands (``flickerd diagnose``, ``flickerd fix``), applied before numpy and OpenCV load.

The decoder's frame threads keep every core busy, so the libraries' own thread pools only
spin and switch: numpy's BLAS has no large products to share out, and OpenCV's workers split
images of a few hundred pixels a side. And the measures allocate the same few MB-sized float
arrays pair after pair: glibc maps each one fresh from the kernel and unmaps it on free, so
every pair paid page faults for memory it had just given back (a third of the texture
measure's time); keeping it in the heap removes that.
"""

from __future__ import annotations

import ctypes
import os

# glibc mallopt parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20  # blocks below this come from the heap (glibc's default starts at 128 kB)
TRIM_THRESHOLD = 256 << 20  # free heap kept for reuse before it is returned to the kernel


def single_threaded_opencv() -> None:
    """OpenCV without its worker pool (``flickerd fix``): a job's decoders, flow thread and
    verification worker already keep the cores busy, and the pool's workers split frames of a few
    hundred pixels a side (measured: same outputs, fewer CPU-seconds). A setting in the
    environment wins."""
    os.environ.setdefault("OPENCV_FOR_THREADS_NUM", "1")


def tune() -> None:
    """Single-threaded BLAS and OpenCV, and heap-kept large blocks; settings already in the environment win."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    single_threaded_opencv()
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    except (OSError, AttributeError):  # not glibc (musl, macOS): the defaults stay
        pass

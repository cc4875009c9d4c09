"""Process settings of the one-shot commands (`flickerd diagnose`, `flickerd fix`): library threads and glibc's heap, the user's environment first."""

import ctypes
import os

import pytest

from flickerd.diagnose import process_tuning

VARS = ("OPENBLAS_NUM_THREADS", "OPENCV_FOR_THREADS_NUM", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


class FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return 1


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """None of the variables set (monkeypatch puts back whatever ``tune`` sets)."""
    for var in VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def libc(monkeypatch):
    fake = FakeLibc()
    monkeypatch.setattr(ctypes, "CDLL", lambda name: fake)
    return fake


def test_single_threaded_libraries_and_a_kept_heap(libc):
    process_tuning.tune()
    assert os.environ["OPENBLAS_NUM_THREADS"] == os.environ["OPENCV_FOR_THREADS_NUM"] == "1"
    assert libc.calls == [(-3, process_tuning.MMAP_THRESHOLD), (-1, process_tuning.TRIM_THRESHOLD)]


def test_the_users_environment_wins(libc, monkeypatch):
    monkeypatch.setenv("OPENCV_FOR_THREADS_NUM", "4")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    process_tuning.tune()
    assert os.environ["OPENCV_FOR_THREADS_NUM"] == "4" and os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert libc.calls == []  # glibc already took its heap settings from the environment


def test_without_glibc_the_defaults_stay(monkeypatch):
    def no_libc(name):
        raise OSError("not found")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    process_tuning.tune()  # no exception; the thread settings still apply
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"


def test_single_threaded_opencv_leaves_the_rest_and_the_users_setting(monkeypatch):
    process_tuning.single_threaded_opencv()
    assert os.environ["OPENCV_FOR_THREADS_NUM"] == "1" and "OPENBLAS_NUM_THREADS" not in os.environ
    monkeypatch.setenv("OPENCV_FOR_THREADS_NUM", "3")
    process_tuning.single_threaded_opencv()
    assert os.environ["OPENCV_FOR_THREADS_NUM"] == "3"


def test_flickerd_fix_runs_opencv_without_its_worker_pool():
    """In a fresh process (OpenCV reads the setting when it loads): after ``flickerd fix`` has
    started (here it stops at an unknown route), OpenCV runs one thread."""
    import subprocess
    import sys

    code = ("from flickerd import cli; rc = cli.main(['fix', 'x.mp4', '--route', 'no-such-route']); "
            "import cv2; print(rc, cv2.getNumThreads())")
    env = {k: v for k, v in os.environ.items() if k not in VARS}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "1"], out.stderr

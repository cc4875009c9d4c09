"""``flickerd diagnose``'s process settings: library threads and glibc's heap, the user's environment first."""

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

"""Shared test setup: one torch/OpenCV thread per test process keeps CI predictable on 2 cores.

Every ``NAME.report.json`` any test produces (in pytest's temp folders, daemons' included) is
validated against the shipped JSON Schema after the test that made it.
"""

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_checked: dict[str, int] = {}  # report path -> mtime_ns when it was found valid


@pytest.fixture(scope="module", autouse=True)
def _module_temp_dirs(tmp_path_factory):
    """The temp folders that existed before this module's fixtures made theirs (autouse runs first)."""
    base = tmp_path_factory.getbasetemp()
    return base, set(os.listdir(base))


@pytest.fixture(autouse=True)
def _reports_follow_the_schema(_module_temp_dirs):
    yield
    from tests.report.schema import check_file, reports_under

    base, before = _module_temp_dirs
    bad = []
    for name in set(os.listdir(base)) - before:
        if (base / name).is_symlink():  # pytest's "...current" links to a folder seen under its own name
            continue
        for path in reports_under(base / name):
            try:
                mtime = path.stat().st_mtime_ns
            except FileNotFoundError:
                continue
            if _checked.get(str(path)) == mtime:
                continue
            found = check_file(path)
            _checked[str(path)] = mtime  # each broken report fails one test, not every later one
            if found:
                bad.append(f"{path}:\n  " + "\n  ".join(found[:8]))
    if bad:
        pytest.fail("reports that break report.schema.json:\n" + "\n".join(bad), pytrace=False)

"""One loopback Ray cluster per session (head with a logical GPU + one CPU node), always stopped."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from flickerd.service.journal import Journal
from flickerd.service.worker import Task

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def ray_cluster():
    ray = pytest.importorskip("ray")
    from tests.scaleout.cluster import Cluster

    cluster = Cluster()
    try:
        cluster.start_head()
        cluster.add_node("node_b")
        ray.init(address=cluster.address, log_to_driver=False, logging_level="warning", configure_logging=False)
        from tests.scaleout import fakes

        ray.cloudpickle.register_pickle_by_value(fakes)  # workers need not import the tests package
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()
        assert cluster.alive_processes() == 0, "a Ray process outlived the test session"


@pytest.fixture
def cluster(ray_cluster):
    """The session's cluster with both nodes alive (a test before may have killed node_b)."""
    ray_cluster.ensure_node("node_a")
    ray_cluster.ensure_node("node_b")
    return ray_cluster


def make_task(tmp: Path, journal: Journal, name: str, *, gpu: bool = False, content: bytes | None = None) -> Task:
    """A real journal row and a Task for ``tmp/in/name`` (the file is created with ``content``)."""
    src_root, out_root = tmp / "in", tmp / "out"
    src_root.mkdir(parents=True, exist_ok=True)
    src = src_root / name
    src.write_bytes(content if content is not None else name.encode() * 100)
    st = src.stat()
    sha = hashlib.sha256(src.read_bytes()).hexdigest()  # a real key: the reports carry it
    job = journal.add(path=str(src), folder="in", sha256=sha, size=st.st_size, mtime=st.st_mtime)
    return Task(job=job, src_root=src_root, out_root=out_root, mode="fix", auto_accept=True, rules=(),
                diagnose_settings=None, acceptance=None, workdir=tmp / "state" / "work" / str(job.id), gpu=gpu)

"""The Ray executor on a real loopback cluster: placement, GPU jobs, receipts, a node dying mid-job."""

from __future__ import annotations

import queue
import time

import pytest

pytest.importorskip("ray")  # an optional extra: pip install flickerd[ray]

from flickerd.scaleout import Attempt
from flickerd.scaleout import receipts
from flickerd.service.journal import Journal, JobState
from flickerd.service.worker import Progress, Result
from tests.scaleout.cluster import wait_for
from tests.scaleout.conftest import make_task
from tests.scaleout.fakes import calls, copy_processor

pytestmark = pytest.mark.slow




def _executor(**kw):
    from flickerd.scaleout.ray_executor import RayExecutor

    return RayExecutor(processor=copy_processor, **kw)


class Events:
    def __init__(self) -> None:
        self.q: queue.Queue = queue.Queue()
        self.seen: list = []

    def until_result(self, job_id: int, timeout: float = 90.0) -> Result:
        done = [e for e in self.seen if isinstance(e, Result) and e.job_id == job_id]
        if done:  # it arrived while we waited for another job
            return done[0]
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self.q.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no result for job {job_id} in {timeout} s; seen: {self.seen}") from None
            self.seen.append(item)
            if isinstance(item, Result) and item.job_id == job_id:
                return item

    def attempts(self, job_id: int) -> list[Attempt]:
        return [e for e in self.seen if isinstance(e, Attempt) and e.job_id == job_id]


def test_cpu_and_gpu_jobs_run_on_the_cluster_and_publish(cluster, tmp_path):
    journal = Journal.in_state_dir(tmp_path / "state")
    events = Events()
    ex = _executor()
    ex.start(events.q.put)
    try:
        cap = ex.capacity(cpu_workers=1, gpu_slots=1)
        assert (cap.jobs, cap.gpus) == (2, 1)
        gpu1, gpu2 = (make_task(tmp_path, journal, f"g{i}.mp4", gpu=True) for i in (1, 2))
        cpu = make_task(tmp_path, journal, "c.mp4")
        for t in (gpu1, cpu):
            ex.submit(t)
        results = {t.job.id: events.until_result(t.job.id) for t in (gpu1, cpu)}
        ex.submit(gpu2)
        results[gpu2.job.id] = events.until_result(gpu2.job.id)
        for t in (gpu1, gpu2, cpu):
            res = results[t.job.id]
            assert res.state is JobState.DONE, res
            src = tmp_path / "in" / t.job.path.rsplit("/", 1)[-1]
            assert (tmp_path / "out" / src.name).read_bytes() == src.read_bytes()
            assert res.output_path == str(tmp_path / "out" / src.name)
            assert len(events.attempts(t.job.id)) == 1
        head = cluster.ensure_node("node_a")
        # GPU jobs land on the only node with a GPU and see it; the CPU job is hidden from GPUs
        for t in (gpu1, gpu2):
            assert events.attempts(t.job.id)[0].node_id == head
            assert calls(t.job.path)[0]["gpu"] is True and calls(t.job.path)[0]["cuda_visible"] == "0"
        assert calls(cpu.job.path)[0]["gpu"] is False and not calls(cpu.job.path)[0]["cuda_visible"]
        # the same GPU worker process serves the next GPU job: its loaded pipeline stays cached
        assert events.attempts(gpu1.job.id)[0].pid == events.attempts(gpu2.job.id)[0].pid
        assert not (tmp_path / "out" / ".flickerd-work" / "receipts" / f"{gpu1.job.id}.json").exists()
    finally:
        ex.shutdown()
        journal.close()


def test_a_receipt_stops_a_second_publish(cluster, tmp_path):
    journal = Journal.in_state_dir(tmp_path / "state")
    task = make_task(tmp_path, journal, "r.mp4")
    earlier = Result(task.job.id, JobState.DONE, "done", route="normalize",
                     output_path=str(tmp_path / "out" / "r.mp4"), seconds=2.0)
    receipts.write(tmp_path / "out" / ".flickerd-work", task.job.id, task.job.sha256, earlier)
    events = Events()
    ex = _executor()
    ex.start(events.q.put)
    try:
        ex.submit(task)
        assert events.until_result(task.job.id) == earlier
        assert calls(task.job.path) == []  # not processed again
        assert not (tmp_path / "out" / "r.mp4").exists()  # and nothing published again
        assert receipts.read(tmp_path / "out" / ".flickerd-work", task.job.id, task.job.sha256) is None
    finally:
        ex.shutdown()
        journal.close()


def test_a_job_whose_node_dies_is_retried_on_another_node_and_published_once(cluster, tmp_path):
    journal = Journal.in_state_dir(tmp_path / "state")
    task = make_task(tmp_path, journal, "k.mp4")
    hold = tmp_path / "in" / "k.mp4.hold"
    hold.touch()
    node_b, head = cluster.ensure_node("node_b"), cluster.ensure_node("node_a")
    events = Events()
    ex = _executor(prefer_resource="node_b")
    ex.start(events.q.put)
    try:
        ex.submit(task)

        def running_on_b():
            try:
                events.seen.append(events.q.get(timeout=0.2))
            except queue.Empty:
                return False
            got = events.attempts(task.job.id)
            return got and any(isinstance(e, Progress) for e in events.seen)

        wait_for(running_on_b, 60, what="the job to run on node_b")
        assert events.attempts(task.job.id)[0].node_id == node_b
        cluster.kill_node("node_b")
        hold.unlink()
        res = events.until_result(task.job.id, timeout=120)
        assert res.state is JobState.DONE, res
        tried = events.attempts(task.job.id)
        assert [a.node_id for a in tried] == [node_b, head]
        assert len(calls(task.job.path)) == 2
        published = sorted(p.name for p in (tmp_path / "out").iterdir())
        assert published == [".flickerd-work", "k.mp4", "k.report.json"]
        assert list((tmp_path / "out" / ".flickerd-work").rglob("*.*")) == []
    finally:
        ex.shutdown()
        journal.close()

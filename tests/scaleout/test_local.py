"""The thread executor and the publish receipts, without Ray."""

from __future__ import annotations

import queue
import subprocess
import sys

import pytest

from flickerd.scaleout import Attempt, make_executor
from flickerd.scaleout import receipts
from flickerd.scaleout.local import ThreadExecutor
from flickerd.service.journal import Journal, JobState
from flickerd.service.worker import Progress, Result
from tests.scaleout.conftest import make_task
from tests.scaleout.fakes import calls, copy_processor


def _collect(events: queue.Queue, job_id: int, timeout: float = 30.0) -> list:
    got = []
    while True:
        item = events.get(timeout=timeout)
        got.append(item)
        if isinstance(item, Result) and item.job_id == job_id:
            return got


def test_local_executor_runs_publishes_and_reports_attempt(tmp_path):
    journal = Journal.in_state_dir(tmp_path / "state")
    task = make_task(tmp_path, journal, "a.mp4")
    events: queue.Queue = queue.Queue()
    ex = ThreadExecutor(processor=copy_processor, node_id="box-1")
    ex.start(events.put)
    ex.submit(task)
    got = _collect(events, task.job.id)
    attempts = [e for e in got if isinstance(e, Attempt)]
    result = got[-1]
    assert [a.node_id for a in attempts] == ["box-1"]
    assert result.state is JobState.DONE and result.outcome == "done"
    assert (tmp_path / "out" / "a.mp4").read_bytes() == (tmp_path / "in" / "a.mp4").read_bytes()
    assert (tmp_path / "out" / "a.report.json").exists()
    assert not task.workdir.exists()
    assert len(calls(tmp_path / "in" / "a.mp4")) == 1
    ex.shutdown()
    journal.close()


def test_local_executor_cancel_stops_a_running_job(tmp_path):
    journal = Journal.in_state_dir(tmp_path / "state")
    task = make_task(tmp_path, journal, "b.mp4")
    (tmp_path / "in" / "b.mp4.hold").touch()
    events: queue.Queue = queue.Queue()
    ex = ThreadExecutor(processor=copy_processor)
    ex.start(events.put)
    ex.submit(task)
    assert isinstance(events.get(timeout=10), Attempt)
    while not isinstance(events.get(timeout=10), Progress):
        pass
    ex.cancel(task.job.id)
    result = _collect(events, task.job.id)[-1]
    assert result.state is JobState.CANCELLED
    assert not (tmp_path / "out" / "b.mp4").exists()
    journal.close()


def test_receipt_round_trip_and_content_check(tmp_path):
    res = Result(7, JobState.DONE, "done", route="normalize", output_path="/o/x.mp4", report_path="/o/x.report.json",
                 flicker_before=0.3, flicker_after=0.1, seconds=1.5)
    receipts.write(tmp_path, 7, "abc", res)
    assert receipts.read(tmp_path, 7, "abc") == res
    assert receipts.read(tmp_path, 7, "other-content") is None
    assert receipts.read(tmp_path, 8, "abc") is None
    receipts.remove(tmp_path, 7)
    assert receipts.read(tmp_path, 7, "abc") is None
    receipts.remove(tmp_path, 7)  # absent: no error


def test_local_executor_never_imports_ray(tmp_path):
    code = ("import sys; from types import SimpleNamespace as N; from flickerd.scaleout import make_executor; "
            "ex = make_executor(N(executor='local')); print(type(ex).__name__, 'ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["ThreadExecutor", "False"]


def test_unknown_executor_is_a_config_error():
    from types import SimpleNamespace

    from flickerd.errors import ConfigError

    with pytest.raises(ConfigError, match="executor"):
        make_executor(SimpleNamespace(executor="spark"))


def test_journal_keeps_every_attempt_and_the_latest_node(tmp_path):
    journal = Journal.in_state_dir(tmp_path / "state")
    task = make_task(tmp_path, journal, "h.mp4")
    assert journal.attempts_of(task.job.id) == []
    assert journal.record_attempt(task.job.id, "node-b", 11, 100.0) == 1
    assert journal.record_attempt(task.job.id, "node-a", 22, 105.0) == 2
    assert [(a["attempt"], a["node_id"], a["pid"]) for a in journal.attempts_of(task.job.id)] == [
        (1, "node-b", 11), (2, "node-a", 22)]
    assert journal.get(task.job.id).node_id == "node-a"
    journal.close()


def test_only_rules_with_a_gpu_route_take_a_gpu_slot():
    from flickerd.routes.base import Step
    from flickerd.rules import DEFAULT_RULES, Match, Rule
    from flickerd.scaleout.executor import wants_gpu

    assert wants_gpu(DEFAULT_RULES)  # rife and regeneration are in the defaults
    assert not wants_gpu([Rule("n", Match(), steps=(Step("normalize"), Step("ffmpeg")))])
    assert wants_gpu([Rule("n", Match(), steps=(Step("normalize"),), fallback=(Step("rife"),))])

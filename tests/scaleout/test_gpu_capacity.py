"""GPU slots follow the executor's capacity while the daemon runs (GPU nodes join a Ray cluster late)."""

from __future__ import annotations

import os
import threading

from flickerd import config as cfgmod
from flickerd.scaleout.executor import Capacity
from flickerd.scaleout.local import ThreadExecutor
from flickerd.service.daemon import Daemon
from tests.scaleout.fakes import calls, copy_processor
from tests.service.helpers import make_clip, rows, wait_for, write_config

GPU_RULES = """
[[rules]]
name = "regen"
action = "review"
steps = [{ route = "regenerate" }]
"""


class Cluster(ThreadExecutor):
    """The thread executor with a GPU count the test changes, as Ray's cluster_resources would."""

    def __init__(self) -> None:
        super().__init__(copy_processor)
        self.gpus = 0

    def capacity(self, cpu_workers: int, gpu_slots: int) -> Capacity:
        return Capacity(max(1, cpu_workers), self.gpus)


def test_a_gpu_that_appears_later_is_used_by_the_next_job(tmp_path):
    cfg_path = write_config(tmp_path, rules=GPU_RULES)
    cfg_path.write_text(cfg_path.read_text().replace("gpu_slots = 0", "gpu_slots = 1"))
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the config's paths are relative to where the daemon runs
    cluster = Cluster()
    daemon = Daemon(cfgmod.load(str(cfg_path)), processor=copy_processor, executor=cluster, install_signals=False)
    loop = threading.Thread(target=daemon.run, daemon=True)
    try:
        loop.start()
        first = make_clip(tmp_path / "in" / "a.mp4", frames=6)
        wait_for(lambda: rows(tmp_path, "state != 'pending' AND state != 'running'"), 60, what="the first job")
        cluster.gpus = 1  # a GPU node joined
        second = make_clip(tmp_path / "in" / "b.mp4", frames=6, seed=1)  # other bytes: not a duplicate
        wait_for(lambda: len(rows(tmp_path, "state != 'pending' AND state != 'running'")) == 2, 60,
                 what="the second job")
    finally:
        daemon.signals.stop.set()
        loop.join(timeout=30)
        os.chdir(cwd)
    assert [c["gpu"] for c in calls(first)] == [False]
    assert [c["gpu"] for c in calls(second)] == [True]

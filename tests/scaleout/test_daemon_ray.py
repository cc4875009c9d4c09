"""``flickerd run`` with ``executor = "ray"`` on a loopback cluster: real routes, a lost node, a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")  # an optional extra: pip install flickerd[ray]

from flickerd.service.journal import Journal, JobState
from tests.scaleout.cluster import wait_for
from tests.scaleout.fakes import calls
from tests.service.helpers import FLICKERD, make_clip

pytestmark = pytest.mark.slow

REGEN = ('{ route = "regenerate", params = { family = "cogvideox-v2v", model = "MODEL", device = "cpu", steps = 2, '
         'width = 32, height = 32, max_sequence_length = 16, overlap = 2, window = 9, prompt = "a test card" } }')






def _config(root: Path, address: str, folders: str) -> Path:
    path = root / "cfg.toml"
    path.write_text(f"""
[daemon]
state_dir = "state"
metrics_address = "127.0.0.1:0"
cpu_workers = 1
gpu_slots = 1
executor = "ray"
ray_address = "{address}"
max_attempts = 1
rescan_interval_s = 600
shutdown_timeout_s = 10
{folders}
""")
    return path


def _folder(name: str, rules: str, extra: str = "") -> str:
    return f"""
[[folders]]
name = "{name}"
path = "{name}"
settle_s = 0.3
auto_accept = true
{extra}
{rules}
"""


@pytest.fixture(scope="module")
def tiny_cogvideox(tmp_path_factory) -> str:
    from tests.regenerate.conftest import build_cogvideox

    folder = tmp_path_factory.mktemp("models") / "cogvideox"
    build_cogvideox().save_pretrained(str(folder))
    return str(folder)


def test_flickerd_run_on_ray_sends_regeneration_to_the_gpu_node_and_cpu_routes_anywhere(
        cluster, tiny_cogvideox, tmp_path):
    from tests.regenerate.conftest import make_render

    regen_rules = f'[[folders.rules]]\nname = "regen"\naction = "review"\nsteps = [{REGEN.replace("MODEL", tiny_cogvideox)}]'
    cpu_rules = '[[folders.rules]]\nname = "norm"\naction = "review"\nsteps = ["normalize"]'
    cfg = _config(tmp_path, cluster.address,
                  _folder("gpu", regen_rules, "priority = 10") + _folder("cpu", cpu_rules))
    (tmp_path / "gpu").mkdir()
    make_render(str(tmp_path / "gpu" / "g.mp4"), audio=False, frames=9)
    make_clip(tmp_path / "cpu" / "c.mp4", frames=10, flicker=12)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([*FLICKERD, "run", "--once", "-c", str(cfg)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    journal = Journal.in_state_dir(tmp_path / "state", readonly=True)
    jobs = {Path(j.path).name: j for j in journal.recent(10)}
    head = cluster.ensure_node("node_a")
    g, c = jobs["g.mp4"], jobs["c.mp4"]
    for job, route in ((g, "regenerate"), (c, "normalize")):
        # the fix ran and was verified; whether tiny random weights pass verification is not the point here
        ended = (JobState.DONE, JobState.REVIEW, JobState.REJECTED)
        assert job.route == route and job.state in ended, (job, proc.stdout[-2000:])
        assert job.report_path and Path(job.report_path).is_file()
    # the regeneration job needed the only (logical) GPU: it ran on the head node
    assert [a["node_id"] for a in journal.attempts_of(g.id)] == [head]
    assert len(journal.attempts_of(c.id)) == 1 and g.node_id == head
    journal.close()


DAEMON_SCRIPT = """
import sys
from flickerd import config as cfgmod
from flickerd.scaleout.ray_executor import RayExecutor
from flickerd.service.daemon import Daemon
from tests.scaleout import fakes
from tests.scaleout.fakes import copy_processor
import ray.cloudpickle
ray.cloudpickle.register_pickle_by_value(fakes)  # Ray's workers cannot import the tests package

cfg = cfgmod.load(sys.argv[1])
ex = RayExecutor(cfg.ray_address, copy_processor, prefer_resource=sys.argv[2] or None)
raise SystemExit(Daemon(cfg, processor=copy_processor, executor=ex, once=sys.argv[3] == "once").run())
"""


def _daemon(cfg: Path, prefer: str, once: bool) -> subprocess.Popen:
    """The real daemon loop with the copying fake processor (so a test can hold a job mid-way); logs to daemon.log."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    with open(cfg.parent / "daemon.log", "a") as log:
        return subprocess.Popen([sys.executable, "-c", DAEMON_SCRIPT, str(cfg), prefer, "once" if once else "run"],
                                cwd=cfg.parent, env=env, stdout=log, stderr=subprocess.STDOUT)


def _attempts(root: Path, name: str) -> list[dict]:
    if not (root / "state" / "journal.sqlite3").exists():
        return []
    journal = Journal.in_state_dir(root / "state", readonly=True)
    try:
        job = next((j for j in journal.recent(10) if Path(j.path).name == name), None)
        return journal.attempts_of(job.id) if job else []
    finally:
        journal.close()


def test_lost_node_and_restarted_daemon_still_publish_each_job_once(cluster, tmp_path):
    node_b, head = cluster.ensure_node("node_b"), cluster.ensure_node("node_a")
    cfg = _config(tmp_path, cluster.address, _folder("in", '[[folders.rules]]\nname = "all"\nsteps = ["normalize"]'))
    src = make_clip(tmp_path / "in" / "k.mp4")
    hold = Path(f"{src}.hold")
    hold.touch()
    # 1. the job starts on node_b; node_b dies mid-way; Ray re-runs it on the head node
    daemon = _daemon(cfg, "node_b", once=False)
    try:
        wait_for(lambda: _attempts(tmp_path, "k.mp4") or daemon.poll() is not None, 90, what="the first attempt")
        assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
        assert _attempts(tmp_path, "k.mp4")[0]["node_id"] == node_b
        wait_for(lambda: len(calls(src)) == 1, 30, what="the fake fix to run")
        cluster.kill_node("node_b")
        wait_for(lambda: len(_attempts(tmp_path, "k.mp4")) == 2, 90, what="the retry on another node")
        assert [a["node_id"] for a in _attempts(tmp_path, "k.mp4")] == [node_b, head]
        # 2. the daemon dies while the retry still holds: the job stays "running" in the journal
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert not (tmp_path / "in.fixed" / "k.mp4").exists()
    # 3. a new daemon resubmits it from the journal and publishes it, once
    hold.unlink()
    again = _daemon(cfg, "", once=True)
    again.wait(timeout=120)
    out = (tmp_path / "daemon.log").read_text()
    assert again.returncode == 0, out[-3000:]
    journal = Journal.in_state_dir(tmp_path / "state", readonly=True)
    (job,) = journal.recent(10)
    assert job.state is JobState.DONE, (job, out[-3000:])
    tried = journal.attempts_of(job.id)
    assert len(tried) == 3 and tried[0]["node_id"] == node_b and {a["node_id"] for a in tried[1:]} == {head}
    journal.close()
    assert sorted(p.name for p in (tmp_path / "in.fixed").iterdir()) == [".flickerd-work", "k.mp4", "k.report.json"]
    assert (tmp_path / "in.fixed" / "k.mp4").read_bytes() == src.read_bytes()

"""A real Ray cluster on loopback for tests and benches: a head with one logical GPU, extra CPU nodes.

Every process it starts is found again by the session's temp dir or the GCS port and killed
by ``stop()``; ``kill_node`` SIGKILLs one node's raylet and its workers (a node dying mid-job).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

from tests.service.helpers import wait_for  # noqa: F401  (re-exported for the Ray tests)

RAY = str(Path(sys.executable).with_name("ray"))
# the GCS declares a silent node dead after period × threshold (defaults: 3 s × 5, after a 5 s delay)
FAST_HEALTH = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "3",
               "RAY_health_check_initial_delay_ms": "1000", "RAY_health_check_timeout_ms": "1000"}
COMMON = ["--disable-usage-stats", "--include-log-monitor=false"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self) -> None:
        self.temp_dir = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: unix socket paths are limited
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, **FAST_HEALTH, "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}

    def _ray_start(self, args: list[str]) -> None:
        proc = subprocess.run([RAY, "start", *args, *COMMON], env=self.env, capture_output=True, text=True,
                              timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"ray start failed:\n{proc.stdout}\n{proc.stderr}")

    def start_head(self, *, num_gpus: int = 1, resources: dict | None = None) -> None:
        self._ray_start(["--head", "--node-ip-address", "127.0.0.1", "--port", str(self.port),
                         "--num-gpus", str(num_gpus), "--num-cpus", "1", "--temp-dir", self.temp_dir,
                         "--include-dashboard=false",
                         "--resources", json.dumps(resources or {"node_a": 1}),
                         "--ray-client-server-port", str(_free_port())])

    def add_node(self, resource: str, *, num_cpus: int = 1) -> None:
        self._ray_start(["--address", self.address, "--num-cpus", str(num_cpus),
                         "--resources", json.dumps({resource: 1})])

    def _ours(self) -> list[psutil.Process]:
        found: dict[int, psutil.Process] = {}
        for p in psutil.process_iter(["pid", "cmdline"]):
            line = " ".join(p.info["cmdline"] or [])
            if self.temp_dir in line or f":{self.port}" in line:
                found[p.pid] = p
                try:
                    for child in p.children(recursive=True):
                        found[child.pid] = child
                except psutil.Error:
                    pass
        found.pop(os.getpid(), None)
        return list(found.values())

    def raylet_of(self, resource: str) -> psutil.Process:
        """The raylet started with ``resource`` (its command line lists the node's resources)."""
        for p in self._ours():
            try:
                line = " ".join(p.cmdline())
            except psutil.Error:
                continue
            if "raylet/raylet" in line and resource in line:
                return p
        raise LookupError(f"no raylet with resource {resource}")

    def kill_node(self, resource: str) -> list[int]:
        raylet = self.raylet_of(resource)
        victims = [raylet, *raylet.children(recursive=True)]
        for p in victims:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.Error:
                pass
        return [p.pid for p in victims]

    def stop(self) -> None:
        """Kill every process of this cluster (only ours: other Ray sessions on the box are left alone)."""
        for _ in range(3):
            procs = self._ours()
            if not procs:
                break
            for p in procs:
                try:
                    p.send_signal(signal.SIGKILL)
                except psutil.Error:
                    pass
            psutil.wait_procs(procs, timeout=5)
        subprocess.run(["rm", "-rf", self.temp_dir], check=False)

    def ensure_node(self, resource: str) -> str:
        """A live node with ``resource`` (joined again if a test killed it); returns its node id."""
        import ray

        def alive():
            return next((n["NodeID"] for n in ray.nodes() if n["Alive"] and resource in n["Resources"]), None)

        if alive() is None:
            self.add_node(resource)
            wait_for(lambda: alive() and ray.cluster_resources().get(resource), 60, what=f"{resource} to join")
        return alive()

    def alive_processes(self) -> int:
        return sum(1 for p in self._ours() if p.status() != psutil.STATUS_ZOMBIE)

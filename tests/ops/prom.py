"""A real Prometheus server for tests: loopback only, a free port, a temp data dir, 1 s scrapes.

``PrometheusServer(targets=["127.0.0.1:9478"])`` scrapes any ``/metrics`` address: the in-process
``flickerd.metrics.serve`` in these tests, or a running ``flickerd run`` in an end-to-end test.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest


def require(tool: str) -> str:
    """Path of a tool from Debian's ``prometheus`` package; CI must have it, elsewhere skip."""
    path = shutil.which(tool)
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{tool} is missing; .ci/run installs it with `apt-get install prometheus`.")
    pytest.skip(f"{tool} is not installed; run `apt-get install -y prometheus` to run this test.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrometheusServer:
    def __init__(
        self,
        workdir: Path,
        targets: Sequence[str],
        *,
        job: str = "flickerd",
        scrape_interval: str = "1s",
        rule_files: Sequence[Path] = (),
    ) -> None:
        self.binary = require("prometheus")
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(targets)}]}],
        }
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(json.dumps(config))  # JSON is YAML
        self.log_path = workdir / "prometheus.log"
        self._proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> PrometheusServer:
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self._proc.returncode}: {self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prometheus did not become ready in {timeout_s} s: {self.log_path.read_text()}")

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        """Instant query at ``at`` (Unix seconds; default now); the result vector (each item has ``metric`` and ``value``)."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr, **({"time": at} if at else {})})
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"query {expr!r} failed: {exc.read().decode()}") from exc
        assert body["status"] == "success", body
        result = body["data"]["result"]
        if body["data"]["resultType"] == "scalar":
            return [{"metric": {}, "value": result}]
        return result

    def values(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """Label set → value for an instant query."""
        return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in self.query(expr)}

    def value(self, expr: str) -> float:
        vals = list(self.values(expr).values())
        assert len(vals) == 1, f"{expr!r} returned {len(vals)} series, expected 1"
        return vals[0]

    def wait_for(self, expr: str, accept: Callable[[list[float]], bool], timeout_s: float = 20.0) -> list[float]:
        deadline = time.monotonic() + timeout_s
        vals: list[float] = []
        while time.monotonic() < deadline:
            vals = list(self.values(expr).values())
            if accept(vals):
                return vals
            time.sleep(0.25)
        raise AssertionError(f"{expr!r} still {vals} after {timeout_s} s")


def finite(values: list[float]) -> list[float]:
    return [v for v in values if not math.isnan(v) and not math.isinf(v)]

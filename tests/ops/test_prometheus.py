"""A real Prometheus scrapes flickerd's /metrics; the dashboard's and alerts' PromQL is checked
against it and against promtool."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request

import pytest
from prometheus_client import CollectorRegistry

from flickerd.metrics import GpuMemory, Metrics, names, serve

from .prom import PrometheusServer, finite, require
from .promql import (
    ALERT_TESTS, ALERTS, DASHBOARD, PROMETHEUS_YML, SYNTHETIC, concrete, dashboard_targets, metric_names, rules_file_for,
)

GIB = 1 << 30


def alert_exprs() -> list[str]:
    text = ALERTS.read_text()
    # Block scalars ("expr: |") and one-liners; yaml is not a dependency of flickerd, parse the two forms.
    exprs = re.findall(r"expr: \|\n((?:\s{10}.*\n)+)", text)
    exprs += re.findall(r"expr: (?!\|)(.+)", text)
    return [" ".join(e.split()) for e in exprs]


def script_activity(m: Metrics) -> None:
    """One clip fixed, one rejected by verification, one corrupt; as the daemon would report them."""
    for _ in range(3):
        m.file_seen("renders")
        m.file_settled("renders")
    m.file_ignored("renders", "pattern")
    m.verdict("generative_flicker")
    m.job_launched(); m.job_started("normalize+rife")
    m.flicker(before=4.0, after=1.0)
    m.headline(0.75)
    m.job_finished("normalize+rife", "done", duration_s=40.0, queue_wait_s=2.0)
    m.verdict("codec_artifacts")
    m.job_launched(); m.job_started("ffmpeg")
    m.flicker(before=2.0, after=2.5)
    m.headline(0.05)
    m.failure("verify_rejected")
    m.job_finished("ffmpeg", "rejected", duration_s=12.0, queue_wait_s=5.0)
    m.job_launched(); m.job_started("none")
    m.failure("corrupt_input")
    m.job_finished("none", "failed", duration_s=0.5, queue_wait_s=1.0)
    m.config_reloaded(True)
    m.set_gpu_available(True)


@pytest.fixture(scope="module")
def scraped(tmp_path_factory):
    """(prometheus, registry) after a scrape of zeros, then the scripted activity, then more scrapes."""
    workdir = tmp_path_factory.mktemp("prometheus")
    registry = CollectorRegistry()
    gpu = [GpuMemory(0, 5 * GIB, 24 * GIB)]  # the only mock: a GPU this machine lacks
    m = Metrics(registry, folders=["renders"], routes=["normalize+rife", "ffmpeg"], gpu_slots=1, gpu_reader=lambda: gpu)
    queue = {"pending": 2, "running": 1, "done": 1, "rejected": 1, "failed": 1}
    m.set_queue_source(lambda: queue)
    m.set_output_dirs({"renders": workdir})
    server = serve(m, "127.0.0.1:0")
    prom = PrometheusServer(workdir, [server.address], rule_files=[ALERTS])
    try:
        prom.start()
        prom.wait_for("flickerd_jobs_in_progress", lambda v: v == [0.0])  # a scrape before any job
        script_activity(m)
        prom.wait_for("sum(flickerd_jobs_total)", lambda v: v == [3.0])
        prom.wait_for("count_over_time(flickerd_jobs_in_progress[1m])", lambda v: v and v[0] >= 3)
        yield prom, registry
    finally:
        prom.stop()
        server.shutdown()


def test_prometheus_scrapes_job_counters(scraped):
    prom, _ = scraped
    assert prom.value('up{job="flickerd"}') == 1
    assert prom.value('flickerd_jobs_total{route="normalize+rife", outcome="done"}') == 1
    assert prom.value('flickerd_jobs_total{route="ffmpeg", outcome="rejected"}') == 1
    assert prom.value('flickerd_jobs_total{route="none", outcome="failed"}') == 1
    assert prom.value('sum(flickerd_jobs_total{outcome="done"})') == 1
    assert prom.value('flickerd_failures_total{reason="corrupt_input"}') == 1
    assert prom.value('flickerd_failures_total{reason="verify_rejected"}') == 1
    assert prom.value('flickerd_queue_depth{state="pending"}') == 2
    assert prom.value('flickerd_files_settled_total{folder="renders"}') == 3
    assert prom.value('flickerd_gpu_memory_used_bytes{gpu="0"}') == 5 * GIB
    assert prom.value("flickerd_jobs_in_progress") == 0
    assert prom.value('flickerd_job_duration_seconds_sum{route="normalize+rife", outcome="done"}') == 40.0


def test_every_dashboard_expression_returns_data(scraped):
    prom, _ = scraped
    empty = []
    for title, expr in dashboard_targets():
        if not finite(list(prom.values(concrete(expr)).values())):
            empty.append(f"{title}: {expr}")
    assert not empty, "panels without data:\n" + "\n".join(empty)


def test_dashboard_success_ratio_and_flicker_values(scraped):
    prom, _ = scraped
    exprs = {title: expr for title, expr in dashboard_targets()}
    # done / (done + rejected + failed)
    assert prom.value(concrete(exprs["Success ratio"])) == pytest.approx(1 / 3, rel=1e-6)
    assert prom.value(concrete(exprs["Success ratio (time range)"])) == pytest.approx(1 / 3, rel=1e-6)
    stages = {dict(k)["stage"]: v for k, v in prom.values(concrete(exprs["Mean flicker score before / after fixing"])).items()}
    assert stages == pytest.approx({"before": 3.0, "after": 1.75})
    assert prom.value(concrete(exprs["Pending jobs"])) == 2


def test_alert_rules_load_in_the_live_server(scraped):
    prom, _ = scraped
    with urllib.request.urlopen(f"{prom.url}/api/v1/rules", timeout=10) as r:
        groups = json.load(r)["data"]["groups"]
    loaded = {rule["name"] for g in groups for rule in g["rules"]}
    assert {"FlickerdDown", "FlickerdFailureRatioHigh", "FlickerdNoSuccess"} <= loaded
    assert all(rule["health"] != "err" for g in groups for rule in g["rules"])


def test_dashboard_and_alerts_name_only_exported_metrics():
    registry = CollectorRegistry()
    Metrics(registry, folders=["renders"], routes=[], gpu_reader=lambda: [GpuMemory(0, 1, 2)])
    exported = names(registry) | SYNTHETIC
    used: dict[str, set[str]] = {}
    for _, expr in dashboard_targets():
        for name in metric_names(concrete(expr)):
            used.setdefault(name, set()).add(expr)
    for expr in alert_exprs():
        for name in metric_names(expr):
            used.setdefault(name, set()).add(expr)
    unknown = {n: e for n, e in used.items() if n not in exported}
    assert not unknown, f"expressions name metrics flickerd does not export: {unknown}"
    # Each panel family the issue asks for is on the dashboard.
    for needed in ("flickerd_jobs_total", "flickerd_job_duration_seconds_bucket", "flickerd_queue_depth",
                   "flickerd_queue_wait_seconds_bucket", "flickerd_failures_total", "flickerd_flicker_score_sum",
                   "flickerd_gpu_memory_used_bytes", "up"):
        assert needed in used, needed
    assert len(alert_exprs()) == ALERTS.read_text().count("- alert:")


def test_metric_name_parser():
    expr = ('sum by (route, le) (rate(flickerd_a_total{outcome=~"done|x", route!="y"}[5m])) / on (instance) '
            'flickerd_b > 5e9 and time() - max(flickerd_c offset 1h) > 6 * 3600 or absent(up{job="flickerd"})')
    assert metric_names(expr) == {"flickerd_a_total", "flickerd_b", "flickerd_c", "up"}


def test_promtool_checks_alerts_and_dashboard_expressions(tmp_path):
    promtool = require("promtool")
    generated = rules_file_for([concrete(e) for _, e in dashboard_targets()], tmp_path / "dashboard.rules.yml")
    for path in (ALERTS, generated):
        proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run([promtool, "check", "config", str(PROMETHEUS_YML)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and a broken expression is caught, so the check can fail
    broken = rules_file_for(["sum(rate(flickerd_jobs_total[5m]"], tmp_path / "broken.rules.yml")
    assert subprocess.run([promtool, "check", "rules", str(broken)], capture_output=True, timeout=60).returncode != 0


def test_promtool_alert_unit_tests_pass():
    promtool = require("promtool")
    text = ALERT_TESTS.read_text()
    assert "alertname: FlickerdDown" in text and "alertname: FlickerdFailureRatioHigh" in text
    proc = subprocess.run([promtool, "test", "rules", str(ALERT_TESTS)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout, proc.stdout + proc.stderr


def unit_of(expr: str) -> str:
    """The unit a target plots, from the metric names it reads (Prometheus names carry the base unit)."""
    units = {"bytes" if n.endswith("_bytes") else "seconds" if "_seconds" in n else "count"
             for n in metric_names(concrete(expr)) - {"up"}}
    assert len(units) <= 1, f"{expr} mixes {units}"
    return units.pop() if units else "count"


def test_each_panel_plots_one_unit():
    panels: dict[str, list[str]] = {}
    for title, expr in dashboard_targets():
        panels.setdefault(title, []).append(unit_of(expr))
    mixed = {title: units for title, units in panels.items() if len(set(units)) > 1}
    assert not mixed, f"panels whose series share an axis but not a unit: {mixed}"
    units = {p["title"]: p.get("fieldConfig", {}).get("defaults", {}).get("unit")
             for p in json.loads(DASHBOARD.read_text())["panels"]}
    for title, expr in dashboard_targets():
        if unit_of(expr) == "bytes" and "/" not in expr:
            assert units[title] == "bytes", title

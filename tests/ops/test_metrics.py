"""flickerd.metrics on a fresh registry: names, bounded labels, zeros from the start, the HTTP endpoint."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from flickerd.errors import FAILURE_REASONS, ConfigError
from flickerd.metrics import (
    FAILURE_OUTCOMES, NO_ROUTE_OUTCOMES, OUTCOMES, QUEUE_STATES, ROUTE_OUTCOMES, SUCCESS_OUTCOMES, GpuMemory, Metrics,
    names, parse_address, read_gpu_memory, serve,
)

from .prom import require

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "daemon" / "flickerd" / "defaults" / "flickerd.toml"


def make(**kw) -> tuple[Metrics, CollectorRegistry]:
    registry = CollectorRegistry()
    m = Metrics(registry, folders=["renders", "film"], routes=["normalize+rife", "ffmpeg"], **kw)
    return m, registry


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_series_a_panel_or_alert_reads_start_at_zero():
    m, r = make()
    for route in ("none", "normalize+rife", "ffmpeg"):  # "none" always, the rest as configured
        for outcome in NO_ROUTE_OUTCOMES if route == "none" else ROUTE_OUTCOMES:
            assert sample(r, "flickerd_jobs_total", route=route, outcome=outcome) == 0
        success = "report_only" if route == "none" else "done"
        assert sample(r, "flickerd_job_duration_seconds_count", route=route, outcome=success) == 0
        assert sample(r, "flickerd_last_success_timestamp_seconds", route=route) == 0
    # pairs that cannot occur, routes no rule produces, and counters no panel reads are not pre-created
    assert sample(r, "flickerd_jobs_total", route="none", outcome="done") is None
    assert sample(r, "flickerd_jobs_total", route="ffmpeg", outcome="report_only") is None
    assert sample(r, "flickerd_jobs_total", route="regenerate", outcome="review") is None
    assert sample(r, "flickerd_jobs_total", route="other", outcome="failed") is None
    assert sample(r, "flickerd_job_duration_seconds_count", route="ffmpeg", outcome="failed") is None
    assert sample(r, "flickerd_jobs_started_total", route="ffmpeg") is None
    assert sample(r, "flickerd_jobs_cancelled_total", reason="cancelled") is None
    assert set(NO_ROUTE_OUTCOMES) | set(ROUTE_OUTCOMES) == set(OUTCOMES)
    for reason in FAILURE_REASONS:
        assert sample(r, "flickerd_failures_total", reason=reason) == 0
    for folder in ("renders", "film"):
        assert sample(r, "flickerd_files_seen_total", folder=folder) == 0
        assert sample(r, "flickerd_intake_paused", folder=folder) == 0
    assert sample(r, "flickerd_jobs_in_progress") == 0
    assert sample(r, "flickerd_config_last_reload_successful") == 1
    assert sample(r, "flickerd_build_info", version=__import__("flickerd").__version__,
                  python_version=__import__("platform").python_version()) == 1
    # no journal attached yet: every state reads 0
    for state in QUEUE_STATES:
        assert sample(r, "flickerd_queue_depth", state=state) == 0


def test_job_lifecycle_updates_counters_histograms_and_last_success():
    now = [1_700_000_000.0]
    m, r = make(clock=lambda: now[0])
    m.job_launched()
    assert sample(r, "flickerd_jobs_in_progress") == 1
    m.job_started("normalize+rife")
    now[0] += 100
    m.job_finished("normalize+rife", "done", duration_s=42.0, queue_wait_s=7.0)
    m.job_launched(); m.job_started("ffmpeg")
    m.job_finished("ffmpeg", "failed", duration_s=3.0, queue_wait_s=1.0)
    assert sample(r, "flickerd_jobs_in_progress") == 0
    assert sample(r, "flickerd_jobs_total", route="normalize+rife", outcome="done") == 1
    assert sample(r, "flickerd_jobs_total", route="ffmpeg", outcome="failed") == 1
    assert sample(r, "flickerd_job_duration_seconds_sum", route="normalize+rife", outcome="done") == 42.0
    assert sample(r, "flickerd_job_duration_seconds_bucket", route="normalize+rife", outcome="done", le="20.0") == 0
    assert sample(r, "flickerd_job_duration_seconds_bucket", route="normalize+rife", outcome="done", le="45.0") == 1
    assert sample(r, "flickerd_job_duration_seconds_bucket", route="normalize+rife", outcome="done", le="7200.0") == 1
    assert sample(r, "flickerd_queue_wait_seconds_sum") == 8.0
    assert sample(r, "flickerd_last_success_timestamp_seconds", route="normalize+rife") == now[0]
    assert sample(r, "flickerd_last_success_timestamp_seconds", route="ffmpeg") == 0  # a failure is no success


def test_unknown_label_values_stay_bounded():
    m, r = make()
    m.file_seen("/home/alice/secret-render.mp4")  # a file name must never become a label
    m.job_launched(); m.job_started("rife+bogus")
    m.job_finished("rife+bogus", "exploded", 1.0, 0.0)
    m.failure("no_such_reason")
    m.verdict("psychedelic")
    assert sample(r, "flickerd_files_seen_total", folder="other") == 1
    assert sample(r, "flickerd_jobs_total", route="other", outcome="failed") == 1
    assert sample(r, "flickerd_failures_total", reason="internal") == 1
    assert sample(r, "flickerd_verdicts_total", verdict="other") == 1
    text = generate_latest(r).decode()
    assert "secret-render" not in text and "bogus" not in text and "exploded" not in text


def test_reload_adds_routes_and_folders_and_records_result():
    now = [1000.0]
    m, r = make(clock=lambda: now[0])
    m.set_routes(["ffmpeg+normalize"])
    m.set_folders(["new"])
    assert sample(r, "flickerd_jobs_total", route="ffmpeg+normalize", outcome="review") == 0
    assert sample(r, "flickerd_files_settled_total", folder="new") == 0
    now[0] = 2000.0
    m.config_reloaded(False)
    assert sample(r, "flickerd_config_last_reload_successful") == 0
    assert sample(r, "flickerd_config_last_reload_success_timestamp_seconds") == 1000.0
    m.config_reloaded(True)
    assert sample(r, "flickerd_config_last_reload_successful") == 1
    assert sample(r, "flickerd_config_last_reload_success_timestamp_seconds") == 2000.0
    assert sample(r, "flickerd_config_reloads_total", result="failure") == 1


def test_flicker_and_verdicts():
    m, r = make()
    m.verdict("generative_flicker")
    m.flicker(before=4e-3, after=1e-3)
    m.flicker(before=2e-3, after=3e-3)  # made worse: reduction -0.5
    assert sample(r, "flickerd_verdicts_total", verdict="generative_flicker") == 1
    assert sample(r, "flickerd_flicker_score_sum", stage="before") == pytest.approx(6e-3)
    assert sample(r, "flickerd_flicker_score_sum", stage="after") == pytest.approx(4e-3)
    assert sample(r, "flickerd_flicker_score_bucket", stage="before", le="0.002") == 1
    assert sample(r, "flickerd_flicker_score_bucket", stage="before", le="0.005") == 2
    # reductions 0.75 and -0.5 (negative buckets: the client exports no _sum for this histogram)
    assert sample(r, "flickerd_flicker_reduction_ratio_count") == 2
    assert sample(r, "flickerd_flicker_reduction_ratio_bucket", le="-0.25") == 1
    assert sample(r, "flickerd_flicker_reduction_ratio_bucket", le="0.6") == 1
    assert sample(r, "flickerd_flicker_reduction_ratio_bucket", le="0.8") == 2


def test_each_outcome_has_its_own_label():
    m, r = make()
    for outcome in ("cancelled", "needs_attention", "failed"):
        m.job_launched(); m.job_started("ffmpeg")
        m.job_finished("ffmpeg", outcome, 1.0, 0.0)
    for outcome in ("cancelled", "needs_attention", "failed"):
        assert sample(r, "flickerd_jobs_total", route="ffmpeg", outcome=outcome) == 1
    # only what was asked for is a success: needs_attention and cancelled leave last_success alone
    assert sample(r, "flickerd_last_success_timestamp_seconds", route="ffmpeg") == 0
    assert set(SUCCESS_OUTCOMES) == {"done", "report_only", "review"}
    assert not set(SUCCESS_OUTCOMES) & set(FAILURE_OUTCOMES) and "cancelled" not in FAILURE_OUTCOMES


def exposition_samples(registry: CollectorRegistry) -> list[str]:
    """The sample lines of the /metrics page (what Prometheus stores as series)."""
    return [ln for ln in generate_latest(registry).decode().splitlines() if ln and not ln.startswith("#")]


def default_metrics(tmp_path) -> Metrics:
    """Metrics as ``flickerd run`` builds them for the embedded default config."""
    from flickerd.config import load
    from flickerd.rules import route_names

    cfg = load(str(DEFAULT_CONFIG))
    m = Metrics(CollectorRegistry(), folders=[f.name for f in cfg.folders],
                routes=sorted(set().union(*(route_names(f.rules) for f in cfg.folders))))
    m.set_output_dirs({f.name: tmp_path for f in cfg.folders})
    m.set_queue_source(lambda: {})
    return m


def test_a_guided_job_counts_under_its_route_not_other(tmp_path):
    """qa19: any folder's render with a guide runs the guided chain, a route no rule names; the daemon
    counted every such job under route="other" (and logged metric_label_unknown)."""
    from flickerd.diagnose.model import Verdict
    from flickerd.rules import Action, Decision, Step, with_guide

    m = default_metrics(tmp_path)
    route = with_guide(Decision("generative", Action.FIX, (Step("normalize"),), ()), Verdict.GENERATIVE_FLICKER).route
    m.job_started(route)
    m.job_finished(route, "done", 1.0, 0.0)
    lines = exposition_samples(m.registry)
    assert f'flickerd_jobs_total{{outcome="done",route="{route}"}} 1.0' in lines
    assert not [ln for ln in lines if 'route="other"' in ln and not ln.endswith(" 0.0")]


def test_an_idle_daemon_exports_at_most_300_series_and_no_created(tmp_path):
    m = default_metrics(tmp_path)
    lines = exposition_samples(m.registry)
    assert not [ln for ln in lines if "_created" in ln]
    assert len(lines) <= 300, len(lines)


def test_after_100_jobs_of_the_real_mix_at_most_600_series(tmp_path):
    # the route/outcome mix of the real-render run (data/metric_observations.json), plus a share of
    # every other ending a day brings: failures, quarantines, cancels, duplicates, flagged clips
    jobs = json.loads((Path(__file__).parent / "data" / "metric_observations.json").read_text())["jobs"]
    mix = [(j["route"], j["outcome"], j.get("flicker_before"), j.get("flicker_after")) for j in jobs]
    mix += [("normalize+detail", "failed", None, None), ("normalize+detail", "quarantined", None, None),
            ("none", "quarantined", None, None), ("none", "cancelled", None, None),
            ("normalize+detail", "duplicate", None, None), ("none", "needs_attention", None, None)]
    m = default_metrics(tmp_path)
    for i in range(100):
        route, outcome, before, after = mix[i % len(mix)]
        m.file_seen("incoming"); m.file_settled("incoming"); m.job_launched(); m.job_started(route)
        m.verdict(("clean", "generative_flicker", "codec_artifacts", "mixed", "incoherent")[i % 5])
        if before is not None:
            m.flicker(before, after)
        if outcome in ("failed", "quarantined"):
            m.failure(("route_failed", "corrupt_input")[i % 2])
        if outcome == "cancelled":
            m.job_cancelled("cancelled")
        m.job_finished(route, outcome, 10.0, 1.0)
    assert len(exposition_samples(m.registry)) <= 600


def test_scrape_time_sources_are_read_at_each_scrape(tmp_path):
    gpus = [GpuMemory(0, 3 << 30, 16 << 30), GpuMemory(1, 1 << 30, 16 << 30)]  # a mocked GPU pair
    m, r = make(gpu_slots=2, gpu_reader=lambda: gpus)
    queue = {"pending": 5}
    m.set_queue_source(lambda: queue)
    m.set_output_dirs({"renders": tmp_path, "film": tmp_path / "missing"})
    assert sample(r, "flickerd_queue_depth", state="pending") == 5
    queue["pending"] = 2
    assert sample(r, "flickerd_queue_depth", state="pending") == 2
    assert sample(r, "flickerd_queue_depth", state="quarantined") == 0
    assert sample(r, "flickerd_gpu_memory_used_bytes", gpu="1") == 1 << 30
    assert sample(r, "flickerd_gpu_memory_total_bytes", gpu="0") == 16 << 30
    assert sample(r, "flickerd_gpu_slots_configured") == 2
    assert sample(r, "flickerd_output_free_bytes", folder="renders") > 0
    assert sample(r, "flickerd_output_size_bytes", folder="renders") >= sample(r, "flickerd_output_free_bytes", folder="renders")
    assert sample(r, "flickerd_output_free_bytes", folder="film") is None  # missing mount: no false "disk full"


def test_a_broken_source_does_not_break_the_scrape():
    def journal_locked():
        raise RuntimeError("database is locked")

    def driver_gone():
        raise RuntimeError("NVML: driver not loaded")

    m, r = make(gpu_reader=driver_gone)
    m.set_queue_source(journal_locked)
    text = generate_latest(r).decode()
    assert "flickerd_jobs_total" in text
    assert sample(r, "flickerd_queue_depth", state="pending") is None


def test_no_gpu_here_means_no_gpu_series():
    # This machine has no CUDA: the real reader must return nothing, not zeros or an error.
    assert read_gpu_memory() == []
    m, r = make()
    assert sample(r, "flickerd_gpu_memory_used_bytes", gpu="0") is None
    assert "flickerd_gpu_memory_used_bytes" in names(r)


def test_promtool_check_metrics_has_no_findings(tmp_path):
    promtool = require("promtool")
    m, r = make(gpu_reader=lambda: [GpuMemory(0, 1, 2)])
    m.set_queue_source(lambda: {"pending": 1, "running": 1})
    m.set_output_dirs({"renders": tmp_path})
    m.file_seen("renders"); m.file_settled("renders"); m.file_ignored("film", "hidden")
    m.job_launched(); m.job_started("rife"); m.job_finished("rife", "done", 12.0, 3.0)
    m.failure("corrupt_input"); m.verdict("mixed"); m.flicker(3.0, 1.0); m.set_gpu_available(True)
    m.set_intake_paused("film", True)
    proc = subprocess.run([promtool, "check", "metrics"], input=generate_latest(r), capture_output=True, timeout=60)
    assert proc.returncode == 0 and not proc.stdout.strip() and not proc.stderr.strip(), (proc.stdout, proc.stderr)


def test_promtool_check_metrics_would_catch_a_bad_name():
    # The lint must be able to fail: a counter without _total and a non-base unit.
    promtool = require("promtool")
    bad = b"# HELP flickerd_jobs_ms Jobs.\n# TYPE flickerd_jobs_ms counter\nflickerd_jobs_ms 1\n"
    proc = subprocess.run([promtool, "check", "metrics"], input=bad, capture_output=True, timeout=60)
    assert proc.returncode != 0 and b"_total" in proc.stdout + proc.stderr


def test_serve_exposes_metrics_over_http():
    m, r = make()
    m.job_started("ffmpeg")
    server = serve(m, "127.0.0.1:0")
    try:
        host, port = parse_address(server.address)
        assert host == "127.0.0.1" and port > 0
        with urllib.request.urlopen(f"http://{server.address}/metrics", timeout=5) as resp:
            body = resp.read().decode()
        assert 'flickerd_jobs_started_total{route="ffmpeg"} 1.0' in body
        with pytest.raises(ConfigError, match="cannot serve metrics"):
            serve(m, server.address)  # port taken
    finally:
        server.shutdown()


@pytest.mark.parametrize("address, expected", [
    ("127.0.0.1:9478", ("127.0.0.1", 9478)),
    ("[::1]:9478", ("::1", 9478)),
    (":9478", ("0.0.0.0", 9478)),
])
def test_parse_address(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["9478", "localhost", "host:port", "h:70000"])
def test_parse_address_rejects_garbage(address):
    with pytest.raises(ConfigError, match="metrics_address"):
        parse_address(address)

"""Every dashboard expression and every alert rule, evaluated by a real Prometheus scraping a real
``flickerd run`` that fixed, rejected, cancelled, flagged and quarantined real clips, returns the
value those jobs imply: not only some value.

Jobs (one CPU worker, so one at a time): a long clip cancelled once its route is chosen (rife),
then a clip fixed (rife, done), one rejected by verification (ffmpeg), one flagged
(needs_attention, no route), two whose route fails (regenerate without a GPU: quarantined,
max_attempts = 1) and a truncated file quarantined at intake. Expected values come from the
jobs, the daemon's own ``job_finished`` lines (durations, waits, verdicts, flicker figures), the
file system and /proc. Windows are 10 minutes, longer than the test, so a rate is the count over
600 s: queries are evaluated at the last scrape, where Prometheus has nothing to extrapolate
(every counter the panels read was scraped at 0 first), so counts come out exact.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from flickerd.errors import FAILURE_REASONS
from flickerd.metrics import DURATION_BUCKETS_S, QUEUE_WAIT_BUCKETS_S, REDUCTION_BUCKETS, VERDICTS, read_gpu_memory
from tests.service.helpers import REJECT_FFMPEG, Daemon, daemon_table, make_clip, metric, rows, run_cli, scrape, wait_for

from .prom import PrometheusServer
from .promql import ALERTS, alert_rules, concrete, dashboard_legends, metric_names

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

WINDOW_S = 600
IDLE_SERIES_MAX = 300
FOLDERS = ("slow", "fix", "strict", "attention", "regen")

CONFIG = daemon_table(extra="max_attempts = 1") + REJECT_FFMPEG + "".join(f"""
[[folders]]
name = "{name}"
path = "{name}"
settle_s = 0.3
settle_max_s = 5.0
[[folders.rules]]
name = "{name}"
{rule}
""" for name, rule in {
    "slow": 'action = "fix"\nsteps = [{ route = "rife", params = { mode = "smooth" } }]',
    "fix": 'action = "fix"\nsteps = [{ route = "rife", params = { mode = "smooth" } }]',
    "strict": 'action = "fix"\nsteps = [{ route = "ffmpeg", params = { deflicker = true, deband = true } }]',
    "attention": 'action = "attention"',
    "regen": 'action = "fix"\nsteps = [{ route = "regenerate" }]',
}.items())


def histogram_quantile(q: float, edges: tuple[float, ...], observed: list[float]) -> float:
    """What Prometheus's histogram_quantile returns for these observations in these buckets."""
    cum = [sum(v <= e for v in observed) for e in edges] + [len(observed)]
    rank = q * len(observed)
    b = next(i for i, c in enumerate(cum) if c >= rank)
    if b == len(edges):
        return edges[-1]
    if b == 0 and edges[0] <= 0:
        return edges[0]
    lower, prev = (0.0, 0) if b == 0 else (edges[b - 1], cum[b - 1])
    return lower + (edges[b] - lower) * (rank - prev) / (cum[b] - prev)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> float:
    line = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def disk_ratio(path: Path) -> tuple[float, float]:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize / (st.f_blocks * st.f_frsize), st.f_bavail * st.f_frsize


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(prometheus, facts) after the jobs; facts hold what the expected values are computed from."""
    root = tmp_path_factory.mktemp("dashboard")
    (root / "cfg.toml").write_text(CONFIG)
    staging = root / "staging"
    make_clip(staging / "slow" / "long.mp4", frames=240, width=320, height=240, flicker=20, seed=5)
    fixed = make_clip(staging / "fix" / "flicker.mp4", flicker=20, seed=0, frames=12)
    make_clip(staging / "strict" / "flicker.mp4", flicker=20, seed=3, frames=12)
    make_clip(staging / "attention" / "flicker.mp4", flicker=20, seed=4, frames=12)
    make_clip(staging / "regen" / "a.mp4", flicker=20, seed=6, frames=12)
    make_clip(staging / "regen" / "b.mp4", flicker=20, seed=7, frames=12)
    data = fixed.read_bytes()
    (staging / "fix" / "broken.mp4").write_bytes(data[: len(data) // 3])
    dropped = Counter(p.parent.name for p in staging.rglob("*.mp4"))
    for folder in FOLDERS:
        (root / folder).mkdir()

    daemon = Daemon(root, config=root / "cfg.toml")
    prom = None
    try:
        daemon.wait_log("daemon_started", timeout=60)
        address = json.loads(next(ln for ln in daemon.log().splitlines() if '"metrics_served"' in ln))["address"]
        prom = PrometheusServer(root, [address], rule_files=[ALERTS]).start()
        prom.wait_for('up{job="flickerd"}', lambda v: v == [1.0], timeout_s=60)
        idle_series = prom.value('scrape_samples_scraped{job="flickerd"}')
        cpu0 = cpu_seconds(daemon.proc.pid)

        # a job cancelled once its rules chose rife: counted as started and finished under rife
        os.replace(staging / "slow" / "long.mp4", root / "slow" / "long.mp4")
        wait_for(lambda: metric(scrape(daemon), "flickerd_jobs_started_total", route="rife"), 60,
                 interval=0.2, what="the long clip's route chosen")
        (job,) = rows(root, "folder = 'slow'")
        assert job["state"] == "running", job
        cancel = run_cli(root, "cancel", "-c", "cfg.toml", str(job["id"]))
        assert cancel.returncode == 0, cancel.stderr
        wait_for(lambda: rows(root, "folder = 'slow' AND state = 'cancelled'"), 60, what="the long clip cancelled")

        for clip in sorted(p for p in staging.rglob("*.mp4")):
            os.replace(clip, root / clip.relative_to(staging))
        prom.wait_for("sum(flickerd_jobs_total)", lambda v: v == [6.0], timeout_s=150)
        prom.wait_for('sum(flickerd_queue_depth{state="quarantined"})', lambda v: v == [3.0], timeout_s=30)
        time.sleep(2.5)  # a few more scrapes after the last change
        at = prom.value('timestamp(up{job="flickerd"})')  # the last scrape: no extrapolation past it
        lines = [json.loads(ln) for ln in daemon.log().splitlines() if ln.startswith("{")]
        facts = {
            "root": root, "at": at, "dropped": dropped, "pid": daemon.proc.pid, "idle_series": idle_series, "cpu0": cpu0,
            "finished": [ln for ln in lines if ln["event"] == "job_finished"],
            "intake_reason": rows(root, "path LIKE '%broken.mp4'")[0]["reason"],
            "last_done": rows(root, "folder = 'fix' AND state = 'done'")[0]["finished_at"],
        }
        yield prom, facts
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ndaemon log:\n{daemon.log()[-4000:]}") from None
    finally:
        if prom is not None:
            prom.stop()
        assert daemon.stop() == 0, daemon.log()[-3000:]


def per_job(n: float) -> float:
    """60 * rate() of a counter that went up by ``n`` within the window: per minute, over 10 minutes."""
    return 60 * n / WINDOW_S


def expected_dashboard(facts: dict) -> dict[tuple[str, str], dict]:
    """(panel title, legend) → {label value of the panel's by-clause (or ""): expected value}."""
    fin = facts["finished"]
    by_outcome = Counter(ln["outcome"] for ln in fin)
    by_route = Counter(ln["route"] for ln in fin)
    assert by_outcome == {"cancelled": 1, "done": 1, "rejected": 1, "needs_attention": 1, "quarantined": 2}, fin
    assert by_route == {"rife": 2, "ffmpeg": 1, "none": 1, "regenerate": 2}, fin
    judged = sum(n for o, n in by_outcome.items() if o not in ("cancelled", "duplicate"))
    success = by_outcome["done"] / judged
    done = [ln for ln in fin if ln["outcome"] in ("done", "report_only", "review")]
    waits = [ln["queue_wait_s"] for ln in fin]
    verified = [ln for ln in fin if ln.get("flicker_before") is not None]
    headlines = [ln["headline_reduction"] for ln in verified]
    seen = facts["dropped"]
    settled = Counter(ln["folder"] for ln in fin)
    zero_folders = {f: 0.0 for f in FOLDERS}
    mean = {stage: sum(ln[f"flicker_{stage}"] for ln in verified) / len(verified) for stage in ("before", "after")}
    durations = [ln["duration_s"] for ln in done]
    outcomes_zero = {o: 0.0 for o in ("done", "rejected", "failed", "quarantined", "cancelled", "report_only",
                                       "needs_attention", "review", "duplicate")}
    return {
        ("Daemon up", "{{instance}}"): {"": 1.0},
        ("Jobs in progress", "running"): {"": 0.0},
        ("Pending jobs", "pending"): {"": 0.0},
        ("Success ratio (time range)", "success"): {"": success},
        ("Config loaded", "config"): {"": 1.0},
        ("GPU available", "gpu"): {"": 0.0},
        ("Jobs finished by route", "{{route}}"): {r: per_job(n) for r, n in by_route.items()},
        ("Jobs finished by outcome", "{{outcome}}"): {**outcomes_zero, **{o: per_job(n) for o, n in by_outcome.items()}},
        ("Success ratio", "success"): {"": success},
        ("Files seen / settled / ignored", "seen {{folder}}"): {f: per_job(n) for f, n in seen.items()},
        ("Files seen / settled / ignored", "settled {{folder}}"): {**zero_folders, **{f: per_job(n) for f, n in settled.items()}},
        ("Files seen / settled / ignored", "ignored {{folder}}"): zero_folders,
        ("Diagnosis verdicts", "{{verdict}}"): {**{v: 0.0 for v in VERDICTS}, **{
            v: per_job(n) for v, n in Counter(ln["verdict"] for ln in fin if ln["verdict"]).items()}},
        ("Time since last success by route", "{{route}}"): {"rife": time.time() - facts["last_done"]},
        **{("Job duration percentiles", f"p{q}"): {"": histogram_quantile(q / 100, DURATION_BUCKETS_S, durations)}
           for q in (50, 90, 99)},
        ("Job duration p90 by route", "{{route}}"): {"rife": histogram_quantile(0.9, DURATION_BUCKETS_S, durations)},
        ("Queue depth by state", "{{state}}"): {"pending": 0.0, "running": 0.0, "review": 0.0, "quarantined": 3.0},
        ("Queue depth by state", "in progress"): {"": 0.0},
        **{("Queue wait percentiles", f"p{q}"): {"": histogram_quantile(q / 100, QUEUE_WAIT_BUCKETS_S, waits)}
           for q in (50, 90)},
        ("Failures by reason", "{{reason}}"): {**{r: 0.0 for r in FAILURE_REASONS}, "route_failed": 2.0,
                                               facts["intake_reason"]: 1.0},
        ("Intake paused by folder", "{{folder}}"): zero_folders,
        ("Config reloads", "{{result}}"): {"success": 0.0, "failure": 0.0},
        ("Mean flicker score before / after fixing", "{{stage}}"): mean,
        # the headline (the measure each job lowered most), as its job_finished line says
        ("Flicker reduction (the headline: the measure that fell most)", "median"): {
            "": histogram_quantile(0.5, REDUCTION_BUCKETS, headlines)},
        ("Flicker reduction (the headline: the measure that fell most)", "worst 10%"): {
            "": histogram_quantile(0.1, REDUCTION_BUCKETS, headlines)},
        ("Guided jobs by guide", "{{guide}}"): {"used": 0.0, "not_used": 0.0, "unusable": 0.0},  # no guides here
        ("Window seams", "{{stage}}"): {"found": 0.0, "fixed": 0.0},  # 2–3 s clips: no windows
        ("GPU memory", "GPU {{gpu}} used ({{instance}})"): {},  # no GPU here (asserted below)
        ("GPU memory", "GPU {{gpu}} total ({{instance}})"): {},
        ("Output disk free", "{{folder}}"): {f: disk_ratio(facts["root"] / f"{f}.fixed")[0] for f in FOLDERS},
        ("Daemon memory", "resident memory {{instance}}"): {"": rss_bytes(facts["pid"])},
        ("Daemon CPU", "CPU cores {{instance}}"): {"": (cpu_seconds(facts["pid"]) - facts["cpu0"]) / WINDOW_S},
    }


# Values that are not counts: how close Prometheus's reading must be to ours.
TOLERANCE = {"Time since last success by route": 10.0, "Daemon memory": 0.5, "Daemon CPU": 0.3}


def panel_key(labels: dict) -> str:
    labels = {k: v for k, v in labels.items() if k not in ("job", "instance", "__name__")}
    assert len(labels) <= 1, labels
    return next(iter(labels.values()), "")


def test_idle_daemon_exports_few_series(run):
    _, facts = run
    assert facts["idle_series"] <= IDLE_SERIES_MAX


def test_every_dashboard_expression_returns_what_the_jobs_imply(run):
    prom, facts = run
    assert read_gpu_memory() == []  # so the GPU panel is rightly empty here
    expected = expected_dashboard(facts)
    targets = dashboard_legends()
    assert {(title, legend) for title, legend, _ in targets} == set(expected), "a panel without an expectation"
    wrong = []
    for title, legend, expr in targets:
        got = {panel_key(r["metric"]): float(r["value"][1]) for r in prom.query(concrete(expr, "10m"), facts["at"])}
        got = {k: v for k, v in got.items() if not math.isnan(v)}  # NaN (0/0): Grafana draws no point
        want = expected[(title, legend)]
        rel = TOLERANCE.get(title)
        if title == "Time since last success by route":
            ok = got.keys() == want.keys() and all(abs(got[k] - want[k]) <= rel for k in want)
        else:
            ok = got.keys() == want.keys() and all(
                math.isclose(got[k], want[k], rel_tol=rel or 1e-3, abs_tol=1e-9) for k in want)
        if not ok:
            wrong.append(f"{title} [{legend}]: got {got}, expected {want}\n    {expr}")
    assert not wrong, "\n".join(wrong)


def test_jobs_started_carry_the_route_that_ran(run):
    prom, _ = run
    started = {r["metric"]["route"]: float(r["value"][1]) for r in prom.query("flickerd_jobs_started_total")}
    assert {k: v for k, v in started.items() if v} == {"rife": 2, "ffmpeg": 1, "none": 1, "regenerate": 2}


def test_every_alert_rule_returns_what_the_jobs_imply(run):
    prom, facts = run
    free_ratio, free_bytes = disk_ratio(facts["root"] / "fix.fixed")
    disk_low = free_ratio < 0.05 or free_bytes < 5 * 1024 ** 3  # the same disk holds every output folder here
    expected = {
        "FlickerdDown": {}, "FlickerdMissing": {}, "FlickerdQueueGrowing": {}, "FlickerdNoSuccess": {},
        # failed|quarantined among judged jobs: 2 of 5 (the cancelled one is neither)
        "FlickerdFailureRatioHigh": {"": 2 / 5},
        "FlickerdConfigReloadFailed": {}, "FlickerdGpuUnavailable": {}, "FlickerdIntakePaused": {},
        "FlickerdOutputDiskLow": ({f: disk_ratio(facts["root"] / f"{f}.fixed")[0] for f in FOLDERS}
                                  if disk_low else {}),
        "FlickerdJobsQuarantined": {"regenerate": 2.0},
    }
    rules = alert_rules()
    assert set(rules) == set(expected)
    wrong = []
    for name, expr in rules.items():
        got = {panel_key({k: v for k, v in r["metric"].items() if k not in ("outcome", "__name__")}): float(r["value"][1])
               for r in prom.query(expr, facts["at"])}
        want = expected[name]
        if got.keys() != want.keys() or not all(math.isclose(got[k], want[k], rel_tol=1e-3) for k in want):
            if not (name == "FlickerdOutputDiskLow" and disk_low and got.keys() == want.keys()):
                wrong.append(f"{name}: got {got}, expected {want}\n    {expr}")
        # empty must mean "condition false", not "series missing"
        for series in metric_names(expr) - {"ALERTS"}:
            if not prom.query(f"count({series})"):
                wrong.append(f"{name}: {series} has no series in Prometheus")
    assert not wrong, "\n".join(wrong)

"""PromQL helpers for the ops tests: pull expressions out of the dashboard and alert rules,
make Grafana's variables concrete, and list the metric names an expression reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "config" / "grafana" / "flickerd-dashboard.json"
ALERTS = ROOT / "config" / "prometheus" / "flickerd-alerts.yml"
ALERT_TESTS = ROOT / "config" / "prometheus" / "flickerd-alerts.test.yml"
PROMETHEUS_YML = ROOT / "config" / "prometheus" / "prometheus.yml"

# Series Prometheus itself makes; every other name must come from flickerd.
SYNTHETIC = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped"}
_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
             "offset", "bool", "inf", "nan", "atan2"}


def dashboard_targets(path: Path = DASHBOARD) -> list[tuple[str, str]]:
    """(panel title, expression) for every query target of every panel, rows included."""
    out: list[tuple[str, str]] = []

    def walk(panels: list[dict]) -> None:
        for panel in panels:
            for target in panel.get("targets", ()):
                if target.get("expr"):
                    out.append((panel["title"], target["expr"]))
            walk(panel.get("panels", []))

    walk(json.loads(path.read_text())["panels"])
    return out


def dashboard_legends(path: Path = DASHBOARD) -> list[tuple[str, str, str]]:
    """(panel title, legend, expression) for every query target; a legend names a target within its panel."""
    out: list[tuple[str, str, str]] = []

    def walk(panels: list[dict]) -> None:
        for panel in panels:
            for target in panel.get("targets", ()):
                if target.get("expr"):
                    out.append((panel["title"], target.get("legendFormat", ""), target["expr"]))
            walk(panel.get("panels", []))

    walk(json.loads(path.read_text())["panels"])
    return out


def alert_rules(path: Path = ALERTS) -> dict[str, str]:
    """Alert name → its expression on one line (the rules file's two forms: one-liners and ``expr: |``)."""
    out = {}
    for block in path.read_text().split("- alert: ")[1:]:
        name = block.split("\n", 1)[0].strip()
        m = re.search(r"expr: \|\n((?:\s{10}.*\n)+)", block) or re.search(r"expr: (.+)", block)
        out[name] = " ".join(m.group(1).split())
    return out


def concrete(expr: str, window: str = "1m") -> str:
    """Replace Grafana's variables by values Prometheus accepts."""
    return (
        expr.replace("$__rate_interval", window)
        .replace("$__range", window)
        .replace("$__interval", window)
        .replace("$instance", ".*")
    )


def metric_names(expr: str) -> set[str]:
    """Names of the series an expression selects (functions, keywords and labels excluded)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    e = re.sub(r"\{[^}]*\}", " ", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)  # range and subquery windows
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", e):
        if m.group() in _KEYWORDS or e[m.end():].lstrip().startswith("("):
            continue
        names.add(m.group())
    return names


def rules_file_for(exprs: list[str], path: Path) -> Path:
    """A Prometheus rules file with one recording rule per expression (for ``promtool check rules``)."""
    lines = ["groups:", "  - name: flickerd_dashboard", "    rules:"]
    for i, expr in enumerate(exprs):
        lines.append(f"      - record: dashboard:expr_{i}")
        lines.append(f"        expr: {json.dumps(expr)}")
    path.write_text("\n".join(lines) + "\n")
    return path

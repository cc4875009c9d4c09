"""The README's metrics table names exactly the families flickerd exports."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from flickerd.metrics import GpuMemory, Metrics

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_names() -> set[str]:
    section = README.read_text().split("## Metrics, dashboard and alerts", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("| `flickerd_")]
    return {name for row in rows for name in re.findall(r"`(flickerd_[a-z_*]+)`", row.split("|")[1])}


def exported_names() -> set[str]:
    registry = CollectorRegistry()
    Metrics(registry, folders=["in"], routes=["ffmpeg"], gpu_reader=lambda: [GpuMemory(0, 1, 2)])
    out = set()
    for family in registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        out.add("flickerd_process_*" if name.startswith("flickerd_process_") else name)
    return out


def test_readme_table_matches_the_exposition():
    documented, exported = readme_names(), exported_names()
    assert documented - exported == set(), "in the README, not exported"
    assert exported - documented == set(), "exported, not in the README"

"""Each histogram's buckets fit the values it really observes.

``data/metric_observations.json`` is one run of ``python -m bench metric_ranges`` (a real daemon
fixing real renders as they are and with injected flicker; its command, commit and date are in the
file). The median observation of each histogram must land neither in its first bucket nor in its
+Inf bucket, and no observation may fall past the last edge but the queue wait's (a backlog has no
upper bound). The edges are read from what a ``Metrics`` registry exports, not from constants.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from flickerd.metrics import Metrics

OBSERVATIONS = Path(__file__).parent / "data" / "metric_observations.json"

# histogram → the job_finished fields it observes
HISTOGRAMS = {
    "flickerd_job_duration_seconds": ("duration_s",),
    "flickerd_queue_wait_seconds": ("queue_wait_s",),
    "flickerd_flicker_score": ("flicker_before", "flicker_after"),
    "flickerd_flicker_reduction_ratio": ("flicker_reduction",),
}
UNBOUNDED = {"flickerd_queue_wait_seconds"}


def exported_edges(name: str) -> list[float]:
    registry = CollectorRegistry()
    Metrics(registry, folders=["in"], routes=["ffmpeg"])
    edges = {float(s.labels["le"]) for family in registry.collect() for s in family.samples
             if s.name == f"{name}_bucket"}
    assert edges, f"{name} exports no buckets"
    return sorted(e for e in edges if e != float("inf"))


def observations() -> tuple[dict, dict[str, list[float]]]:
    data = json.loads(OBSERVATIONS.read_text())
    values = {name: [j[f] for j in data["jobs"] for f in fields if j.get(f) is not None]
              for name, fields in HISTOGRAMS.items()}
    return data, values


def test_the_observations_say_where_they_come_from():
    data, values = observations()
    assert data["command"].startswith("python -m bench metric_ranges") and len(data["commit"]) == 40
    assert len(data["renders"]) >= 5 and {"asis", "luma-1", "codec-1"} <= set(data["kinds"])
    assert all(len(v) >= 30 for v in values.values()), {k: len(v) for k, v in values.items()}


@pytest.mark.parametrize("name", sorted(HISTOGRAMS))
def test_median_observation_is_inside_the_buckets(name):
    _, values = observations()
    edges = exported_edges(name)
    median = statistics.median(values[name])
    assert median > edges[0], f"{name}: median {median:.4g} is in the first bucket (le={edges[0]:g}); edges {edges}"
    assert median <= edges[-1], f"{name}: median {median:.4g} is past the last edge {edges[-1]:g}; edges {edges}"
    if name not in UNBOUNDED:
        assert max(values[name]) <= edges[-1], f"{name}: {max(values[name]):.4g} lands in +Inf; edges {edges}"

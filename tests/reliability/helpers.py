"""Support for the reliability suite: the service helpers plus a few checks of what a daemon left behind."""

from __future__ import annotations

import os
import re
import urllib.request
from pathlib import Path

from flickerd.service.publish import is_temp_name
from tests.service.helpers import (  # noqa: F401  (re-exported for the reliability tests)
    ENV, FLICKERD, REPORT_RULES, Daemon, make_clip, rows, run_cli, sha256, wait_for, write_config,
)

FINAL_STATES = {"done", "rejected", "failed", "quarantined", "review", "cancelled"}
FFMPEG_RULES = """
[[rules]]
name = "deflicker-all"
action = "fix"
steps = [{ route = "ffmpeg", params = { deflicker = true, deband = false } }]
"""  # every clip fixed by the ffmpeg route: a video is published


def temp_leftovers(folder: Path) -> list[str]:
    """Publish temp files (``.name.tmp.ext``) anywhere under ``folder``."""
    if not folder.exists():
        return []
    return sorted(str(Path(r) / n) for r, _d, names in os.walk(folder) for n in names if is_temp_name(n))


def scrape(d: Daemon) -> str:
    """The daemon's /metrics page (its address is in the ``metrics_served`` log line)."""
    address = re.search(r'"address": "([^"]+)", "event": "metrics_served"', d.log()).group(1)
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as resp:
        return resp.read().decode()


def metric(text: str, name: str, **labels: str) -> float | None:
    """One sample's value from an exposition page, or None."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        if head == name or (want and head.startswith(name + "{") and _labels(head) == want):
            return float(value)
    return None


def _labels(head: str) -> str:
    inner = head[head.index("{") + 1:-1]
    pairs = re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', inner)
    return ",".join(f'{k}="{v}"' for k, v in sorted(pairs))

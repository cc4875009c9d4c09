"""GPU slots configured on a machine without CUDA: one loud line at start, the gauge at 0, rules fall back."""

import json
import re
import urllib.request

from tests.service.helpers import Daemon, make_clip, rows, wait_for, write_config

RULES = """
[[rules]]
name = "regen-when-gpu"
when = { gpu = true }
action = "review"
steps = [{ route = "regenerate" }]

[[rules]]
name = "otherwise"
action = "attention"
"""


def test_missing_gpu_is_said_once_and_rules_fall_back(tmp_path):
    cfg = write_config(tmp_path, rules=RULES)
    cfg.write_text(cfg.read_text().replace("gpu_slots = 0", "gpu_slots = 1"))
    make_clip(tmp_path / "in" / "shot.mp4", flicker=20)
    d = Daemon(tmp_path, config=cfg)
    try:
        wait_for(lambda: rows(tmp_path, "state = 'done'"), 60, what="the job to finish")
        log = d.log()
        address = re.search(r'"address": "([^"]+)", "event": "metrics_served"', log).group(1)
        body = urllib.request.urlopen(f"http://{address}/metrics", timeout=10).read().decode()
    finally:
        d.stop()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    gpu = [entry for entry in lines if entry.get("event") == "gpu_unavailable"]
    assert len(gpu) == 1 and gpu[0]["level"] == "error" and gpu[0]["gpu_slots"] == 1
    assert re.search(r"^flickerd_gpu_available 0\.0$", body, re.M)
    job = rows(tmp_path)[0]
    assert job["outcome"] == "needs_attention"  # the GPU rule did not match; nothing ran on a CPU by stealth

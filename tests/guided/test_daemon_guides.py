"""The daemon with guides: guide files are never jobs, a found guide is used, a missing one is waited for."""

from __future__ import annotations

import json
import shutil

import pytest
from prometheus_client import CollectorRegistry

from flickerd.metrics import Metrics
from flickerd.synth import real
from tests.service.helpers import rows, run_cli, write_config

from .conftest import scene

pytestmark = pytest.mark.timeout(300)

DEFAULT_RULES = ""  # no [[rules]]: the default rules


def test_daemon_uses_guides_and_never_takes_them_as_jobs(material, tmp_path):
    folder, *_ = material
    cfg = write_config(tmp_path, rules=DEFAULT_RULES, folder_extra="guide_wait_s = 1.0")
    inbox = tmp_path / "in"
    shutil.copy(folder / "shot.mp4", inbox / "shot.mp4")
    shutil.copy(folder / "shot.guide.mp4", inbox / "shot.guide.mp4")
    shutil.copy(folder / "shot.mp4", inbox / "twin.mp4")  # shot's bytes without its guide: no duplicate of it
    real.encode(scene(), inbox / "late.mp4", crf=20, fps=12)  # other content: not a duplicate of shot.mp4
    (inbox / "late.json").write_text(json.dumps({"guide": "sources/late.mp4"}))  # announced, never arrives
    done = run_cli(tmp_path, "run", "-c", str(cfg), "--once", "--metrics-address", "off", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = {r["path"].rsplit("/", 1)[-1]: r for r in rows(tmp_path)}
    assert set(jobs) == {"shot.mp4", "twin.mp4", "late.mp4"}  # the guide is no job of its own
    assert jobs["twin.mp4"]["duplicate_of"] is None and jobs["shot.mp4"]["duplicate_of"] is None  # the journal agrees
    out = tmp_path / "in.fixed"
    shot = json.loads((out / "shot.report.json").read_text())
    assert shot["guide"]["origin"] == "beside" and shot["guide"]["used"] is True
    assert shot["chain"]["steps"][-1]["route"] == "guided" and (out / "shot.mp4").is_file()
    assert shot["verification"]["metrics"]["flow_from_guide"] is True  # judged along the guide's motion
    twin = json.loads(next(out.rglob("twin.report.json")).read_text())  # its own blind job, not shot's guided output
    assert twin["status"] != "duplicate" and twin["guide"] is None
    assert all(s["route"] != "guided" for s in (twin["chain"] or {"steps": []})["steps"])
    late = json.loads(next(out.rglob("late.report.json")).read_text())
    assert late["guide"]["path"] is None and late["guide"]["used"] is False
    assert "did not arrive within 1 s" in late["guide"]["note"] and late["guide"]["note"] in late["notes"]
    assert all(s["route"] != "guided" for s in (late["chain"] or {"steps": []})["steps"])


def test_guided_jobs_are_counted():
    registry = CollectorRegistry()
    m = Metrics(registry, folders=["in"], routes=["guided"])
    for state in ("used", "used", "unusable", "bogus"):
        m.guided_job(state)
    value = lambda g: registry.get_sample_value("flickerd_guided_jobs_total", {"guide": g})  # noqa: E731
    assert (value("used"), value("unusable"), value("not_used")) == (2.0, 1.0, 1.0)

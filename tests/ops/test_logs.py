"""flickerd.logs: JSON lines with bound job context; library records through the same renderer."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from flickerd import logs
from flickerd.errors import ConfigError


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_json_lines_carry_bound_job_context():
    buf = io.StringIO()
    logs.configure("info", stream=buf)  # a StringIO is not a TTY: JSON
    log = structlog.get_logger("flickerd.service.worker")
    with structlog.contextvars.bound_contextvars(job_id="j-17", file="renders/a.mp4", route="normalize+rife", folder="renders"):
        log.info("job_published", output="renders.fixed/a.mp4")
        log.debug("hidden_at_info")
    log.info("idle_entered")
    first, second = lines(buf)
    assert first["event"] == "job_published" and first["level"] == "info"
    assert first["job_id"] == "j-17" and first["file"] == "renders/a.mp4"
    assert first["route"] == "normalize+rife" and first["folder"] == "renders"
    assert first["logger"] == "flickerd.service.worker" and first["timestamp"].endswith("Z")
    assert second["event"] == "idle_entered" and "job_id" not in second


def test_library_logging_records_come_out_in_the_same_json():
    buf = io.StringIO()
    logs.configure("info", stream=buf)
    # transformers (like diffusers and torch) attaches its own stderr handler and stops propagation
    import transformers.utils.logging as hf_logging
    hf_log = hf_logging.get_logger("transformers.models.fake")
    # as transformers sets itself up on first use; a daemon run earlier in this process may have adopted it already
    library = logging.getLogger("transformers")
    if not any(type(h) is logging.StreamHandler for h in library.handlers):
        library.addHandler(logging.StreamHandler())
        library.propagate = False
    assert "transformers" in logs.adopt_library_loggers()
    with structlog.contextvars.bound_contextvars(job_id="j-18"):
        logging.getLogger("watchdog.observers.inotify").warning("watch lost on %s", "/srv/in")
        hf_log.warning("weights loaded in %.1f s", 1.5)
    watch, hf = lines(buf)
    assert watch == {**watch, "event": "watch lost on /srv/in", "level": "warning", "logger": "watchdog.observers.inotify", "job_id": "j-18"}
    assert hf["event"] == "weights loaded in 1.5 s" and hf["logger"] == "transformers.models.fake" and hf["job_id"] == "j-18"


def test_exceptions_become_structured_tracebacks():
    buf = io.StringIO()
    logs.configure("info", stream=buf)
    try:
        raise ValueError("bad frame")
    except ValueError:
        structlog.get_logger("flickerd.t").exception("job_crashed")
    (line,) = lines(buf)
    assert line["exception"][0]["exc_type"] == "ValueError" and line["exception"][0]["exc_value"] == "bad frame"
    assert "locals" not in line["exception"][0]["frames"][0]


def test_job_summary_line():
    buf = io.StringIO()
    logs.configure("info", stream=buf)
    with structlog.contextvars.bound_contextvars(job_id="j-19", file="a.mp4", folder="renders"):
        logs.log_job_summary(
            outcome="done", route="normalize+rife", verdict="generative_flicker", duration_s=12.3456,
            queue_wait_s=2.0, flicker_before=4.0, flicker_after=1.0, stages_s={"diagnose": 1.5, "fix": 9.0},
        )
        logs.log_job_summary(outcome="failed", route="none", verdict=None, duration_s=0.2, queue_wait_s=0.1, reason="corrupt_input")
    done, failed = lines(buf)
    assert done["event"] == "job_finished" and done["job_id"] == "j-19" and done["file"] == "a.mp4"
    assert done["duration_s"] == 12.346 and done["diagnose_s"] == 1.5 and done["fix_s"] == 9.0
    assert done["flicker_reduction"] == 0.75 and done["verdict"] == "generative_flicker"
    assert failed["level"] == "warning" and failed["reason"] == "corrupt_input" and "flicker_reduction" not in failed


def test_console_on_a_tty_and_level_changes_on_reconfigure():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    logs.configure("warning", stream=tty)
    structlog.get_logger("flickerd.t").info("not_shown")
    structlog.get_logger("flickerd.t").warning("disk_low", free_bytes=10)
    text = tty.getvalue()
    assert "disk_low" in text and "not_shown" not in text and "\x1b[" in text  # coloured
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])
    buf = io.StringIO()
    logs.configure("debug", stream=buf)  # a reload: replaces the handler, does not add one
    structlog.get_logger("flickerd.t").debug("shown_now")
    assert [l["event"] for l in lines(buf)] == ["shown_now"]
    assert "shown_now" not in tty.getvalue()
    assert sum(h.get_name() == "flickerd" for h in logging.getLogger().handlers) == 1


def test_bad_level_is_a_config_error():
    with pytest.raises(ConfigError, match="log_level"):
        logs.parse_level("loud")
    assert logs.parse_level("WARNING") == logging.WARNING


def test_libraries_imported_after_configure_are_adopted_by_the_next_job_summary():
    buf = io.StringIO()
    logs.configure("info", stream=buf)
    late = logging.getLogger("latelib")  # stands for torch: its own stderr handler, no propagation
    late.addHandler(logging.StreamHandler())
    late.propagate = False
    logs.log_job_summary(outcome="done", route="ffmpeg", verdict="clean", duration_s=1.0, queue_wait_s=0.0)
    late.warning("cuda kernel cache rebuilt")
    summary, lib = lines(buf)
    assert summary["event"] == "job_finished" and lib["event"] == "cuda kernel cache rebuilt"
    assert late.propagate and not late.handlers

"""Log set-up: the one place that configures structlog and the stdlib ``logging`` root.

Under systemd (stdout is not a TTY) every line is one JSON object; on a terminal it is a coloured
console line. Records from libraries that use stdlib ``logging`` (torch, diffusers, transformers,
watchdog, ray) go through the same renderer, with the same timestamp, level and bound job context.

Code logs with ``structlog.get_logger("flickerd.<area>")``, names events in the past tense
(``job_published``) and binds job context with
``structlog.contextvars.bound_contextvars(job_id=..., file=..., route=..., folder=...)``.
Each finished job ends with one ``job_finished`` line from ``log_job_summary``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import IO, Any

import structlog

from flickerd.errors import ConfigError

LEVELS: Mapping[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
DEFAULT_LEVEL = "info"

# Set on our root handler so a re-configure replaces it instead of stacking a second one.
_HANDLER_NAME = "flickerd"


def parse_level(level: str | int) -> int:
    """``"info"`` (any case) or a ``logging`` number → a ``logging`` number."""
    if isinstance(level, int):
        return level
    try:
        return LEVELS[level.strip().lower()]
    except KeyError:
        raise ConfigError(
            f"log_level: expected one of {', '.join(LEVELS)}, got {level!r}."
        ) from None


def _shared_processors() -> list[Any]:
    """Steps for both our events and foreign ``logging`` records, before rendering."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _renderer(json: bool) -> list[Any]:
    if json:
        return [
            # Tracebacks as structured data, without locals (they can hold frames or secrets).
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.JSONRenderer(),
        ]
    return [structlog.dev.ConsoleRenderer(colors=True)]


def configure(level: str | int = DEFAULT_LEVEL, json: bool | None = None, *, stream: IO[str] | None = None) -> None:
    """Route structlog and stdlib ``logging`` to ``stream`` (stdout) through one renderer.

    ``json=None`` picks JSON lines unless ``stream`` is a TTY. Safe to call again (e.g. on a
    config reload that changes ``log_level``): it replaces the handler instead of adding one.
    """
    stream = sys.stdout if stream is None else stream
    if json is None:
        json = not (hasattr(stream, "isatty") and stream.isatty())
    numeric = parse_level(level)
    shared = _shared_processors()

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_renderer(json)],
    )
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a reload may change the level or the renderer of loggers made at import.
        cache_logger_on_first_use=False,
    )
    adopt_library_loggers()


def adopt_library_loggers() -> list[str]:
    """Send libraries' own console handlers' records through our root handler instead.

    torch, transformers and diffusers attach a stderr ``StreamHandler`` to their loggers and
    stop propagation, so their lines would bypass the JSON renderer. This removes such console
    handlers (file handlers and special handlers stay) and turns propagation back on. Call it
    again after importing such a library; it returns the logger names it changed.
    """
    changed = []
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        console = [
            h for h in logger.handlers
            if type(h) is logging.StreamHandler and h.get_name() != _HANDLER_NAME
        ]
        if not console:
            continue
        for h in console:
            logger.removeHandler(h)
        logger.propagate = True
        changed.append(name)
    return changed


def log_job_summary(
    *,
    outcome: str,
    route: str,
    verdict: str | None,
    duration_s: float,
    queue_wait_s: float,
    flicker_before: float | None = None,
    flicker_after: float | None = None,
    headline_measure: str | None = None,
    headline_reduction: float | None = None,
    reason: str | None = None,
    stages_s: Mapping[str, float] | None = None,
    logger: Any = None,
    **extra: Any,
) -> None:
    """The one ``job_finished`` line per job; job id, file and folder come from bound context.

    ``stages_s`` holds per-stage wall times (``{"diagnose": 1.2, "fix": 8.0, "verify": 1.0}``),
    logged as ``diagnose_s`` etc. ``flicker_before``/``flicker_after`` are the warping error and
    ``flicker_reduction`` its ``1 - after/before`` (1 = all removed); ``headline_measure`` and
    ``headline_reduction`` are the figure the report, plot and CLI lead with (``verify.headline``).
    Failed jobs log at warning level with their ``reason``.
    """
    # Routes import torch/diffusers lazily, after ``configure``: take over their handlers now.
    if any(h.get_name() == _HANDLER_NAME for h in logging.getLogger().handlers):
        adopt_library_loggers()
    log = logger if logger is not None else structlog.get_logger("flickerd.job")
    fields: dict[str, Any] = {
        "outcome": str(getattr(outcome, "value", outcome)),
        "route": route,
        "verdict": None if verdict is None else str(getattr(verdict, "value", verdict)),
        "duration_s": round(duration_s, 3),
        "queue_wait_s": round(queue_wait_s, 3),
    }
    for stage, seconds in (stages_s or {}).items():
        fields[f"{stage}_s"] = round(seconds, 3)
    if flicker_before is not None:
        fields["flicker_before"] = float(f"{flicker_before:.4g}")  # warping errors are ~1e-4..1e-2: keep digits, not places
    if flicker_after is not None:
        fields["flicker_after"] = float(f"{flicker_after:.4g}")
    if flicker_before and flicker_after is not None:
        fields["flicker_reduction"] = round(1.0 - flicker_after / flicker_before, 4)
    if headline_measure is not None and headline_reduction is not None:
        fields["headline_measure"] = headline_measure
        fields["headline_reduction"] = round(headline_reduction, 4)
    if reason is not None:
        fields["reason"] = reason
    fields.update(extra)
    if fields["outcome"] in ("failed", "quarantined"):
        log.warning("job_finished", **fields)
    else:
        log.info("job_finished", **fields)

"""The route protocol every fix implements, and the chain that runs several as one job.

A route reads ``src``, writes ``out`` (both plain paths inside the job's workdir), reports
progress as a fraction, and returns a ``StepResult`` saying what it actually did. It never
publishes: publishing is the service's job. Failures raise ``RouteError`` subclasses.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

ProgressFn = Callable[[float], None]
"""Called with the fraction done in [0, 1]."""


def no_progress(fraction: float) -> None:
    """The default progress callback: ignore it."""


@dataclass(frozen=True, slots=True)
class StepResult:
    route: str
    version: str
    backend: str  # what actually ran, e.g. "ffmpeg 9.0.2", "rife-hdv3 (torch cpu)", "dis-flow fallback"
    params: Mapping[str, Any]  # the effective parameters, defaults filled in
    commands: tuple[tuple[str, ...], ...] = ()  # exact external commands run, if any
    seconds: float = 0.0
    output: str = ""
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "route": self.route,
            "version": self.version,
            "backend": self.backend,
            "params": dict(self.params),
            "commands": [list(c) for c in self.commands],
            "seconds": round(self.seconds, 3),
            "output": self.output,
            "notes": list(self.notes),
            "extra": dict(self.extra),
        }


@runtime_checkable
class Route(Protocol):
    name: str
    version: str  # part of the idempotence key: bump it when the output changes

    def fix(self, src: str, out: str, params: Mapping[str, Any], progress: ProgressFn) -> StepResult: ...


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a chain: a route name and its parameters."""

    route: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChainResult:
    steps: tuple[StepResult, ...]
    output: str
    seconds: float

    @property
    def routes(self) -> str:
        return "+".join(s.route for s in self.steps)

    @property
    def followed_guide(self) -> bool:
        """Whether a step took its motion or stability from the job's guide (the ``guided`` route,
        or ``normalize``/``detail`` with their flows on it)."""
        return any(s.route == "guided" or "flow_from_guide" in s.extra for s in self.steps)

    def to_dict(self) -> dict:
        return {"route": self.routes, "seconds": round(self.seconds, 3), "steps": [s.to_dict() for s in self.steps]}


def intermediate_path(workdir: str, index: int) -> str:
    """Where step ``index`` of a chain writes when it is not the last step (lossless mkv)."""
    return os.path.join(workdir, f"step{index}.mkv")


def run_chain(
    src: str,
    steps: Sequence[Step],
    out: str,
    workdir: str,
    *,
    routes: Mapping[str, Route] | None = None,
    progress: ProgressFn = no_progress,
    final_codec: str | None = None,
    costs: Sequence[float] | None = None,
) -> ChainResult:
    """Run ``steps`` in order, each reading the previous output; the last writes ``out``.

    Intermediate files live in ``workdir`` and are removed as soon as the next step is done.
    Consecutive frame routes (``frame_stream.FrameRoute``: normalize, detail, guided) on a planar source
    run as one pass with their frames handed on in memory, not through an intermediate file;
    other routes (ffmpeg filters, RIFE, regeneration) read and write files.
    ``final_codec`` (a folder's ``output_codec``) reaches the last step as the ``_codec`` param.

    ``progress`` hears step i over [i/n, (i+1)/n]. Fused steps advance together; ``costs`` (each
    step's expected seconds, the ETA's priors) then say where one "ends": step k of a pass counts
    as done once the pass has done the share of its frames that steps up to k take of its time, so
    every step appears to run at the speed its prior expects and the ETA stays true.
    """
    from flickerd.routes.registry import get_route

    if not steps:
        raise ValueError("a chain needs at least one step")
    start = time.monotonic()
    results: list[StepResult] = []
    current = src
    n = len(steps)
    chosen = [routes[s.route] if routes is not None else get_route(s.route) for s in steps]

    def params_of(i: int) -> dict[str, Any]:
        params = dict(steps[i].params)
        if i < n - 1:
            params.setdefault("_intermediate", True)  # routes encode losslessly between steps
        elif final_codec:
            params.setdefault("_codec", final_codec)
        return params

    weight = [max(0.0, float(c)) for c in costs] if costs is not None and len(costs) == n else [1.0] * n
    i = 0
    while i < n:
        fused = _fusable(chosen, i, current)
        info, last = fused if fused else (None, i)
        target = out if last == n - 1 else intermediate_path(workdir, last)

        def group_progress(f: float, first: int = i, weights: Sequence[float] = weight[i:last + 1]) -> None:
            progress((first + _steps_done(max(0.0, min(1.0, f)), weights)) / n)

        if info is not None:
            from flickerd.routes.frame_stream import run_stages

            stages = [(chosen[k].stage(info, params_of(k)), params_of(k)) for k in range(i, last + 1)]
            results += run_stages(current, target, stages, info, group_progress)
        else:
            results.append(chosen[i].fix(current, target, params_of(i), group_progress))
        if current != src and os.path.exists(current):
            os.unlink(current)
        current = target
        i = last + 1
    progress(1.0)
    return ChainResult(steps=tuple(results), output=out, seconds=time.monotonic() - start)


def _steps_done(f: float, weights: Sequence[float]) -> float:
    """How many of a pass's steps (fractional) count as done when it has done ``f`` of its frames."""
    total = sum(weights)
    if total <= 0:
        return f * len(weights)
    target, acc = f * total, 0.0
    for j, w in enumerate(weights):
        if target <= acc + w or j == len(weights) - 1:
            return j + (min(1.0, (target - acc) / w) if w > 0 else 1.0)
        acc += w
    return float(len(weights))


def _fusable(chosen: Sequence[Route], i: int, current: str) -> tuple[Any, int] | None:
    """(probe of ``current``, index of the last step) when steps i … last are frame routes that run
    as one pass; None: step i runs alone."""
    from flickerd.routes.frame_stream import FrameRoute, is_planar

    last = i
    while last + 1 < len(chosen) and isinstance(chosen[last + 1], FrameRoute) and isinstance(chosen[i], FrameRoute):
        last += 1
    if last == i:
        return None
    from flickerd.media.probe import probe

    info = probe(current)
    return (info, last) if is_planar(info) else None

"""TOML rule tables → ``flickerd.rules.Rule`` records, and the rules hash.

One rule in TOML::

    [[folders.rules]]
    name = "generative"
    when = { verdict = ["generative_flicker"], min_scores = { luma_flicker = 0.5 } }
    action = "fix"                     # fix | review | report | attention
    steps = [ { route = "normalize" }, { route = "rife", params = { mode = "smooth" } } ]
    fallback = [ "normalize" ]         # a bare string is a step without parameters
    note = "why this rule acts so"     # optional: a sentence for the report's notes
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Collection, Mapping
from typing import Any

from flickerd.config_reader import Section, describe, key_path, plain, suggestion
from flickerd.diagnose.model import Verdict
from flickerd.errors import ConfigError
from flickerd.routes.base import Step
from flickerd.rules import Action, Match, Rule, with_defaults

RULES_HASH_VERSION = "rules-v1"  # bump when the hashed form below changes

# Route → its parameter class ("module:Class" with ``from_mapping(data, path)``), imported only
# when a config uses that route, so a misspelt parameter fails at load time, not mid-job.
ROUTE_PARAMS: dict[str, str] = {
    "normalize": "flickerd.routes.normalize:NormalizeParams",
    "detail": "flickerd.routes.detail:DetailParams",
    "guided": "flickerd.routes.guided:GuidedParams",
    "drift": "flickerd.routes.drift:DriftParams",
    "ffmpeg": "flickerd.routes.ffmpeg_filters:FfmpegParams",
    "rife": "flickerd.routes.rife.params:RifeParams",
    "regenerate": "flickerd.routes.regenerate.settings:RegenerateSettings",
}
_STEP_ACTIONS = (Action.FIX, Action.REVIEW)
_VERDICTS = tuple(v.value for v in Verdict)
_ACTIONS = tuple(a.value for a in Action)


def read_rules(sections: list[Section], path: str, routes: Collection[str]) -> tuple[Rule, ...]:
    """Build the ordered rules of one ``[[rules]]`` array; errors collect in the sections."""
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, section in enumerate(sections):
        rule = _read_rule(section, i, routes)
        if rule.name in seen:
            first = key_path(path, seen[rule.name])
            section.fail("name", f"{rule.name!r} is already the name of {first}; rule names must be unique.")
        seen.setdefault(rule.name, i)
        rules.append(rule)
    return tuple(rules)


def _read_rule(section: Section, index: int, routes: Collection[str]) -> Rule:
    name = section.get_str("name", f"rule{index + 1}", allow_empty=False)
    match = _read_match(section.get_table("when"))
    action = Action(section.get_choice("action", Action.FIX.value, _ACTIONS))
    errors_before = len(section.errors)
    steps = read_steps(section, "steps", routes)
    fallback = read_steps(section, "fallback", routes)
    if action in _STEP_ACTIONS and not steps and len(section.errors) == errors_before:
        section.fail("steps", f"a rule with action {action.value!r} needs at least one step.")
    if action not in _STEP_ACTIONS:
        for key in ("steps", "fallback"):
            if section.has(key) and section.raw(key):
                section.fail(key, f"a rule with action {action.value!r} writes no video, so it takes no {key}; "
                                  "remove them.")
    note = section.get_str("note", "")
    section.finish()
    return Rule(name=name, match=match, action=action, steps=steps, fallback=fallback, note=note)


def _read_match(when: Section) -> Match:
    verdicts = _read_verdicts(when)
    match = Match(
        verdicts=verdicts,
        min_scores=_read_scores(when, "min_scores"),
        max_scores=_read_scores(when, "max_scores"),
        min_confidence=when.get_float("min_confidence", 0.0, min_value=0.0, max_value=1.0),
        min_pixels=when.get_int("min_pixels", 0, min_value=0),
        max_pixels=when.get_int("max_pixels", 0, min_value=0),
        min_duration_s=when.get_float("min_duration_s", 0.0, min_value=0.0),
        max_duration_s=when.get_float("max_duration_s", 0.0, min_value=0.0),
        sidecar=when.get_optional_bool("sidecar"),
        gpu=when.get_optional_bool("gpu"),
    )
    when.finish()
    if match.max_pixels and match.min_pixels > match.max_pixels:
        when.fail("min_pixels", f"is larger than max_pixels ({match.max_pixels}), so the rule can never match.")
    if match.max_duration_s and match.min_duration_s > match.max_duration_s:
        when.fail("min_duration_s",
                  f"is larger than max_duration_s ({match.max_duration_s:g}), so the rule can never match.")
    return match


def _read_scores(when: Section, key: str) -> dict[str, float]:
    """Score thresholds; a misspelt score name would make the rule silently never match."""
    scores = when.get_number_map(key)
    names = known_scores()
    if names:
        for name in scores:
            if name not in names:
                hint = suggestion(name, names) or f"; known scores: {', '.join(sorted(names))}."
                when.errors.append(f"{key_path(when.where(key), name)}: unknown score{hint}")
    return scores


def known_scores() -> frozenset[str] | None:
    """The score names a diagnosis reports (``SCORE_NAMES`` of the diagnosis), if it declares them."""
    for module in ("flickerd.diagnose.verdict", "flickerd.diagnose.model"):
        try:
            names = getattr(importlib.import_module(module), "SCORE_NAMES", None)
        except ImportError:
            continue
        if names:
            return frozenset(names)
    return None


def _read_verdicts(when: Section) -> tuple[Verdict, ...]:
    """``verdict`` is one name or an array of names."""
    value = when.raw("verdict", [])
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list):
        when.fail("verdict", f"expected a verdict name or an array of them, got {describe(value)}.")
        return ()
    verdicts: list[Verdict] = []
    for i, name in enumerate(names):
        where = key_path(when.where("verdict"), i) if isinstance(value, list) else when.where("verdict")
        if name not in _VERDICTS:
            hint = suggestion(name, _VERDICTS) if isinstance(name, str) else ""
            hint = hint or f"; expected one of {', '.join(_VERDICTS)}."
            when.errors.append(f"{where}: unknown verdict {describe(name)}{hint}")
            continue
        verdicts.append(Verdict(name))
    return tuple(verdicts)


def read_steps(section: Section, key: str, routes: Collection[str]) -> tuple[Step, ...]:
    """An array of steps: ``{ route = "...", params = {...} }`` or a bare route name."""
    value = section.raw(key, [])
    if not isinstance(value, list):
        section.fail(key, f"expected an array of steps, got {describe(value)}.")
        return ()
    steps: list[Step] = []
    for i, item in enumerate(value):
        where = key_path(section.where(key), i)
        if isinstance(item, str):
            item = {"route": item}
            route_where = where
        elif isinstance(item, Mapping):
            route_where = key_path(where, "route")
        else:
            section.errors.append(f"{where}: expected a step table or a route name, got {describe(item)}.")
            continue
        step = Section(item, where, section.errors)
        route = step.get_str("route", "", allow_empty=False)
        if not step.has("route"):
            step.fail("route", "every step needs a route.")
        elif route and route not in routes:
            known = ", ".join(sorted(routes)) or "none registered"
            hint = suggestion(route, routes)
            section.errors.append(f"{route_where}: unknown route {route!r}{hint or '.'} Known routes: {known}.")
        params = step.get_plain("params")
        if route in routes and step.has("params"):
            check_params(route, params, step.where("params"), section.errors)
        step.finish()
        steps.append(Step(route, params))
    return tuple(steps)


def read_route_params(section: Section, routes: Collection[str]) -> dict[str, dict[str, Any]]:
    """``[routes.NAME]`` tables: default parameters for every step of that route."""
    out: dict[str, dict[str, Any]] = {}
    for name in list(section.data):
        table = section.get_table(name)
        if name not in routes:
            known = ", ".join(sorted(routes)) or "none registered"
            section.fail(name, f"unknown route{suggestion(name, routes) or '.'} Known routes: {known}.")
            continue
        out[name] = plain(table.data, table.path, section.errors)
        check_params(name, out[name], table.path, section.errors)
    return out


def check_params(route: str, params: Mapping[str, Any], path: str, errors: list[str]) -> None:
    """Validate ``params`` with the route's parameter class, if it has one; errors go to ``errors``."""
    target = ROUTE_PARAMS.get(route)
    if target is None:
        return
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        return  # the route is not installed in this build; get_route will say so if it runs
    try:
        cls.from_mapping(params, path)
    except ConfigError as exc:
        errors.append(str(exc))
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        errors.append(f"{path}: {exc}")  # the class missed a case; still a config error


def with_route_params(rules: tuple[Rule, ...], route_params: Mapping[str, Mapping[str, Any]]) -> tuple[Rule, ...]:
    """The rules with each step's parameters laid over its route's defaults."""
    if not route_params:
        return rules
    return tuple(
        Rule(r.name, r.match, r.action, with_defaults(r.steps, route_params), with_defaults(r.fallback, route_params),
             r.note) for r in rules
    )


def rules_hash(rules: tuple[Rule, ...]) -> str:
    """A stable hash of the effective rules (steps carry their route parameters).

    Part of a job's idempotence key: the same content under the same rules runs once.
    """
    form = [RULES_HASH_VERSION, [_rule_form(r) for r in rules]]
    text = json.dumps(form, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _rule_form(rule: Rule) -> dict[str, Any]:
    m = rule.match
    return {
        "name": rule.name,
        "action": rule.action.value,
        "when": {
            "verdicts": [v.value for v in m.verdicts],
            "min_scores": dict(m.min_scores),
            "max_scores": dict(m.max_scores),
            "min_confidence": m.min_confidence,
            "min_pixels": m.min_pixels,
            "max_pixels": m.max_pixels,
            "min_duration_s": m.min_duration_s,
            "max_duration_s": m.max_duration_s,
            "sidecar": m.sidecar,
            "gpu": m.gpu,
        },
        "steps": [[s.route, dict(s.params)] for s in rule.steps],
        "fallback": [[s.route, dict(s.params)] for s in rule.fallback],
    }

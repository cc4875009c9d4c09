"""Reading a route's ``params`` table into its frozen params record: known keys, types, ranges.

Every error names the key path (``folders[0].rules[1].steps[0].params.window``), as the config
loader promises. Keys starting with ``_`` are the chain's private parameters and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from flickerd.config_reader import suggestion
from flickerd.errors import ConfigError


def read_fields(cls: type, data: Mapping[str, Any], path: str, route: str,
                kinds: Mapping[str, tuple[type, ...]]) -> dict[str, Any]:
    """The table's values by field name, type-checked (ints widen to float where a float is wanted)."""
    names = {f.name for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key.startswith("_"):
            continue
        if key not in names:
            raise unknown_parameter(path, key, route, names)
        values[key] = check_type(f"{path}.{key}", value, kinds[key])
    return values


def unknown_parameter(path: str, key: str, route: str, known: Iterable[str]) -> ConfigError:
    """``PATH.KEY: unknown parameter of the ROUTE route; did you mean 'x'? Known: ...``, as other config errors say."""
    hint = suggestion(key, known)
    return ConfigError(f"{path}.{key}: unknown parameter of the {route} route{hint or '.'} "
                       f"Known: {', '.join(sorted(known))}.")


def check_type(path: str, value: Any, kinds: tuple[type, ...]) -> Any:
    """``value`` if it is one of ``kinds`` (a bool only where bool is listed: it is an int in Python)."""
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        names = " or ".join("list" if k is tuple else k.__name__ for k in kinds if k is not list)
        raise ConfigError(f"{path}: expected {names}, got {value!r}.")
    if float in kinds and not isinstance(value, bool) and isinstance(value, int):
        return float(value)
    return value


def check_range(path: str, key: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        raise ConfigError(f"{path}.{key}: expected a value in {lo}–{hi}, got {value}.")


def check_choice(path: str, key: str, value: Any, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"{path}.{key}: expected one of {', '.join(choices)}, got {value!r}.")

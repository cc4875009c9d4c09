"""One flat TOML table → the keyword arguments of a frozen settings dataclass, typed by its defaults.

Shared by the settings records that are plain tables of numbers, flags and names
(``[diagnose]``, ``[reports]``); errors name the key path (``diagnose.max_side``). Light on
purpose: the diagnosis imports it before numpy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from flickerd.errors import ConfigError


def table_kwargs(cls: type, data: Any, path: str) -> dict[str, Any]:
    """Check ``data`` against ``cls``'s fields: unknown keys and values of the wrong type raise
    ``ConfigError``; ints are taken where floats are expected; lists become tuples of positive ints."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a table, got {type(data).__name__}.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"{path}.{key}: unknown key; expected one of {', '.join(fields)}.")
        default = fields[key].default
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif isinstance(default, tuple):
            ok = isinstance(value, (list, tuple)) and len(value) == len(default) and all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
            value = tuple(value) if ok else value
        else:
            ok = isinstance(value, str)
        if not ok:
            raise ConfigError(f"{path}.{key}: expected {type(default).__name__}, got {value!r}.")
        kwargs[key] = value
    return kwargs

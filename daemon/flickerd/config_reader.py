"""Typed reading of parsed TOML tables, with errors that name the key path.

A ``Section`` wraps one table and its path (``folders[1].rules[0]``). Each ``get_*`` call
checks one key's type and range and remembers that the key was used; ``finish()`` reports
every key nobody asked for, with a "did you mean" suggestion. Errors are collected, not
raised, so one run of ``flickerd check-config`` shows them all; a failed read returns the
default so reading can go on.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from flickerd.errors import ConfigError

T = TypeVar("T")

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_SHOWN_CHARS = 40


def key_path(parent: str, key: str | int) -> str:
    """``parent`` + ``key`` in the form users type: ``a.b``, ``a[0]``, ``a."odd key"``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    name = key if _BARE_KEY.match(key) else '"' + key.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    return f"{parent}.{name}" if parent else name


def describe(value: Any) -> str:
    """A short description of a TOML value for an error message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return f"a date/time ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= _SHOWN_CHARS else value[: _SHOWN_CHARS - 3] + "..."
        return repr(shown)
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def suggestion(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when a close match exists, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def plain(value: Any, path: str, errors: list[str]) -> Any:
    """A copy of a TOML value as plain JSON-like data (dict, list, str, int, float, bool).

    Dates and times are refused: no setting takes one, and they would not survive the
    JSON report or the rules hash.
    """
    if isinstance(value, Mapping):
        return {str(k): plain(v, key_path(path, str(k)), errors) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, key_path(path, i), errors) for i, v in enumerate(value)]
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        errors.append(f"{path}: expected a string, number, boolean, array or table, got {describe(value)}.")
        return None
    if isinstance(value, float) and not math.isfinite(value):
        errors.append(f"{path}: expected a finite number, got {describe(value)}.")
        return None
    return value


class Section:
    """One TOML table being read; see the module docstring."""

    __slots__ = ("data", "path", "errors", "_used")

    def __init__(self, data: Mapping[str, Any], path: str = "", errors: list[str] | None = None) -> None:
        self.data = data
        self.path = path
        self.errors: list[str] = [] if errors is None else errors
        self._used: set[str] = set()

    # --- bookkeeping -------------------------------------------------------------------

    def where(self, key: str | int) -> str:
        return key_path(self.path, key)

    def fail(self, key: str | int, message: str) -> None:
        self.errors.append(f"{self.where(key)}: {message}")

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = None) -> Any:
        self._used.add(key)
        return self.data.get(key, default)

    def finish(self, known: Iterable[str] = ()) -> None:
        """Report the keys that were never read (plus ``known``, read elsewhere) as unknown."""
        allowed = self._used | set(known)
        for key in self.data:
            if key not in allowed:
                known_keys = f"; known keys: {', '.join(sorted(allowed))}." if allowed else "."
                hint = suggestion(key, allowed) or known_keys
                self.fail(key, f"unknown key{hint}")

    def raise_if_failed(self, source: str | None) -> None:
        if self.errors:
            raise ConfigError(format_errors(source, self.errors))

    # --- typed getters -----------------------------------------------------------------

    def _typed(self, key: str, default: T, check, expected: str) -> T:
        if key not in self.data:
            self._used.add(key)
            return default
        value = self.raw(key)
        if not check(value):
            self.fail(key, f"expected {expected}, got {describe(value)}.")
            return default
        return value

    def get_str(self, key: str, default: str, *, allow_empty: bool = True) -> str:
        value = self._typed(key, default, lambda v: isinstance(v, str), "a string")
        if "\x00" in value:
            self.fail(key, "must not contain a NUL character.")
            return default
        if not allow_empty and not value and self.has(key):
            self.fail(key, "must not be empty.")
            return default
        return value

    def get_optional_str(self, key: str) -> str | None:
        """A string where an absent key or ``""`` means "not set" (TOML has no null)."""
        value = self.get_str(key, "")
        return value or None

    def get_bool(self, key: str, default: bool) -> bool:
        return self._typed(key, default, lambda v: isinstance(v, bool), "true or false")

    def get_optional_bool(self, key: str) -> bool | None:
        return self._typed(key, None, lambda v: isinstance(v, bool), "true or false")

    def get_int(self, key: str, default: int, *, min_value: int | None = None, max_value: int | None = None) -> int:
        value = self._typed(key, default, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")
        return self._in_range(key, value, default, min_value, max_value)

    def get_float(
        self, key: str, default: float, *, min_value: float | None = None, max_value: float | None = None,
        positive: bool = False,
    ) -> float:
        value = self._typed(
            key, default, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"
        )
        try:
            value = float(value)
        except OverflowError:
            self.fail(key, f"the number {describe(self.data.get(key))} is out of range.")
            return default
        if not math.isfinite(value):
            self.fail(key, f"expected a finite number, got {describe(value)}.")
            return default
        if positive and value <= 0:
            self.fail(key, f"must be greater than 0, got {value:g}.")
            return default
        return self._in_range(key, value, default, min_value, max_value)

    def _in_range(self, key: str, value, default, min_value, max_value):
        if min_value is not None and value < min_value:
            self.fail(key, f"must be at least {min_value}, got {value}.")
            return default
        if max_value is not None and value > max_value:
            self.fail(key, f"must be at most {max_value}, got {value}.")
            return default
        return value

    def get_choice(self, key: str, default: str, choices: Iterable[str]) -> str:
        choices = tuple(choices)
        value = self.get_str(key, default)
        if value not in choices:
            listed = ", ".join(repr(c) for c in choices)
            self.fail(key, f"expected one of {listed}, got {describe(value)}{suggestion(value, choices) or '.'}")
            return default
        return value

    def get_str_list(self, key: str, default: tuple[str, ...], *, allow_empty: bool = False) -> tuple[str, ...]:
        value = self._typed(key, None, lambda v: isinstance(v, list), "an array of strings")
        if value is None:
            return default
        if not value and not allow_empty:
            self.fail(key, "must not be empty.")
            return default
        out: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item or "\x00" in item:
                where = key_path(self.where(key), i)
                self.errors.append(f"{where}: expected a non-empty string, got {describe(item)}.")
                return default
            out.append(item)
        return tuple(out)

    def get_number_map(self, key: str) -> dict[str, float]:
        """A table of ``name = number`` (score thresholds)."""
        table = self.get_table(key)
        out: dict[str, float] = {}
        for name in list(table.data):
            out[str(name)] = table.get_float(name, 0.0)
        return out

    def get_table(self, key: str) -> Section:
        """The sub-table ``key`` (empty when absent); a non-table value is an error."""
        value = self._typed(key, {}, lambda v: isinstance(v, Mapping), "a table")
        return Section(value, self.where(key), self.errors)

    def get_tables(self, key: str) -> list[Section]:
        """An array of tables (``[[key]]``); absent means empty."""
        if isinstance(self.data.get(key), Mapping):  # [key] written where [[key]] was meant
            self.raw(key)
            self.fail(key, f"expected an array of tables, got a table; write [[{key}]] (double brackets) per entry.")
            return []
        value = self._typed(key, [], lambda v: isinstance(v, list), "an array of tables")
        sections: list[Section] = []
        for i, item in enumerate(value):
            where = key_path(self.where(key), i)
            if not isinstance(item, Mapping):
                self.errors.append(f"{where}: expected a table, got {describe(item)}.")
                continue
            sections.append(Section(item, where, self.errors))
        return sections

    def get_plain(self, key: str) -> dict[str, Any]:
        """A sub-table kept as plain data (sections owned by other modules)."""
        table = self.get_table(key)
        return plain(table.data, table.path, self.errors)


def format_errors(source: str | None, errors: list[str]) -> str:
    """One message for all errors: ``FILE: path: problem``, or a count and one error a line."""
    prefix = f"{source}: " if source else ""
    if len(errors) == 1:
        return prefix + errors[0]
    lines = "\n".join(f"  {e}" for e in errors)
    return f"{prefix}{len(errors)} errors:\n{lines}"

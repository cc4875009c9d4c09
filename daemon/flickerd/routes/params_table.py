"""Reading a route's ``params`` table into its frozen params record: known keys, types, ranges.

Every error names the key path (``folders[0].rules[1].steps[0].params.window``), as the config
loader promises. Keys starting with ``_`` are the chain's private parameters and are skipped.
The types a key accepts follow from its field's annotation (``KINDS``); a record that is only
keys, types, ranges and choices says those as ``RouteParams`` class attributes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from typing import Any, ClassVar, TypeVar

from flickerd.config_reader import suggestion
from flickerd.errors import ConfigError

# A field's annotation -> the TOML value types it accepts, in the order an error names them
# (an int is accepted where a float is wanted; a list where a tuple is).
KINDS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "str": (str,),
    "str | None": (str, type(None)),
    "int | str": (int, str),
    "float | None": (float, int, type(None)),
    "tuple[int, ...]": (list, tuple),
}


def kinds_of(cls: type) -> dict[str, tuple[type, ...]]:
    """The accepted types of each of ``cls``'s fields, read from its annotations."""
    return {f.name: KINDS[f.type if isinstance(f.type, str) else f.type.__name__] for f in fields(cls)}


def read_fields(cls: type, data: Mapping[str, Any], path: str, route: str) -> dict[str, Any]:
    """The table's values by field name, type-checked (ints widen to float where a float is wanted)."""
    kinds = kinds_of(cls)
    names = set(kinds)
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


def check_frame_list(path: str, key: str, value: Any, first: int) -> tuple[int, ...]:
    """A list of frame indices ``≥ first`` (0 or 1) as a sorted tuple without repeats."""
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= first for v in value):
        bound = "≥ 0" if first == 0 else f"> {first - 1}"
        raise ConfigError(f"{path}.{key}: expected a list of frame indices (integers {bound}), got {value!r}.")
    return tuple(sorted(set(value)))


P = TypeVar("P", bound="RouteParams")


class RouteParams:
    """What a route's frozen params record (a dataclass deriving from this) has in common.

    ``from_mapping`` reads the table (``read_fields``: known keys, types from the annotations),
    turns the ``FRAME_LISTS`` keys into sorted tuples of frame indices (each ≥ its given first
    index), builds the record, then checks ``RANGES`` (key → (lo, hi), in order) and ``CHOICES``
    (key → allowed values). ``to_dict`` gives the effective values, tuples as lists (as TOML and
    JSON hold them).
    """

    __slots__ = ()
    ROUTE: ClassVar[str]
    RANGES: ClassVar[Mapping[str, tuple[float, float]]] = {}
    CHOICES: ClassVar[Mapping[str, Iterable[str]]] = {}
    FRAME_LISTS: ClassVar[Mapping[str, int]] = {}

    @classmethod
    def from_mapping(cls: type[P], data: Mapping[str, Any], path: str = "params") -> P:
        """Check keys, types and ranges; private keys (``_intermediate``) belong to the chain."""
        values = read_fields(cls, data, path, cls.ROUTE)
        for key, first in cls.FRAME_LISTS.items():
            if key in values:
                values[key] = check_frame_list(path, key, values[key], first)
        p = cls(**values)
        for key, (lo, hi) in cls.RANGES.items():
            check_range(path, key, getattr(p, key), lo, hi)
        for key, choices in cls.CHOICES.items():
            check_choice(path, key, getattr(p, key), choices)
        return p

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

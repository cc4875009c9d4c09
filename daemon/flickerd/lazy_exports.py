"""Package names that load their module on first use (a module-level ``__getattr__``, PEP 562).

``flickerd.diagnose`` and ``flickerd.media`` re-export names whose modules pull in numpy and
OpenCV; loading those only when a name is used lets the decoder start before them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A ``__getattr__`` for ``package`` that imports ``package.<homes[name]>`` when ``name`` is first used."""

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{homes[name]}"), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    return __getattr__

"""Run one benchmark: ``python -m bench NAME [ARGS]``; with no NAME, list them.

Every module ``bench/NAME.py`` with a ``main(argv) -> int`` is a benchmark; its docstring's
first line is its description.
"""

import importlib
import pkgutil
import sys
from pathlib import Path


def _names() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "list"):
        for name in _names():
            doc = (importlib.import_module(f"bench.{name}").__doc__ or "").strip().splitlines()
            print(f"{name:28s} {doc[0] if doc else ''}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in _names():
        print(f"unknown benchmark {name!r}; run `python -m bench` for the list", file=sys.stderr)
        return 2
    return int(importlib.import_module(f"bench.{name}").main(rest) or 0)


raise SystemExit(main(sys.argv[1:]))

"""The media modules import one another without a circle (sequence ↔ reader made one: a module
that half-loads depending on which of the two is imported first)."""

from __future__ import annotations

import ast
from pathlib import Path

import flickerd.media

MEDIA = Path(flickerd.media.__file__).parent


def _imports() -> dict[str, set[str]]:
    """Each media module's media imports, function-level ones included."""
    graph = {}
    for path in MEDIA.glob("*.py"):
        tree = ast.parse(path.read_text())
        found = {n.module.rsplit(".", 1)[1] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("flickerd.media.")}
        graph[path.stem] = found
    return graph


def test_media_modules_import_no_circle():
    graph = _imports()
    assert "sequence" in graph["reader"]  # the graph was read

    def reaches(start: str, seen: tuple[str, ...]) -> None:
        for nxt in sorted(graph.get(start, ())):
            assert nxt not in seen, " → ".join((*seen, nxt))
            reaches(nxt, (*seen, nxt))

    for module in graph:
        reaches(module, (module,))

"""Validating reports against the shipped JSON Schema (``flickerd/report/report.schema.json``)."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from flickerd.report.json_report import SCHEMA_FILE


@functools.lru_cache(maxsize=1)
def validator():
    import jsonschema

    schema = json.loads(Path(SCHEMA_FILE).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def problems(document: object) -> list[str]:
    """Every way ``document`` breaks the schema, one line each (empty when valid)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in sorted(validator().iter_errors(document), key=lambda e: list(map(str, e.path)))]


def check_file(path: str | os.PathLike) -> list[str]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"not JSON: {exc}"]
    return problems(document)


def reports_under(folder: str | os.PathLike) -> list[Path]:
    """Published reports below ``folder`` (temp names are not reports yet)."""
    return [p for p in Path(folder).rglob("*.report.json") if not p.name.startswith(".") and p.is_file()]

"""Seam lists merged by one rule, without numpy: the rules and verification import it cheaply.

A seam named by someone (a sidecar, a rule, the drift step that corrected it) and one found by
the diagnosis within ``REFINE`` frames of it are the same join: the named one stands.
"""

from __future__ import annotations

from collections.abc import Iterable

REFINE = 4  # frames either side of the filtered edge where a seam may sit


def merged(named: Iterable[int], found: Iterable[int]) -> tuple[int, ...]:
    """``named`` and every ``found`` seam more than ``REFINE`` frames from each named one, sorted."""
    kept = {int(s) for s in named}
    return tuple(sorted(kept | {int(f) for f in found if all(abs(int(f) - g) > REFINE for g in kept)}))

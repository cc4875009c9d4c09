"""Frame-rate multiplication: 2× inserts the midpoint of each pair, 4× recurses once more.

Source frames pass through untouched at output positions 0, f, 2f, ... so with the output
rate at f × the source rate every source frame keeps its timestamp. The last source frame
is held for f output frames, so the clip keeps its duration (and its audio lines up).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from flickerd.routes.rife.midpoint import Midpointer
from flickerd.routes.rife.params import FACTORS


def _middles(midpointer: Midpointer, pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> list[torch.Tensor]:
    got = midpointer.middle(torch.stack([a for a, _ in pairs]), torch.stack([b for _, b in pairs]))
    return list(got.image)


def _expand(pairs: list[tuple[torch.Tensor, torch.Tensor]], midpointer: Midpointer, factor: int) -> Iterator[torch.Tensor]:
    """For each pair (a, b): a, then the ``factor`` - 1 frames between a and b."""
    half = _middles(midpointer, pairs)
    if factor == 2:
        for (a, _), m in zip(pairs, half):
            yield a
            yield m
        return
    # HDv3 has no time input: quarter points are midpoints of the halves.
    quarters = _middles(midpointer, [(a, m) for (a, _), m in zip(pairs, half)] + [(m, b) for (_, b), m in zip(pairs, half)])
    n = len(pairs)
    for i, (a, _) in enumerate(pairs):
        yield a
        yield quarters[i]
        yield half[i]
        yield quarters[n + i]


def interpolate(
    frames: Iterable[torch.Tensor], midpointer: Midpointer, *, factor: int = 2, batch: int = 1
) -> Iterator[torch.Tensor]:
    """``factor`` output frames per source frame; holds at most ``batch`` + 1 source frames."""
    if factor not in FACTORS:
        raise ValueError(f"factor must be one of {FACTORS}, got {factor}")
    pending: list[tuple[torch.Tensor, torch.Tensor]] = []
    prev: torch.Tensor | None = None
    for cur in frames:
        if prev is not None:
            pending.append((prev, cur))
            if len(pending) >= batch:
                yield from _expand(pending, midpointer, factor)
                pending = []
        prev = cur
    if pending:
        yield from _expand(pending, midpointer, factor)
    if prev is not None:
        for _ in range(factor):
            yield prev

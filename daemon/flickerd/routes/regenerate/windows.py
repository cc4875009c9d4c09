"""Overlapping windows for clips longer than one model call, and the cross-fade that joins them (pure).

Each window is sent to the model at a valid length for its family (k * step + 1 frames); a clip
shorter than one window is padded by repeating its last frame and the padding is dropped again.
The last window is aligned to the clip's end so every window runs at full length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Window:
    start: int  # first model frame, inclusive
    stop: int  # last model frame, exclusive
    length: int  # frames sent to the model (>= stop - start; the rest is padding)

    @property
    def frames(self) -> int:
        return self.stop - self.start


def valid_length(n: int, step: int) -> int:
    """The smallest valid frame count (k * step + 1) that holds ``n`` frames."""
    return n if step <= 1 else ((max(n, 1) - 1 + step - 1) // step) * step + 1


def plan_windows(total: int, window: int, overlap: int, step: int = 1) -> tuple[Window, ...]:
    """Cover ``total`` frames with windows of ``window`` frames overlapping by at least ``overlap``."""
    if total < 1:
        raise ValueError(f"nothing to cover: {total} frames")
    if window < 2 or (step > 1 and (window - 1) % step):
        raise ValueError(f"window {window} is not a valid length for frame step {step}")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap {overlap} must be at least 0 and below the window ({window})")
    if total <= window:
        return (Window(0, total, valid_length(total, step)),)
    hop = window - overlap
    starts = list(range(0, total - window, hop)) + [total - window]
    return tuple(Window(s, s + window, window) for s in starts)


def crossfade_weights(n: int) -> np.ndarray:
    """Weights of the *new* window over ``n`` overlapping frames, rising linearly, excluding 0 and 1."""
    return (np.arange(1, n + 1, dtype=np.float32) / (n + 1)).reshape(n, 1, 1, 1)


def crossfade(previous_tail: np.ndarray, new_head: np.ndarray) -> np.ndarray:
    """Blend two renderings of the same frames (N×H×W×C float): the old one fades out, the new in."""
    if previous_tail.shape != new_head.shape:
        raise ValueError(f"overlap shapes differ: {previous_tail.shape} vs {new_head.shape}")
    w = crossfade_weights(previous_tail.shape[0])
    return previous_tail * (1.0 - w) + new_head * w

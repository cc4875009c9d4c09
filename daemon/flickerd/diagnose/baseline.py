"""The seed's measure and VBench's, kept only for comparison.

``mean_diff``: mean |F_t − F_{t−1}| over RGB in grey levels (the seed called a clip
"generative" above 12). ``vbench_flickering``: (255 − mean|F_t − F_{t+1}|)/255, only
meaningful on static shots.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

SEED_THRESHOLD = 12.0


def mean_diff(prev: np.ndarray, cur: np.ndarray) -> float:
    return float(np.mean(cv2.mean(cv2.absdiff(prev, cur))[:3]))


def vbench_flickering(diffs: Sequence[float]) -> float:
    return float((255.0 - np.mean(diffs)) / 255.0) if len(diffs) else 1.0


def seed_verdict(mean_of_diffs: float) -> str:
    """The seed's rule: generative flicker when the mean inter-frame diff exceeds 12, else codec."""
    return "generative_flicker" if mean_of_diffs > SEED_THRESHOLD else "codec_artifacts"

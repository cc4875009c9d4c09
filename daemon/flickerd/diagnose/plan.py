"""Which frames a diagnosis reads and at what sizes, and the decoder started on them.

The plan depends only on the probe and the settings, so ``start`` can set the decoder
going before numpy, OpenCV and the measures are imported: ``flickerd diagnose`` does that
for its first file, and the decoding overlaps the imports on the second core. This module
must stay light (PyAV only) for that reason.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from flickerd.diagnose.settings import DiagnoseSettings
from flickerd.media.planes import PlaneReader
from flickerd.media.probe import MediaInfo, probe_open

DETAIL_MAX_SIDE = 1280  # frames are analysed at most this large (halving) for blocking and fine texture


@dataclass(frozen=True, slots=True)
class Plan:
    total: int  # frames the probe announces (at least 1)
    detail_scale: float  # blocking and fine texture
    scale: float  # flow, flicker, banding: the detail scale halved until it fits ``max_side``
    stride: int  # the pairs (t-1, t) and (t, t+1) with t % stride < 2 get the flow measures
    sample_every: int  # when every frame is read (stride ≤ 2): every n-th frame gets the codec measures
    codec_per_triple: int  # otherwise: n frames of each triple get them (the middle one, the next, the one before)

    @classmethod
    def of(cls, info: MediaInfo, s: DiagnoseSettings) -> Plan:
        total = max(1, info.frame_count)
        detail_scale = _halve_until(info.width, info.height, s.scale, DETAIL_MAX_SIDE)
        stride = s.pair_stride
        if s.max_pairs and total > max(s.max_pairs, s.every_pair_up_to):
            # pairs are analysed two at a time (a triple of frames) for the second differences
            stride = max(stride, math.ceil(2 * total / s.max_pairs))
        triples = -(-total // stride)
        return cls(total, detail_scale, _halve_until(info.width, info.height, detail_scale, s.max_side), stride,
                   max(1, total // max(1, s.codec_samples)), min(3, -(-s.codec_samples // triples)))

    @property
    def factor(self) -> int:
        """Detail pixels per analysis pixel."""
        return round(self.detail_scale / self.scale)

    def sampled_pair(self, t: int) -> bool:
        """Whether the pair (t−1, t) gets the flow-based measures (given both frames were decoded)."""
        return self.stride == 1 or t % self.stride < 2

    def codec_sample(self, t: int) -> bool:
        """Whether frame ``t`` gets the codec measures (banding, blocking).

        When frames are skipped these are frames of the triples (t, t+1, then t−1): the decoder
        and the pair measures' resizing have made them anyway, where a frame of its own cost
        about 1 ms more (at 720x480), and twice that when it is a B-frame nothing else needed.
        """
        if self.stride <= 2:
            return t % self.sample_every == 0
        return (t + (self.codec_per_triple == 3)) % self.stride < self.codec_per_triple

    def wanted(self, t: int) -> bool:
        """Whether frame ``t`` is read by a sampled pair (its codec samples are among those frames)."""
        return (t + 1) % self.stride < 3

    def reader(self, path: str, container=None) -> PlaneReader:
        # short strides need nearly every frame: not worth the single-packet bookkeeping
        return PlaneReader(path, wanted=self.wanted if self.stride > 2 else None, container=container)


def _halve_until(width: int, height: int, scale: float, max_side: int) -> float:
    """``scale`` halved until the longer side fits ``max_side``.

    Power-of-two factors keep the codec's 8x8 block grid on whole pixels, and let the
    analysis flow be upscaled exactly onto the detail-scale frames.
    """
    while max(width, height) * scale > max_side and scale > 1 / 64:
        scale /= 2
    return scale


@dataclass(frozen=True, slots=True)
class Started:
    """A probed file with its plan and its decoder already running (``engine.run`` consumes it)."""

    path: str
    info: MediaInfo
    plan: Plan
    reader: PlaneReader


def start(path: str | os.PathLike, settings: DiagnoseSettings) -> Started:
    """Probe ``path`` and start decoding the frames its plan needs. Raises ``InputError`` for bad input."""
    path = os.fspath(path)
    info, container = probe_open(path)  # the decoder takes the probe's container over
    plan = Plan.of(info, settings)
    reader = plan.reader(path, container)
    reader.start()
    return Started(path, info, plan, reader)

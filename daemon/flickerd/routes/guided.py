"""The ``guided`` route: the render's frames made as stable as its source video (the guide).

The chain hands the guide's path in the private ``_guide`` parameter (``process_file`` does,
when a guide was found and checked: same frame count, readable). The guide streams in lockstep
with the render at analysis size, in luma only; the render is processed on its own planes
(planar YUV, 8–12 bit) or in RGB, like ``detail``. See ``guided_core`` for the arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from flickerd.errors import RouteError
from flickerd.flow import PRESETS
from flickerd.media.probe import MediaInfo
from flickerd.routes.base import StepResult
from flickerd.routes.encode import DEFAULT_CRF, DEFAULT_PRESET, Encoding
from flickerd.routes.frame_stream import IN_MEMORY, FrameFormat, FrameStage, StageRoute
from flickerd.routes.guide_stream import GUIDE_PARAM, GuideReader
from flickerd.routes.guided_core import GAIN_HISTORY, MISMATCH, GuidedStabilizer
from flickerd.routes.params_table import RouteParams

RADIUS = 3
TEXTURE_RADIUS = 5
TOLERANCE = 0.03
STRENGTH = 1.0
ANALYSIS_MAX_SIDE = 480
FLOW_PRESET = "medium"


@dataclass(frozen=True, slots=True)
class GuidedParams(RouteParams):
    """Parameters of the ``guided`` route.

    radius: neighbours on each side (1–8) averaged where the guide is stable; more steadies more,
        costs two flows per frame each.
    texture_radius: neighbours on each side for a frame whose luma fine band does not follow the
        guide's (correlation < 0.5: texture re-drawn every frame, which more neighbours average
        out); at or below ``radius``: off, every frame gets ``radius``.
    tolerance: how far (fraction of full scale, 0.005–0.5) the guide's warped neighbour may differ
        from its frame before that neighbour stops counting there.
    strength: 0–1, how far each frame moves toward the guided temporal mean.
    compensate: add to each warped neighbour what the guide changed between it and the frame,
        through the render's local linear response to the guide (a slight misalignment or a real
        change of light then costs little); False: the plain weighted mean.
    detail_gain: before averaging, scale each frame's fine band so its gain against the guide's
        fine band is the recent frames' RMS gain (undoes a per-frame sharpening or softening the guide
        does not have); planes whose fine band does not follow the guide's are left alone.
    gain_history: how many frames back (besides the ``radius`` ahead) that RMS takes in (1–250).
    mismatch: when the guide's still pixels show the render has no flicker of its own (it repeats
        the guide's changes there), a neighbour keeps a pixel only up to this many times the still
        pixels' residual energy, less in proportion beyond (where the guide moves, averaging then
        only blurs: flow errors, a style that does not move rigidly); with ``flicker_cut`` a render
        that flickers is cut too; 0: off, both (version 3's output).
    flicker_cut: a render that does flicker is cut too, where its residual against a neighbour is
        over ``mismatch`` times the flicker expected there (fitted on the still pixels: a constant, noise
        such as re-quantisation, plus a share of the local detail energy, a per-frame sharpening); a
        warp's misfit is then not averaged in as if it were flicker. False: such a render keeps every
        vouched weight (version 6's output).
    analysis_max_side, flow_preset: the size of the guide's frames the flows are computed on, and
        the DIS preset.
    crf, preset, pix_fmt: the final encode (pix_fmt None follows the input).
    """

    radius: int = RADIUS
    texture_radius: int = TEXTURE_RADIUS
    tolerance: float = TOLERANCE
    strength: float = STRENGTH
    compensate: bool = True
    detail_gain: bool = True
    gain_history: int = GAIN_HISTORY
    mismatch: float = MISMATCH
    flicker_cut: bool = True
    analysis_max_side: int = ANALYSIS_MAX_SIDE
    flow_preset: str = FLOW_PRESET
    crf: int = DEFAULT_CRF
    preset: str = DEFAULT_PRESET
    pix_fmt: str | None = None

    ROUTE = "guided"
    RANGES = {"radius": (1, 8), "texture_radius": (1, 8), "tolerance": (0.005, 0.5), "strength": (0.0, 1.0),
              "analysis_max_side": (32, 4096), "gain_history": (1, 250), "mismatch": (0.0, 100.0), "crf": (0, 51)}
    CHOICES = {"flow_preset": PRESETS}


class GuidedRoute(StageRoute):
    """Temporal consistency taken from the source video (see ``GuidedParams``)."""

    name = "guided"
    params_type = GuidedParams
    version = "7"  # 2: the fine-band gain held steady (detail_gain); 3: normalize before it follows the guide's flow;
    # 4: a render with no flicker of its own is not averaged where that only blurs (mismatch); 5: a chroma
    # plane with too few still pixels of its own follows the luma's (it was averaged where luma was not);
    # 6: a frame whose luma detail does not follow the guide's (re-drawn texture) gets texture_radius neighbours;
    # 7: a render that flickers is cut too where a neighbour misfits beyond its flicker (flicker_cut)

    def stage(self, info: MediaInfo, params: Mapping[str, Any], p: GuidedParams | None = None) -> FrameStage:
        """The per-frame work for frames like ``info``'s (see ``frame_stream.FrameStage``): after
        ``normalize`` in a chain, its frames come in memory, not through an intermediate file."""
        p = p or GuidedParams.from_mapping(params)
        guide = params.get(GUIDE_PARAM)
        if not guide:
            raise RouteError("the guided route needs a guide video (NAME.guide.EXT beside the render, the "
                             "sidecar's 'guide' key, or the folder's 'guides' folder); none was given.")
        fmt = FrameFormat.of(info)
        reader = GuideReader(guide)

        def analyse(core: GuidedStabilizer, data: Any) -> tuple[list[np.ndarray], np.ndarray]:
            return fmt.float_planes(data), reader.next()

        def describe(core: GuidedStabilizer | None, written: int, seconds: float, out: str,
                     encoding: Encoding | None) -> StepResult:
            return StepResult(
                route=self.name, version=self.version,
                backend=f"guide dis-flow {p.flow_preset} (opencv {cv2.__version__})",
                params=p.to_dict(), seconds=seconds, output=out,
                extra={
                    "frames": written,
                    "guide": guide,
                    "guide_analysis_size": list(core.guide_size) if core and core.guide_size else [],
                    "mean_neighbour_weight": round(core.mean_weight, 4) if core else 0.0,
                    "encoding": encoding.describe() if encoding else IN_MEMORY,
                    "working_space": f"{info.pix_fmt} planes" if fmt.planar else "rgb",
                },
            )

        return FrameStage(
            lambda w, h: GuidedStabilizer(fmt.peak, p, lead=fmt.lead),
            analyse, fmt.rebuilt, describe, p.crf, p.preset, p.pix_fmt, reader.close)


"""Diagnosis: what is wrong with a clip's temporal stability, from one streaming pass.

``run(path, settings, progress) -> Diagnosis`` is the entry point. Score keys in
``Diagnosis.scores`` (all floats):

==================  =====================================================================
luma_flicker        mean motion-compensated second difference of luma, grey levels (0–255
                    scale); a fade or exposure ramp scores ~0, visible flicker > ~0.3. Pairs
                    across cuts and ending on I-frames are left out
luma_flicker_raw    the same on plain per-frame means, |Y_t − (Y_{t−1}+Y_{t+1})/2|
chroma_flicker      the same for the chroma offset (Cb, Cr), grey levels
local_flicker       mean of the top quarter of the coarse flicker map minus its median cell:
                    per-region second difference of the motion-compensated residual, as far
                    as a neighbouring cell steps the same way at the same time (a region, not
                    one cell's flow error), each cell's one-off spikes capped at its 75th
                    percentile over time, grey levels (how much the worst regions flicker
                    beyond the frame as a whole)
texture_flicker     median over pairs of high-pass residual energy / high-pass detail energy
                    after flow compensation, on native-resolution tiles with their motion
                    refined there (≈0–0.4 tracked, →2 regenerated); on a clip whose
                    ``blocking`` is over its threshold, only the pixels off both frames'
                    8-px block grids count (``blockgrid``: re-quantised blocks are the codec's)
texture_flicker_all the same on all of the tiles' reliable pixels, blocky or not
texture_excess      median over pairs of the fine band's residual ratio (as texture_flicker,
                    same pixels) minus 6 x the same ratio one band coarser (σ 1-2 px): the
                    clip's own tracking error (misalignment, deformation) leaves residual in
                    both bands, re-drawn 1-3 px detail in the fine one only (≈0 tracked,
                    can be < 0; over texture_excess_threshold, when set, it counts as
                    generative flicker; off by default)
warp_error          mean Lai et al. warping error, RGB in [0,1], summed over channels
flow_failure        mean fraction of each frame where the flow check fails
incoherence         the largest isolated replaced area: fraction of the frame whose content
                    neither frame of a pair explains (luma, colour or structure, both ways,
                    not found nearby), above the pairs around it
fade                cross-fades (0 with ``fade_look`` = 0): the largest faded
                    area lasting 3 consecutive long looks (frame t−fade_look against t along the
                    motion chained over the pairs between): replaced there, changed by 56
                    levels both ways, the pairs stepping steadily towards it, its detail another
                    picture's (a light brightening keeps its own); fraction of the frame
banding             median fraction of smooth-area pixels that are band edges (0–1)
blocking            own 8x8 block-boundary step ratio, the larger of its median over sampled
                    frames and its lower median over I-frames (≈1 none, >1.45 blocky)
iframe_spike        warping error on I-frame pairs / median elsewhere (≈1 none, > 4 pumping)
mean_diff           the seed's mean |F_t − F_{t−1}|, grey levels (comparison only)
vbench_flickering   VBench temporal_flickering in [0,1] (comparison only)
cuts                number of scene cuts found
drift               tone and colour accumulated at render-window seams: the largest channel's
                    (mean Y, Cb, Cr, spread of Y) sum of steps, grey levels per 100 frames
drift_saturation    the same for saturation, % of the first window's per 100 frames
seams               number of seams (frames where a window starts: ``Diagnosis.seams``)
==================  =====================================================================

Torch is never imported on this path. The names below load on first use, so that
``flickerd.diagnose.plan`` can start decoding before numpy and OpenCV are imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flickerd.lazy_exports import lazy_exports

_HOME = {"run": "engine", "Diagnosis": "model", "FramePoint": "model", "Segment": "model", "Verdict": "model",
         "DiagnoseSettings": "settings", "warp_errors": "warping"}
__all__ = list(_HOME)

if TYPE_CHECKING:
    from flickerd.diagnose.engine import run
    from flickerd.diagnose.model import Diagnosis, FramePoint, Segment, Verdict
    from flickerd.diagnose.settings import DiagnoseSettings
    from flickerd.diagnose.warping import warp_errors

__getattr__ = lazy_exports(__name__, _HOME)

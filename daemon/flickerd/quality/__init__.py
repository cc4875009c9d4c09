"""Fidelity and artifact measures for verification: pure functions on numpy frames.

``fidelity`` (PSNR, SSIM), ``temporal`` (warping error with a given flow, luma and local
flicker), ``ghosting`` (neighbour blending on moving content), ``sharpness`` (detail kept on
textured regions) and ``vmaf`` (the bundled ffmpeg's libvmaf; the only one that runs a process).
"""

from flickerd.quality.fidelity import psnr, psnr_tone_matched, ssim
from flickerd.quality.ghosting import ghosting, midpoint_estimate
from flickerd.quality.sharpness import detail_energy, texture_mask
from flickerd.quality.temporal import local_residuals, luma_second_difference, warp_error

__all__ = [
    "psnr",
    "psnr_tone_matched",
    "ssim",
    "ghosting",
    "midpoint_estimate",
    "detail_energy",
    "texture_mask",
    "local_residuals",
    "luma_second_difference",
    "warp_error",
]

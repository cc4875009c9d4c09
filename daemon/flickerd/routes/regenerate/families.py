"""What each supported model family accepts: pipeline class, native size, frame-count rule, fps, dtype.

Figures come from the models' own documentation (diffusers docs and model cards): CogVideoX renders
49 frames at 720×480 and 8 fps, frame counts 4N+1 (its VAE compresses time by 4); Wan 2.1 renders
81 frames at 832×480 and 16 fps, also 4N+1, with the VAE kept in fp32; SVD-XT renders 25 frames at
1024×576 and is conditioned on fps (6–7), any frame count.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from flickerd.errors import ConfigError


class Mode(str, Enum):
    VIDEO_TO_VIDEO = "v2v"
    IMAGE_TO_VIDEO = "i2v"
    TEXT_TO_VIDEO = "t2v"


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    pipeline: str  # diffusers class name
    mode: Mode
    width: int  # native size, pixels
    height: int
    frames: int  # native frames per call (the window length)
    frame_step: int  # valid frame counts are k * frame_step + 1 (1: any count)
    fps: float  # the fps the model was trained at
    size_multiple: int  # width and height must be multiples of this
    dtype: str  # weights dtype on CUDA; CPU always runs float32
    vae_dtype: str | None = None  # a different dtype for the VAE (Wan: float32)
    text: bool = True  # takes a prompt
    vae_tiling: bool = True  # the VAE offers enable_tiling()
    guidance: float = 7.5
    pin_last_frame: bool = False  # can also be given the last frame (Wan I2V: last_image)
    flexible_size: bool = False  # False: trained at one size only (learned position embeddings), render at it

    def valid_frames(self, n: int) -> bool:
        return n >= 1 and (n - 1) % self.frame_step == 0


_COG = dict(width=720, height=480, frames=49, frame_step=4, fps=8.0, size_multiple=16, dtype="bfloat16")
_WAN = dict(width=832, height=480, frames=81, frame_step=4, fps=16.0, size_multiple=16, dtype="bfloat16", vae_dtype="float32", flexible_size=True)

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("cogvideox-v2v", "CogVideoXVideoToVideoPipeline", Mode.VIDEO_TO_VIDEO, **_COG),
        Family("cogvideox-i2v", "CogVideoXImageToVideoPipeline", Mode.IMAGE_TO_VIDEO, **_COG),
        Family("cogvideox-t2v", "CogVideoXPipeline", Mode.TEXT_TO_VIDEO, **_COG),
        Family("wan-v2v", "WanVideoToVideoPipeline", Mode.VIDEO_TO_VIDEO, **_WAN),
        Family("wan-i2v", "WanImageToVideoPipeline", Mode.IMAGE_TO_VIDEO, pin_last_frame=True, **_WAN),
        Family("wan-t2v", "WanPipeline", Mode.TEXT_TO_VIDEO, **_WAN),
        Family(
            "svd", "StableVideoDiffusionPipeline", Mode.IMAGE_TO_VIDEO, width=1024, height=576, frames=25,
            frame_step=1, fps=7.0, size_multiple=64, dtype="float16", text=False, vae_tiling=False, guidance=3.0,
        ),
    )
}
"""Every supported family by name (the route's ``family`` parameter)."""


def get_family(name: str, path: str = "params.family") -> Family:
    family = FAMILIES.get(name)
    if family is None:
        raise ConfigError(f"{path}: unknown model family {name!r}; choose one of {', '.join(sorted(FAMILIES))}.")
    return family

"""Map a render's size, frame count and fps to what a model accepts, and back (pure functions).

Time is resampled by nearest frame, never blended: a blend of two frames is itself a flicker.
A model never runs above the render's fps (that would invent frames only to drop them again).
"""

from __future__ import annotations

from dataclasses import dataclass


def round_to(value: float, multiple: int, minimum: int) -> int:
    return max(minimum, int(round(value / multiple)) * multiple)


def model_size(
    src_width: int, src_height: int, width: int, height: int, multiple: int, *, flexible: bool
) -> tuple[int, int]:
    """The (w, h) the model renders at for a ``src_width``×``src_height`` render.

    ``width``×``height`` is the model's native size. A flexible model keeps the render's aspect at
    the native pixel area; a fixed one renders at the native size, turned to the render's orientation
    only when both sides still fit a multiple (the result is resized back either way).
    """
    if src_width <= 0 or src_height <= 0:
        raise ValueError(f"render size must be positive, got {src_width}x{src_height}")
    if not flexible:
        landscape_model = width >= height
        landscape_src = src_width >= src_height
        return (width, height) if landscape_model == landscape_src else (height, width)
    area = width * height
    aspect = src_width / src_height
    w = (area * aspect) ** 0.5
    return round_to(w, multiple, multiple), round_to(w / aspect, multiple, multiple)


@dataclass(frozen=True, slots=True)
class FramePlan:
    """Which render frame feeds each model frame, and which model frame becomes each output frame."""

    model_fps: float
    source_for_model: tuple[int, ...]  # model frame j is made from render frame source_for_model[j]
    model_for_source: tuple[int, ...]  # output frame i is model frame model_for_source[i]

    @property
    def model_frames(self) -> int:
        return len(self.source_for_model)


def frame_plan(src_frames: int, src_fps: float, model_fps: float) -> FramePlan:
    """Resample ``src_frames`` at ``src_fps`` to ``min(model_fps, src_fps)`` and back."""
    if src_frames < 1:
        raise ValueError(f"a render needs at least one frame, got {src_frames}")
    if src_fps <= 0 or model_fps <= 0:
        raise ValueError(f"fps must be positive, got render {src_fps} and model {model_fps}")
    fps = min(model_fps, src_fps)
    ratio = src_fps / fps  # render frames per model frame, >= 1
    count = int((src_frames - 1) / ratio + 1e-9) + 1  # the last model frame reaches the last render frame
    source_for_model = tuple(min(src_frames - 1, int(round(j * ratio))) for j in range(count))
    model_for_source = tuple(min(count - 1, int(round(i / ratio))) for i in range(src_frames))
    return FramePlan(fps, source_for_model, model_for_source)

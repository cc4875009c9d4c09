"""The ``[reports]`` table: how the side-by-side clip is made.

``compare_speed`` 1.0 plays at the source's own rate (0.5: half speed), ``compare_max_width``
caps the two halves together (each half keeps the source's size up to half of it), and
``compare_zoom`` adds a row below with both halves' region of most flicker magnified that
many times (0 turns it off).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flickerd.config_table import table_kwargs
from flickerd.errors import ConfigError

DEFAULT_COMPARE_SPEED = 1.0  # × the source's frame rate
DEFAULT_COMPARE_MAX_WIDTH = 1920  # px, both halves and the gap between them
DEFAULT_COMPARE_ZOOM = 3.0  # magnification of the zoom row; 0: no zoom row
MIN_COMPARE_WIDTH = 64
MAX_COMPARE_ZOOM = 8.0


@dataclass(frozen=True, slots=True)
class ReportSettings:
    compare: bool = True  # write NAME.compare.mp4 when there is a fixed video
    compare_speed: float = DEFAULT_COMPARE_SPEED
    compare_max_width: int = DEFAULT_COMPARE_MAX_WIDTH
    compare_zoom: float = DEFAULT_COMPARE_ZOOM

    def __post_init__(self) -> None:
        if not 0.05 <= self.compare_speed <= 4.0:
            raise ConfigError(f"compare_speed: expected a number in [0.05, 4] (1 = the source's rate), "
                              f"got {self.compare_speed!r}.")
        if self.compare_max_width < MIN_COMPARE_WIDTH:
            raise ConfigError(f"compare_max_width: expected at least {MIN_COMPARE_WIDTH} px, got {self.compare_max_width!r}.")
        if self.compare_zoom != 0 and not 1.5 <= self.compare_zoom <= MAX_COMPARE_ZOOM:
            raise ConfigError(f"compare_zoom: expected 0 (no zoom row) or a magnification in [1.5, {MAX_COMPARE_ZOOM:g}], "
                              f"got {self.compare_zoom!r}.")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], path: str = "reports") -> ReportSettings:
        """Build from a TOML table; unknown keys and wrong types raise ``ConfigError`` naming ``path.key``."""
        values = table_kwargs(cls, data, path)
        try:
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(f"{path}.{exc}") from None

"""The exception tree. Every error a user can meet is a ``FlickerdError``.

    FlickerdError
    ├── ConfigError          bad TOML, unknown key, wrong type (names the key path)
    ├── InputError           the file cannot be used as input
    │   ├── MissingInput     it does not exist or cannot be read
    │   ├── EmptyInput       zero bytes
    │   ├── NotAVideo        no decodable video stream (text file, audio only, ...)
    │   │   └── NotAContainer    its first bytes are no video container at all: final at once
    │   ├── CorruptInput     truncated or damaged: the container or frames fail to decode
    │   ├── LimitExceeded    beyond a configured resource limit (pixels, frames, duration, size)
    │   └── UnsafeInput      not a regular file (pipe, socket, device), a link leading out, or oversized
    ├── ModelError           a model folder or weights file is missing or incomplete
    ├── RouteError           a fix step failed (ffmpeg exit, encoder error, out of memory, ...)
    ├── VerifyRejected       the fix ran but made things worse or broke a threshold
    ├── UnsafeOutput         a folder below an output folder is a link (writing through it would leave it)
    └── JournalError         the state database cannot be opened or written
        └── JournalCorrupt   it is empty or damaged: ``flickerd journal recover`` rebuilds it from the reports

Each class carries a fixed ``reason``: the label used for metrics, quarantine records and
reports. Messages are full sentences that say what failed, where, and what to do next.
Shutdown is never an ``Exception`` subclass (see ``ShutdownRequested``).
"""

from __future__ import annotations


class FlickerdError(Exception):
    reason = "internal"


class ConfigError(FlickerdError):
    reason = "config"


class InputError(FlickerdError):
    reason = "bad_input"


class MissingInput(InputError):
    reason = "missing_input"


class EmptyInput(InputError):
    reason = "empty_input"


class NotAVideo(InputError):
    reason = "not_a_video"


class NotAContainer(NotAVideo):
    """Not a render still being written but something else (a text file named ``.mp4``): the settle
    gate gives it up at once instead of retrying it for ``settle_max_s``."""


class CorruptInput(InputError):
    reason = "corrupt_input"


class LimitExceeded(InputError):
    reason = "limit_exceeded"


class UnsafeInput(InputError):
    """Refused unread by ``flickerd.media.guarded``; ``why`` is a ``Refusal``."""

    reason = "unsafe_input"

    def __init__(self, message: str, why: object = None) -> None:
        super().__init__(message)
        self.why = why


class ModelError(FlickerdError):
    reason = "model_missing"


class RouteError(FlickerdError):
    reason = "route_failed"


class VerifyRejected(FlickerdError):
    reason = "verify_rejected"


class UnsafeOutput(FlickerdError):
    """A write refused because a folder below the output folder is a link (``_failed -> /elsewhere``)."""

    reason = "unsafe_output"


class JournalError(FlickerdError):
    reason = "journal"


class JournalCorrupt(JournalError):
    """Not a permission or space problem: the file itself is empty or damaged; only a rebuild helps."""


class ShutdownRequested(BaseException):
    """Flow control for a stop signal; ``except Exception`` must not swallow it."""


FAILURE_REASONS: tuple[str, ...] = tuple(
    sorted(
        {
            cls.reason
            for cls in (
                FlickerdError, ConfigError, InputError, MissingInput, EmptyInput, NotAVideo,
                CorruptInput, LimitExceeded, UnsafeInput, ModelError, RouteError, VerifyRejected, UnsafeOutput,
                JournalError,
            )
        }
        | {"timeout", "out_of_memory", "disk_full", "permission"}
    )
)
"""The fixed list of failure reasons exported as metric labels."""

"""Settings a reload cannot change in a running daemon: the running values stay, and the log says so.

The state dir holds the lock and the journal the daemon opened; the metrics server is bound to
its address; the executor and log setup are made once at start. A reload that changes one of
them would otherwise be taken and silently ignored.
"""

from __future__ import annotations

import dataclasses
from typing import Any

RESTART_ONLY: tuple[str, ...] = ("state_dir", "metrics_address", "executor", "ray_address", "log_level")


def split(running: Any, loaded: Any) -> tuple[Any, dict[str, tuple[str, str]]]:
    """``loaded`` with ``running``'s restart-only settings, and those that differ (key → (running, configured))."""
    changed = {key: (getattr(running, key), getattr(loaded, key)) for key in RESTART_ONLY
               if hasattr(running, key) and getattr(running, key) != getattr(loaded, key, None)}
    if not changed or not dataclasses.is_dataclass(loaded):
        return loaded, {k: (str(a), str(b)) for k, (a, b) in changed.items()}
    kept = dataclasses.replace(loaded, **{key: was for key, (was, _) in changed.items()})
    return kept, {k: (str(a), str(b)) for k, (a, b) in changed.items()}

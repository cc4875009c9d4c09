"""A folder's webhook settings (``[[folders.webhooks]]``): the type the config holds and its checks.

Delivery lives in ``flickerd.service.webhooks``; the config only needs to know what a valid
hook looks like, so it does not load the sender (HTTP client, queue, thread).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flickerd.errors import ConfigError

EVENTS = ("done", "rejected", "failed", "quarantined", "needs_review")
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_RETRIES = 5
DEFAULT_BACKOFF_S = 1.0


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str
    secret: str | None = None
    events: tuple[str, ...] = EVENTS
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    backoff_s: float = DEFAULT_BACKOFF_S

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], path: str) -> "WebhookConfig":
        known = set(cls.__slots__)
        for key in data:
            if key not in known:
                raise ConfigError(f"{path}.{key}: unknown key; expected one of {', '.join(sorted(known))}.")
        url = data.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{path}.url: expected an http:// or https:// URL.")
        events = tuple(data.get("events", EVENTS))
        bad = [e for e in events if e not in EVENTS]
        if bad:
            raise ConfigError(f"{path}.events: unknown event {bad[0]!r}; expected some of {', '.join(EVENTS)}.")
        secret = data.get("secret")
        if secret is not None and not isinstance(secret, str):
            raise ConfigError(f"{path}.secret: expected a string.")
        nums = {}
        for key, typ in (("timeout_s", float), ("retries", int), ("backoff_s", float)):
            if key in data:
                v = data[key]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or (typ is int and not isinstance(v, int)):
                    raise ConfigError(f"{path}.{key}: expected a non-negative {'integer' if typ is int else 'number'}.")
                nums[key] = typ(v)
        return cls(url=url, secret=secret, events=events, **nums)

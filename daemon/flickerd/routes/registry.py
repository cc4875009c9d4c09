"""Route names → implementations, imported lazily (RIFE and regeneration pull in torch)."""

from __future__ import annotations

import importlib

from flickerd.errors import ConfigError
from flickerd.routes.base import Route

# name -> "module:attribute" of a Route instance or a zero-argument factory
ROUTES: dict[str, str] = {
    "normalize": "flickerd.routes.normalize:NormalizeRoute",
    "detail": "flickerd.routes.detail:DetailRoute",
    "drift": "flickerd.routes.drift:DriftRoute",
    "guided": "flickerd.routes.guided:GuidedRoute",
    "ffmpeg": "flickerd.routes.ffmpeg_filters:FfmpegRoute",
    "rife": "flickerd.routes.rife.route:RifeRoute",
    "regenerate": "flickerd.routes.regenerate.route:RegenerateRoute",
}

_loaded: dict[str, Route] = {}


def register(name: str, target: str | Route) -> None:
    """Add or replace a route (tests register deliberately bad ones here)."""
    if isinstance(target, str):
        ROUTES[name] = target
        _loaded.pop(name, None)
    else:
        ROUTES[name] = f"<instance {name}>"
        _loaded[name] = target


def unregister(name: str) -> None:
    ROUTES.pop(name, None)
    _loaded.pop(name, None)


def get_route(name: str) -> Route:
    if name in _loaded:
        return _loaded[name]
    target = ROUTES.get(name)
    if target is None:
        raise ConfigError(f"unknown route {name!r}; known routes: {', '.join(sorted(ROUTES))}.")
    module_name, _, attr = target.partition(":")
    obj = getattr(importlib.import_module(module_name), attr)
    # A class satisfies the Route protocol's isinstance check itself, so instantiate classes explicitly.
    route = obj() if isinstance(obj, type) or (callable(obj) and not isinstance(obj, Route)) else obj
    _loaded[name] = route
    return route

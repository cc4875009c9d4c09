"""Config tests check route names against the registry; make sure the four standard routes
are known even while their modules are being written (placeholders are removed afterwards)."""

from __future__ import annotations

import pytest

from flickerd.routes import registry

STANDARD_ROUTES = ("normalize", "ffmpeg", "rife", "regenerate")


@pytest.fixture(autouse=True)
def standard_routes():
    added = [name for name in STANDARD_ROUTES if name not in registry.ROUTES]
    for name in added:
        registry.ROUTES[name] = f"tests.config.placeholder:{name}"
    yield
    for name in added:
        registry.ROUTES.pop(name, None)

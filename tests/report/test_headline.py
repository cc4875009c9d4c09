"""The one flicker figure's text (plot title, ``flickerd fix``'s summary)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from flickerd.report.headline import flicker_change_text


@pytest.mark.parametrize(("reduction", "text"), [
    (0.45, "flicker -45%"), (-0.03, "flicker +3%"), (0.0021, "flicker -0.2%"), (-0.004, "flicker +0.4%"),
    (0.0002, "flicker unchanged"), (0.0, "flicker unchanged"), (None, None), (float("nan"), None),
])
def test_a_small_change_keeps_its_sign_and_size(reduction, text):
    assert flicker_change_text(SimpleNamespace(metrics={"flicker_reduction": reduction})) == text

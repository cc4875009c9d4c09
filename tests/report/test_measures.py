"""``report.measures`` reads a diagnosis's recorded settings as the verdict used them."""

from __future__ import annotations

from flickerd.diagnose import verdict
from flickerd.diagnose.model import Diagnosis, Verdict
from flickerd.diagnose.settings import DiagnoseSettings
from flickerd.report.measures import MEASURES, verdict_sentence

# the woman reading with half-strength re-drawn texture (fit half; tests/diagnose/test_fine_texture)
WOMAN_READING = dict.fromkeys(verdict.SCORE_NAMES, 0.0) | {
    "iframe_spike": 1.0, "texture_flicker": 0.326, "texture_flicker_all": 0.326, "texture_excess": 0.290,
    "blocking": 1.446}


def test_a_fine_texture_verdict_is_explained_against_its_own_floor_from_a_real_record():
    # what diagnose.engine records: the settings and what it derived (the stride used, the analysis scale)
    settings = DiagnoseSettings().to_dict() | {"pair_stride": 1, "analysis_scale": 0.25}
    d = Diagnosis("x.mp4", Verdict.GENERATIVE_FLICKER, 0.6, WOMAN_READING, 8, 24.0, 64, 64, 8 / 24, settings=settings)
    assert verdict.decide(WOMAN_READING, DiagnoseSettings())[0] is Verdict.GENERATIVE_FLICKER
    assert MEASURES["texture_flicker"].threshold(d) == verdict.FINE_TEXTURE_FLOOR
    assert "0.33 residual/detail ratio is over its threshold of 0.17" in verdict_sentence(d), verdict_sentence(d)
    # a value of another type (a report another version wrote) is no fine texture, and no error
    odd = Diagnosis("x.mp4", Verdict.GENERATIVE_FLICKER, 0.6, WOMAN_READING, 8, 24.0, 64, 64, 8 / 24,
                    settings=settings | {"texture_threshold": "high"})
    assert MEASURES["texture_flicker"].threshold(odd) is None

"""Segments agree with the verdict: every kind over its threshold has a run, no kind under it has one."""

import pytest

from flickerd.diagnose import DiagnoseSettings, Verdict, run

KIND_SCORE = {"luma": ("luma_flicker", "luma_threshold"), "chroma": ("chroma_flicker", "chroma_threshold"),
              "local": ("local_flicker", "local_threshold"), "texture": ("texture_flicker", "texture_threshold")}


def _over(d, kind):
    score, threshold = KIND_SCORE[kind]
    return d.scores[score] > d.settings[threshold]


@pytest.mark.parametrize("kind,settings", [
    ("luma", DiagnoseSettings(max_pairs=8, every_pair_up_to=0)),  # sampled: the flow measures see isolated triples
    ("texture", DiagnoseSettings()),
    ("clean", DiagnoseSettings()),
])
def test_segments_agree_with_the_verdict(make_clip, kind, settings):
    d = run(make_clip(kind, frames=40), settings)
    flagged = {k for k in KIND_SCORE if _over(d, k)}
    kinds = {s.kind for s in d.segments}
    assert kinds - {"incoherent", "codec"} == flagged, (d.verdict, d.scores, d.segments)
    if d.verdict is Verdict.CLEAN:
        assert d.segments == ()
    for s in d.segments:
        assert 0 <= s.start <= s.end < d.frames


def test_a_sampled_luma_segment_spans_the_measured_frames(make_clip):
    d = run(make_clip("luma", frames=40), DiagnoseSettings(max_pairs=8, every_pair_up_to=0))
    assert d.verdict is Verdict.GENERATIVE_FLICKER
    luma = [s for s in d.segments if s.kind == "luma"]
    measured = [p.index for p in d.timeline if p.luma_flicker is not None]
    assert len(measured) < 20  # sampled
    assert luma and luma[0].end - luma[0].start >= 10 and luma[0].score > d.settings["luma_threshold"]


def test_the_timeline_keeps_the_texture_ratio(make_clip):
    d = run(make_clip("texture", frames=24))
    ratios = [p.texture_flicker for p in d.timeline if p.texture_flicker is not None]
    assert len(ratios) >= 10 and sorted(ratios)[len(ratios) // 2] == pytest.approx(d.scores["texture_flicker"], rel=0.2)
    assert "texture_flicker" in d.to_json()["timeline"][5]


def test_one_fades_overlapping_looks_are_one_segment():
    """The long look reports frames t − look .. t for every t over its bar: one fade gave 17–23,
    18–24, 19–25, 20–26. A reader sees one event, scored by its highest."""
    from flickerd.diagnose.model import Segment
    from flickerd.diagnose.verdict import _joined

    looks = [Segment(t - 6, t, "incoherent", 0.04 + 0.01 * (t == 25)) for t in (23, 24, 25, 26)]
    assert _joined(looks) == [Segment(17, 26, "incoherent", 0.05)]
    apart = [Segment(3, 4, "incoherent", 0.2), Segment(4, 5, "incoherent", 0.3), Segment(9, 10, "incoherent", 0.1)]
    assert _joined(apart) == [Segment(3, 5, "incoherent", 0.3), Segment(9, 10, "incoherent", 0.1)]

"""``flickerd diagnose DIR --report``: one self-contained page, checked in headless Chromium."""

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from flickerd.diagnose import run
from flickerd.report.folder_html import CHART_SCORES, render
from flickerd.synth.corpus import ClipSpec, write_clip

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EXE = os.path.join(os.path.dirname(sys.executable), "flickerd")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")


class Dom(HTMLParser):
    """What the page shows: charts (measure, scale, axis texts), sentences, thumbnails, per section."""

    def __init__(self):
        super().__init__()
        self.sections, self.charts, self._text_class, self._h2 = [], [], None, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append({"id": a.get("id"), "name": "", "text": "", "imgs": 0, "charts": []})
        elif tag == "h2":
            self._h2 = True
        elif tag == "svg" and "chart" in a.get("class", ""):
            chart = {"measure": a["data-measure"], "ymax": a["data-ymax"], "texts": {}, "clip": len(self.sections) - 1}
            self.charts.append(chart)
            self.sections[-1]["charts"].append(chart)
        elif tag == "text" and self.charts:
            self._text_class = a.get("class", "")
        elif tag == "img" and self.sections:
            self.sections[-1]["imgs"] += 1

    def handle_endtag(self, tag):
        if tag == "text":
            self._text_class = None
        elif tag == "h2":
            self._h2 = False

    def handle_data(self, data):
        if self._h2 and self.sections:
            self.sections[-1]["name"] += data
        elif self._text_class:
            self.charts[-1]["texts"].setdefault(self._text_class, []).append(data)
        elif self.sections:
            self.sections[-1]["text"] += data


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    d = tmp_path_factory.mktemp("renders") / "renders"
    d.mkdir()
    write_clip(ClipSpec(seed=3, kind="clean", width=96, height=64, frames=16), d / "clean.mp4")
    write_clip(ClipSpec(seed=3, kind="luma", width=96, height=64, frames=48), d / "luma <&>.mp4")  # sampled: 47 pairs
    write_clip(ClipSpec(seed=3, kind="texture", width=96, height=64, frames=16), d / "texture.mp4")
    (d / "broken.mp4").write_text("not a video")
    return d


@pytest.fixture(scope="module")
def page(renders, tmp_path_factory):
    out = tmp_path_factory.mktemp("page") / "report.html"
    res = subprocess.run([EXE, "diagnose", str(renders), "--report", str(out)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 1 and "broken.mp4" in res.stderr and "Traceback" not in res.stderr  # the rest still ran
    return out


def test_page_is_self_contained_and_escaped(page):
    text = page.read_text()
    assert "<script" not in text and "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "luma &lt;&amp;&gt;.mp4" in text and "broken.mp4" in text
    assert text.count("<section") == 3 and "cuts at none" not in text


def test_sections_say_what_decided_and_show_agreeing_segments(page):
    dom = Dom()
    dom.feed(page.read_text())
    by_name = {s["name"]: s for s in dom.sections}
    luma = next(s for name, s in by_name.items() if name.startswith("luma"))
    assert "Generative flicker: global luma flicker" in luma["text"] and "over its threshold of 0.59" in luma["text"]
    assert "flickering segments: " in luma["text"]  # a sampled clip used to say "none"
    assert re.search(r"luma frames \d+–\d+ \(mean [\d.]+ grey levels\)", luma["text"])
    texture = by_name["texture.mp4"]
    assert "regenerated texture" in texture["text"] and "texture frames" in texture["text"]
    clean = by_name["clean.mp4"]
    assert "Clean: no measure reaches its threshold; the closest" in clean["text"]
    assert "no flickering segments" in clean["text"] and "no scene cuts" in clean["text"]
    assert all(s["imgs"] == 3 for s in dom.sections)  # first, worst and last frame


def _dom_in_chromium(page, tmp_path):
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-500:]
    return dom.stdout


@needs_chromium
def test_page_in_headless_chromium_has_one_labelled_scale_per_measure(page, tmp_path):
    parsed = Dom()
    parsed.feed(_dom_in_chromium(page, tmp_path))
    assert len(parsed.sections) == 3
    for measure in CHART_SCORES:
        charts = [c for c in parsed.charts if c["measure"] == measure]
        assert len(charts) == 3  # one per clip
        assert len({c["ymax"] for c in charts}) == 1, measure  # one scale shared by every clip
        for c in charts:
            assert c["texts"]["axis-y"] == [c["ymax"], "0"] and c["texts"]["axis-x"][0] == "frame 0"
            assert c["texts"]["title"] and c["texts"]["unit"]  # what is plotted, and in which unit
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=1200,1600", page.as_uri()], capture_output=True, timeout=120)
    import cv2

    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (1600, 1200) and img.std() > 10  # not a blank page


def test_render_with_errors_only():
    text = render([], errors=[("/x/broken.mp4", "broken.mp4: not a recognised media container.")])
    assert "not a recognised media container" in text and "<section" not in text


def test_diagnose_folder_with_an_image_sequence(tmp_path):
    import cv2
    import numpy as np

    d = tmp_path / "renders"
    d.mkdir()
    write_clip(ClipSpec(seed=5, kind="clean", width=64, height=48, frames=10), d / "a.mp4")
    seq = d / "seq"
    seq.mkdir()
    for i in range(6):
        cv2.imwrite(str(seq / f"f_{i:03d}.png"), np.full((48, 64, 3), 40 + 5 * i, np.uint8))
    out = tmp_path / "report.html"
    res = subprocess.run([EXE, "diagnose", str(d), "--report", str(out)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    assert text.count("<section") == 2 and ">seq<" in text and text.count("<img") == 6
    assert run  # the engine stays importable next to the report


def test_the_warping_error_is_charted_as_the_plots_mean_and_the_table_keeps_the_sum(renders):
    # the page drew the diagnosis's sum of R, G, B (3x) beside plots of the channels' mean (review20 #8)
    from flickerd.report.folder_html import _values, scales, worst_frame

    d = run(str(renders / "texture.mp4"))
    summed = [p.warp_error for p in d.timeline]
    drawn = _values(d, "warp_error")
    assert [v for v in drawn if v is not None] == pytest.approx([v / 3 for v in summed if v is not None])
    text = render([d])
    chart = text[text.index('data-measure="warp_error"'):]
    chart = chart[:chart.index("</svg>")]
    assert "RGB² in [0,1], mean of R, G, B" in chart and "sum of R, G, B" not in chart
    assert float(re.search(r'data-ymax="([^"]+)"', text[text.index('data-measure="warp_error"') - 80:]).group(1)) \
        == scales([d])["warp_error"].top
    head = text[text.index("<thead>"):text.index("</thead>")]
    assert "sum of R, G, B" in head and "their sum (3×)" in text
    import dataclasses

    from flickerd.diagnose.model import Verdict

    plain = dataclasses.replace(d, verdict=Verdict.CODEC_ARTIFACTS, scores={"warp_error": d.scores["warp_error"]})
    frame, caption = worst_frame(plain)
    from flickerd.figures import fmt

    assert caption.endswith(f"(warping error {fmt(max(v for v in drawn if v is not None))} RGB² in [0,1], mean of R, G, B)")

import os
import shutil
import subprocess

import pytest

from flickerd.diagnose import run
from flickerd.report.folder_html import render
from flickerd.synth.corpus import ClipSpec, write_clip

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    clean = write_clip(ClipSpec(seed=3, kind="clean", width=96, height=64, frames=16), d / "clean.mp4")
    flick = write_clip(ClipSpec(seed=3, kind="luma", width=96, height=64, frames=16), d / "luma <&>.mp4")
    diagnoses = [run(clean), run(flick)]
    html = render(diagnoses, errors=[(str(d / "broken.mp4"), "broken.mp4: not a recognised media container.")])
    out = d / "report.html"
    out.write_text(html, encoding="utf-8")
    return out, diagnoses


def test_page_is_self_contained_and_escaped(page):
    out, diagnoses = page
    text = out.read_text()
    assert "<script" not in text and "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "luma &lt;&amp;&gt;.mp4" in text
    assert text.count("<section") == 2 and text.count("<polyline") >= 2
    for d in diagnoses:
        assert d.verdict.value in text


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_page_renders_in_headless_chromium(page, tmp_path):
    out, diagnoses = page
    profile = tmp_path / "profile"
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", out.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-500:]
    assert dom.stdout.count("<tr>") == 1 + len(diagnoses) + 1  # header, clips, the unreadable file
    assert "<svg" in dom.stdout and "not a recognised media container" in dom.stdout
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1100,900",
                    out.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
    import cv2

    img = cv2.imread(str(shot))
    assert img.shape[:2] == (900, 1100) and img.std() > 10  # not a blank page

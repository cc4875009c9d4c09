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


def test_diagnose_folder_writes_html_report(tmp_path):
    import sys

    d = tmp_path / "renders"
    d.mkdir()
    write_clip(ClipSpec(seed=5, kind="clean", width=64, height=48, frames=10), d / "a.mp4")
    write_clip(ClipSpec(seed=6, kind="luma", width=64, height=48, frames=10), d / "b.mp4")
    (d / "notes.mp4").write_text("not a video")
    seq = d / "seq"
    seq.mkdir()
    import cv2
    import numpy as np

    for i in range(6):
        cv2.imwrite(str(seq / f"f_{i:03d}.png"), np.full((48, 64, 3), 40 + 5 * i, np.uint8))
    out = tmp_path / "report.html"
    exe = os.path.join(os.path.dirname(sys.executable), "flickerd")
    res = subprocess.run([exe, "diagnose", str(d), "--report", str(out)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1  # notes.mp4 is not a video; the rest still diagnosed
    assert "notes.mp4" in res.stderr and "Traceback" not in res.stderr
    page = out.read_text()
    assert page.count("<section") == 3  # a.mp4, b.mp4 and the image sequence
    assert "notes.mp4" in page and ">seq<" in page

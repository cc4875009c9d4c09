"""The seed's diagnosis script (baseline): ffmpeg → PNG, then cv2 + numpy mean inter-frame diff, "generative if > 12".

Kept verbatim in spirit for the speed and accuracy comparisons: ``python bench/seed_script.py
VIDEO`` (or ``python -m bench seed_script VIDEO``) prints the score and the seed's verdict.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile


def diagnose(video: str) -> tuple[float, str]:
    import cv2
    import imageio_ffmpeg
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", video,
                        os.path.join(tmp, "f%05d.png")], check=True)
        diffs = []
        prev = None
        for name in sorted(glob.glob(os.path.join(tmp, "*.png"))):
            img = cv2.imread(name).astype(np.float32)
            if prev is not None:
                diffs.append(float(np.abs(img - prev).mean()))
            prev = img
    score = float(np.mean(diffs)) if diffs else 0.0
    return score, ("generative" if score > 12 else "codec")


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m bench seed_script VIDEO", file=sys.stderr)
        return 2
    for video in argv:
        score, verdict = diagnose(video)
        print(f"{video}: mean diff {score:.2f} -> {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""The shared output helper: encodings, and colours that survive a decode → encode round trip."""

import numpy as np

from flickerd.media import iter_frames, probe
from flickerd.routes.encode import choose_encoding, colour_args, open_writer
from tests.cpuroutes import clips


def test_round_trip_keeps_colours_of_a_bt709_clip(tmp_path):
    src, out = str(tmp_path / "in.mp4"), str(tmp_path / "out.mp4")
    frames = [np.broadcast_to(np.array([0.8, 0.25, 0.1], np.float32), (64, 96, 3)).copy() for _ in range(4)]
    clips.write(src, frames)  # tagged bt709
    info = probe(src)
    with open_writer(out, info, choose_encoding(out, info, intermediate=False, crf=10)) as w:
        for f in iter_frames(src):
            w.write(f.image)
    before = np.mean([f.image.reshape(-1, 3).mean(0) for f in iter_frames(src)], axis=0)
    after = np.mean([f.image.reshape(-1, 3).mean(0) for f in iter_frames(out)], axis=0)
    assert np.abs(after - before).max() < 1.5  # grey levels; a BT.601/709 mix-up moves red by ~12


def test_encodings_follow_depth_and_role(tmp_path):
    src = str(tmp_path / "in.mp4")
    clips.write(src, clips.flickered(None, n=3))
    info = probe(src)
    assert choose_encoding("x.mkv", info, intermediate=True).codec == "ffv1"
    final = choose_encoding("x.mp4", info, intermediate=False)
    assert (final.codec, final.pix_fmt, final.crf) == ("libx264", "yuv420p", 16)
    assert choose_encoding("x.webm", info, intermediate=False).codec == "libvpx-vp9"
    assert colour_args(info) == ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
                                 "-color_range", "tv"]

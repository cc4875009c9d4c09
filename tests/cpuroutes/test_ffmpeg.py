"""The ffmpeg route through the real bundled ffmpeg binary."""

import os

import numpy as np
import pytest

from flickerd.errors import ConfigError, InputError
from flickerd.media import probe
from flickerd.routes.encode import staged_output, staged_path
from flickerd.routes.ffmpeg_filters import FfmpegParams, FfmpegRoute, auto_size, filter_chain
from tests.cpuroutes import clips


@pytest.fixture(scope="module")
def flicker_clip(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("f") / "flicker.mp4")
    clips.write(path, clips.flickered(clips.global_luma(), n=16), fps=15, audio=True)
    return path


def test_keeps_frames_fps_audio_colour_and_records_the_command(tmp_path, flicker_clip):
    out = str(tmp_path / "out.mp4")
    seen = []
    result = FfmpegRoute().fix(flicker_clip, out, {}, seen.append)
    src, got = probe(flicker_clip), probe(out)
    assert (got.frame_count, got.fps_num, got.fps_den) == (src.frame_count, 15, 1)
    assert got.has_audio and got.audio_codec == "aac"
    assert (got.color_primaries, got.color_trc, got.colorspace, got.color_range) == (1, 1, 1, 1)
    assert got.codec == "h264" and got.pix_fmt == "yuv420p"
    (cmd,) = result.commands
    assert "deflicker=size=5:mode=am,deband=1thr=0.02:2thr=0.02:3thr=0.02:range=16:blur=false" in cmd
    assert cmd[cmd.index("-crf") + 1] == "16" and cmd[cmd.index("-preset") + 1] == "slow"
    assert "passthrough" in cmd and "0:a?" in cmd
    assert result.backend.startswith("ffmpeg") and seen and seen[-1] == 1.0
    assert os.listdir(tmp_path) == ["out.mp4"]  # no temp file left behind
    # deflicker really ran: the per-frame luma means are steadier than the input's
    y_in = clips.channel_means(clips.load(flicker_clip))[:, 0]
    y_out = clips.channel_means(clips.load(out))[:, 0]
    assert clips.second_difference(y_out) < clips.second_difference(y_in) * 0.8


def test_leading_dash_names_and_switches(tmp_path, flicker_clip):
    src = tmp_path / "-odd name.mp4"
    src.write_bytes(open(flicker_clip, "rb").read())
    out = tmp_path / "-fixed.mp4"
    result = FfmpegRoute().fix(str(src), str(out), {"deflicker": False, "deband": False, "preset": "ultrafast"}, lambda f: None)
    assert probe(out).frame_count == 16
    assert "-vf" not in result.commands[0]


def test_ten_bit_and_webm_outputs(tmp_path):
    src = str(tmp_path / "deep.mp4")
    clips.write(src, clips.flickered(None, n=8), deep=True)
    FfmpegRoute().fix(src, str(tmp_path / "deep.out.mp4"), {"preset": "ultrafast"}, lambda f: None)
    assert probe(tmp_path / "deep.out.mp4").pix_fmt == "yuv420p10le"
    FfmpegRoute().fix(src, str(tmp_path / "out.webm"), {}, lambda f: None)
    got = probe(tmp_path / "out.webm")
    assert got.codec == "vp9" and got.frame_count == 8


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 100, "truncated", "truncated-faststart"])
def test_bad_input_gives_a_clear_error_and_writes_nothing(tmp_path, flicker_clip, content):
    bad = tmp_path / "bad.mp4"
    if content == "truncated-faststart":  # the index up front survives, the frames do not
        content = clips.faststart(flicker_clip, str(tmp_path / "fs.mp4"))
        os.unlink(tmp_path / "fs.mp4")
        content = content[: len(content) // 2]
    elif content == "truncated":
        data = open(flicker_clip, "rb").read()
        content = data[: len(data) // 3]
    bad.write_bytes(content)
    out = tmp_path / "out.mp4"
    with pytest.raises(InputError) as err:
        FfmpegRoute().fix(str(bad), str(out), {}, lambda f: None)
    assert str(bad) in str(err.value)
    assert sorted(os.listdir(tmp_path)) == ["bad.mp4"]


def test_auto_size_grows_with_flicker(tmp_path, flicker_clip):
    assert auto_size(0.1) < auto_size(2.0) < auto_size(20.0)
    result = FfmpegRoute().fix(flicker_clip, str(tmp_path / "a.mp4"), {"size": "auto", "preset": "ultrafast"}, lambda f: None)
    assert result.params["size"] == auto_size(result.extra["luma_flicker"]) > 5  # heavy injected flicker
    assert f"deflicker=size={result.params['size']}:" in " ".join(result.commands[0])


def test_params_are_checked():
    p = FfmpegParams.from_mapping({"1thr": 0.05, "size": 9, "mode": "median"})
    assert filter_chain(p, 9).startswith("deflicker=size=9:mode=median,deband=1thr=0.05:")
    for bad, message in [
        ({"sise": 5}, r"params\.sise: unknown parameter"),
        ({"size": 1}, r"params\.size"),
        ({"size": "big"}, r"params\.size"),
        ({"mode": "xx"}, r"params\.mode"),
        ({"deband": "yes"}, r"params\.deband: expected bool"),
        ({"crf": True}, r"params\.crf: expected int"),
    ]:
        with pytest.raises(ConfigError, match=message):
            FfmpegParams.from_mapping(bad)


def test_staged_output_cleans_up_on_failure(tmp_path):
    out = str(tmp_path / "x.mp4")
    with pytest.raises(RuntimeError):
        with staged_output(out) as tmp:
            assert tmp == staged_path(out) and os.path.basename(tmp) == ".x.tmp.mp4"
            open(tmp, "wb").write(b"partial")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_gif_outputs_keep_their_dither_still(tmp_path):
    """A GIF through the ffmpeg route gets one palette and ordered dithering, like media.writer's:
    the gif encoder's own rgb8 error diffusion re-dithered every frame (flicker the fix added)."""
    from flickerd.media import iter_frames, probe
    from flickerd.media.writer import VideoWriter
    from flickerd.routes.ffmpeg_filters import FfmpegRoute
    from tests.media.clips import make_clip

    h, w = 96, 128
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    sky = np.dstack([40 + 0.9 * x, 90 + 0.6 * y, 180 + 0.3 * x]).clip(0, 255)
    info = probe(make_clip(tmp_path / "s.mp4", frames=2, fps=10))
    with VideoWriter(tmp_path / "in.gif", info, size=(w, h)) as writer:
        for t in range(6):
            f = sky.copy()
            f[10:30, 10 + 4 * t:30 + 4 * t] = (240, 40, 40)
            writer.write(f.astype(np.uint8))
    res = FfmpegRoute().fix(str(tmp_path / "in.gif"), str(tmp_path / "out.gif"), {"deflicker": False, "deband": True})
    assert any("palettegen" in a for a in res.commands[0])
    out = [fr.image.astype(np.int16) for fr in iter_frames(tmp_path / "out.gif")]
    still = np.ones((h, w), bool)
    still[5:35, 5:60] = False
    changed = [float((np.abs(b - a).max(axis=2) > 0)[still].mean()) for a, b in zip(out, out[1:])]
    assert len(out) == 6 and max(changed) < 0.01, changed


def test_the_same_input_gives_the_same_file_whatever_the_heap_holds(tmp_path, monkeypatch):
    """The ffmpeg binary's x264 has the AVX-512 code that reads memory it never wrote
    (``media.writer.x264_params``): two runs whose fresh heap blocks hold different bytes
    (glibc's ``MALLOC_PERTURB_``) must write the same file. A noisy 320x240 picture is what
    makes that code run (a plain one did not)."""
    import subprocess

    from flickerd.media.ffmpeg import ffmpeg_exe

    src = tmp_path / "noisy.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=s=320x240:r=15,noise=alls=12:allf=t", "-frames:v", "30", "-c:v", "libx264",
                    "-crf", "10", str(src)], check=True)
    outs = []
    for byte in ("17", "238"):
        monkeypatch.setenv("MALLOC_PERTURB_", byte)
        out = tmp_path / f"out{byte}.mp4"
        FfmpegRoute().fix(str(src), str(out), {"deband": False}, lambda _: None)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]

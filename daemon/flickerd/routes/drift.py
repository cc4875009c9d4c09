"""The ``drift`` route: window drift and seams of long renders taken out (issue 23).

Two streaming passes over the file, any length, one frame held at a time. The first measures
each frame's tone statistics (``diagnose.drift.STATS``, on a copy at most
``analysis_max_side`` px). The seams are the ``seams`` it is given (the rules hand it the
diagnosis's) and, with ``search``, the diagnosis's own (``seamed``: one standard for seams
everywhere, never the whole-frame statistics'). The second pass maps every frame with one
affine map per channel (``drift_fit``) that brings each window back to the first, dissolves
what a seam still steps and takes out flashes at the joins. Planar YUV sources are corrected on
their own planes (no RGB round trip); others in full-range YCbCr through RGB. A clip with no
seam is re-encoded unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from flickerd.diagnose import drift as dd
from flickerd.diagnose.global_flicker import YCC
from flickerd.media.probe import probe
from flickerd.media.reader import iter_frames
from flickerd.routes import drift_clip as clip
from flickerd.routes import drift_fit as fit
from flickerd.routes import normalize_planes as planes
from flickerd.routes.base import ProgressFn, StepResult, no_progress
from flickerd.routes.encode import (
    DEFAULT_CRF, DEFAULT_PRESET, choose_encoding, final_codec, is_intermediate, open_writer, staged_output,
)
from flickerd.routes.frame_stream import is_planar, stream_frames
from flickerd.routes.params_table import RouteParams

DISSOLVE = 4  # frames on each side of a seam over which what it still steps is spread
ANALYSIS_MAX_SIDE = 320
_YCC2RGB = np.linalg.inv(YCC).astype(np.float32)


@dataclass(frozen=True, slots=True)
class DriftParams(RouteParams):
    """Parameters of the ``drift`` route.

    dissolve: frames on each side of a seam over which its remaining step is spread (0–30).
    flash: take out a brightness flash in the first frames after a seam.
    strength: 0–1, how much of the correction to apply.
    seams: frames known to start a new window (a sidecar's, or the diagnosis's).
    search: also take the seams the diagnosis finds (the whole diagnosis is run on the input, at its
        default settings, about as long as the route again; the rules turn this off, since they
        pass the diagnosis's seams on).
    compensated: measure each seam's step of the means on motion-compensated pairs of frames
        across it (``drift_fit.compensated_steps``), less the scene's own light measured the same
        way inside the windows either side, not on the whole-frame means (off by default: it gains on
        most clips of both halves, but held out a seam found 3 frames before its join put the trend's
        pair across the join's flash and that fix lost 11 dB against the truth; README, session 21).
    fill: pixels a join clipped at black or white get the mean of the reference window's darkest
        (brightest) share of luma as large as theirs (``drift_clip``), not the affine map's one value.
    analysis_max_side: the size the first pass measures at.
    crf, preset, pix_fmt: the final encode (pix_fmt None follows the input).
    """

    dissolve: int = DISSOLVE
    flash: bool = True
    strength: float = 1.0
    seams: tuple[int, ...] = ()
    search: bool = True
    compensated: bool = False
    fill: bool = True
    analysis_max_side: int = ANALYSIS_MAX_SIDE
    crf: int = DEFAULT_CRF
    preset: str = DEFAULT_PRESET
    pix_fmt: str | None = None

    ROUTE = "drift"
    FRAME_LISTS = {"seams": 1}
    RANGES = {"dissolve": (0, 30), "strength": (0.0, 1.0), "analysis_max_side": (32, 4096), "crf": (0, 51)}


def _small(img: np.ndarray, max_side: int) -> np.ndarray:
    h, w = img.shape[:2]
    k = max(h, w) / max_side
    if k <= 1:
        return img
    return cv2.resize(img, (max(1, int(w / k)), max(1, int(h / k))), interpolation=cv2.INTER_AREA)


def measure(src: str, planar: bool, bits: int, max_side: int, keep: frozenset[int] = frozenset(),
            tails: clip.Tails | None = None) -> tuple[np.ndarray, dict[int, list[np.ndarray]]]:
    """Pass one: ``STATS`` per frame (T × 5) in 8-bit code values of the planes (planar) or grey
    levels; and the frames ``keep`` names as (Y, Cb, Cr) float32 at the measuring size (chroma
    on the luma grid), for ``fit.compensated_steps``. Each frame's luma goes to ``tails`` too."""
    rows, kept = [], {}
    if planar:
        unit = ((1 << bits) - 1) / 255.0
        for t, frame in enumerate(planes.decode(src)):
            y, cb, cr = (_small(p, max_side).astype(np.float32) / unit for p in planes.read_planes(frame))
            rows.append(dd.plane_stats(y, cb, cr))
            if tails is not None:
                tails.add(t, y)
            if t in keep:
                size = (y.shape[1], y.shape[0])
                kept[t] = [y, cv2.resize(cb, size, interpolation=cv2.INTER_LINEAR),
                           cv2.resize(cr, size, interpolation=cv2.INTER_LINEAR)]
    else:
        for t, f in enumerate(iter_frames(src, max_side=max_side)):
            rows.append(dd.rgb_stats(f.image))
            if tails is not None:
                tails.add(t, f.image.astype(np.float32) @ YCC[0])
            if t in keep:
                ycc = f.image.astype(np.float32) @ YCC.T
                kept[t] = [ycc[..., 0].copy(), ycc[..., 1] + 128, ycc[..., 2] + 128]
    return np.array(rows, np.float64).reshape(-1, 5), kept


def seamed(src: str, p: DriftParams, frames: int) -> tuple[int, ...]:
    """The seams to correct: ``p.seams``, and with ``p.search`` the diagnosis's besides (its
    ``find_seams`` on motion-compensated levels with the cells' check, the sidecar's seams given).
    The whole-frame statistics this route measures cannot tell a join from a real change of light
    (a lamp lighting half the frame reads as a join on them: tests/cpuroutes/test_drift.py). The
    search is the whole diagnosis at its default settings (about as long as the route again; the
    rules hand the diagnosis's seams on instead). Nothing to search at strength 0."""
    if not p.search or p.strength <= 0:
        return tuple(s for s in p.seams if 0 < s < frames)
    from flickerd.diagnose import run
    from flickerd.diagnose.settings import DiagnoseSettings

    # seams do not depend on the cross-fade look, which would add about half the diagnosis's time
    return tuple(s for s in run(src, DiagnoseSettings(timeline=False, fade_look=0), seams=p.seams).seams if 0 < s < frames)


class _Core:
    """Hands every frame straight back with its index: the corrections are known before pass two."""

    def feed(self, index: int, data: Any, analysis: Any) -> Iterator[tuple[int, Any, Any]]:
        yield index, data, index

    def finish(self) -> Iterator[tuple[int, Any, Any]]:
        return iter(())


class DriftRoute:
    """Window drift and seams removed against the first window (see ``DriftParams``)."""

    name = "drift"
    # 2: a seam whose spread or saturation moves by more than a quarter adds no gain (content)
    # 3: ``search`` takes the diagnosis's seams (motion-compensated, cells agreeing), not the whole-frame statistics'
    # 4: ``compensated`` (opt-in: each seam's step measured through the motion); by default the output
    #    is version 3's, and only the seams found (``onset``) may differ
    # 5: ``fill`` (default on): luma a join clipped at black or white gets the reference window's values
    # 6: the seams it searches itself (``search``) as the diagnosis finds them now (a split that
    #    content's saturation pulls off a join is retried on tone and colour alone); fill's black and
    #    white at 10/12 bit on the format's codes
    # 7: the seams it searches itself: ``onset`` takes no luma step arriving for a flash
    version = "7"

    def fix(self, src: str, out: str, params: Mapping[str, Any], progress: ProgressFn = no_progress) -> StepResult:
        start = time.monotonic()
        p = DriftParams.from_mapping(params)
        info = probe(src)
        encoding = choose_encoding(out, info, intermediate=is_intermediate(params), crf=p.crf, preset=p.preset,
                                   pix_fmt=p.pix_fmt, codec=final_codec(params))
        planar = is_planar(info)
        bits = planes.PLANAR[info.pix_fmt] if planar else 8
        seams = seamed(src, p, 1 << 62)  # before pass one, which keeps the frames about them
        black, white = clip.format_levels(bits, planar and not info.full_range)
        tails = clip.Tails(black, white, seams[0]) if p.fill and seams and p.strength > 0 else None
        stats, kept = measure(src, planar, bits, p.analysis_max_side,
                              fit.pair_frames(seams) if p.compensated else frozenset(), tails)
        progress(0.3)
        seams = tuple(s for s in seams if s < len(stats))
        steps = fit.compensated_steps(kept, seams, len(stats)) if p.compensated else None
        c = fit.correction(stats, seams, p.dissolve, p.flash, p.strength, steps,
                           tails.spread_ratio if tails is not None else None)
        peak = 65535.0 if info.bit_depth > 8 else 255.0

        with staged_output(out) as tmp, open_writer(tmp, info, encoding) as writer:

            def write(data: Any, t: int) -> None:
                if t >= len(c.gain) or c.is_identity(t):
                    if planar:
                        writer.write_frame(planes.frame_from_planes(planes.read_planes(data), data))
                    else:
                        writer.write(data)
                    return
                if planar:
                    pl = planes.read_planes(data)
                    top = float((1 << bits) - 1)
                    unit = top / 255.0
                    fixed = []
                    for ch, plane in enumerate(pl):
                        x = plane.astype(np.float32)
                        m = c.mean[t, ch] * unit
                        mapped = (x - m) * c.gain[t, ch] + m + c.offset[t, ch] * unit
                        if ch == 0 and tails is not None:
                            mapped = clip.filled(x, mapped, tails.fills(t), black, white, unit)
                        x = mapped
                        fixed.append(np.clip(x + 0.5, 0, top).astype(plane.dtype))
                    writer.write_frame(planes.frame_from_planes(fixed, data))
                else:
                    rgb = data.astype(np.float32) * (255.0 / peak)
                    ycc = rgb @ YCC.T
                    ycc[..., 1:] += 128
                    y0 = ycc[..., 0].copy() if tails is not None else None
                    ycc = fit.apply_ycc(ycc, c, t)
                    if y0 is not None:
                        ycc[..., 0] = clip.filled(y0, ycc[..., 0], tails.fills(t), black, white)
                    ycc[..., 1:] -= 128
                    back = (ycc @ _YCC2RGB.T) * (peak / 255.0)
                    writer.write(np.clip(back + 0.5, 0, peak).astype(data.dtype))

            written, _ = stream_frames(src, info, make_core=lambda w, h: _Core(), analyse=lambda core, d: None,
                                       write=write, progress=lambda f: progress(0.3 + 0.7 * f))
        progress(1.0)
        return StepResult(
            route=self.name, version=self.version, backend=f"per-channel affine (numpy {np.__version__})",
            params=p.to_dict(), seconds=time.monotonic() - start, output=out,
            extra={
                "frames": written,
                "seams": list(seams),
                # per seam: whether its mean step was measured through the motion (else the whole-frame
                # step, dissolved): a compensated fix's own whole-frame means still step by the content's change
                "compensated": [m is not None for m in steps] if steps is not None else [False] * len(seams),
                "drift_before": round(dd.drift(stats, seams)[0], 4),
                "max_offset": round(float(np.max(np.abs(c.offset))) if len(c.offset) else 0.0, 3),
                "encoding": encoding.describe(),
                "working_space": f"{info.pix_fmt} planes" if planar else "ycbcr via rgb",
            },
        )

"""``flickerd diagnose FILE|DIR... [--json] [--scale S] [--report OUT.html]``: diagnose and print verdicts.

Human output is a small table per file; ``--json`` prints one object per line (the diagnosis schema, ``diagnose.model.SCHEMA_VERSION``).
A folder stands for the videos in it (and the image sequences in its sub-folders); a folder
holding only numbered frames is one image-sequence render. ``--report`` also writes one
self-contained HTML page for everything diagnosed. A bad file gets a one-line error on stderr
and a non-zero exit; the other files still run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

NAME = "diagnose"
HELP = "Diagnose video files: flicker, codec artifacts, clean or incoherent."

FAST_EXIT = True  # see flickerd.cli.console
SWITCH_INTERVAL = 0.0005  # seconds: the GIL switch interval while diagnosing

# exit codes
EXIT_OK = 0
EXIT_BAD_INPUT = 1

_TABLE_KEYS = (
    ("luma_flicker", "global luma flicker (grey levels)"),
    ("chroma_flicker", "global chroma flicker (grey levels)"),
    ("local_flicker", "local flicker, worst regions (grey levels)"),
    ("texture_flicker", "regenerated texture (residual/detail)"),
    ("incoherence", "replaced content (frame fraction)"),
    ("banding", "banding (fraction of smooth area)"),
    ("blocking", "blocking (block-edge step ratio, 8 or 16 px)"),
    ("warp_error", "warping error (RGB² sum of R, G, B)"),  # ≈3× verification's (the channel mean)
    ("mean_diff", "seed's mean frame diff (comparison)"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="video files, image-sequence folders or folders of videos")
    parser.add_argument("--json", action="store_true", help="one JSON object per file per line (the diagnosis schema; its \"schema\" key says which)")
    parser.add_argument("--scale", type=float, default=None,
                        help="analysis scale before the max-side cap (default 1.0)")
    parser.add_argument("--report", metavar="OUT.html", default=None,
                        help="also write one self-contained HTML page with every clip's verdict and flicker plot")


VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".gif", ".webp")


def _is_sequence(folder: str) -> bool:
    from flickerd.errors import FlickerdError
    from flickerd.media.sequence import find_sequence

    try:
        return len(find_sequence(folder).numbers) >= 2
    except FlickerdError:
        return False


def expand(paths: list[str]) -> list[str]:
    """Files as given; a folder → its videos and image-sequence sub-folders, or itself if it is a sequence."""
    out: list[str] = []
    for path in paths:
        if not os.path.isdir(path):
            out.append(path)
            continue
        entries = sorted(os.listdir(path))
        videos = [os.path.join(path, e) for e in entries
                  if not e.startswith(".") and e.lower().endswith(VIDEO_EXTS) and os.path.isfile(os.path.join(path, e))]
        sequences = [os.path.join(path, e) for e in entries
                     if not e.startswith(".") and os.path.isdir(os.path.join(path, e)) and _is_sequence(os.path.join(path, e))]
        if not videos and not sequences and _is_sequence(path):
            out.append(path)
        else:
            out.extend(videos + sequences)
    return out


def _progress_bar(name: str):
    width = 30

    def show(fraction: float) -> None:
        done = int(fraction * width)
        sys.stderr.write(f"\r{name[:40]:40s} [{'#' * done}{'.' * (width - done)}] {fraction:4.0%}")
        if fraction >= 1.0:
            sys.stderr.write("\r" + " " * (width + 50) + "\r")
        sys.stderr.flush()

    return show


def format_table(d) -> str:
    lines = [
        f"{d.file}",
        f"  verdict     {d.verdict.value}  (confidence {d.confidence:.2f})",
        f"  video       {d.width}x{d.height}, {d.frames} frames @ {d.fps:.3f} fps, {d.duration_s:.2f} s",
        f"  cuts        {', '.join(map(str, d.cuts)) or 'none'}",
    ]
    for key, label in _TABLE_KEYS:
        if key in d.scores:
            lines.append(f"  {label:44s} {d.scores[key]:10.4f}")
    for seg in d.segments[:10]:
        lines.append(f"  segment     frames {seg.start}-{seg.end}: {seg.kind} ({seg.score:.3f})")
    lines.append(f"  took        {d.seconds:.2f} s")
    return "\n".join(lines)


def _start_first(path: str, settings):
    """Probe the first file and start decoding it, so that it decodes while the measures import.

    Any error is left for the file's turn in the loop, which reports it like any other file's.
    """
    from flickerd.diagnose import plan

    try:
        return plan.start(path, settings)
    except Exception:
        return None


def main(args: argparse.Namespace) -> int:
    from flickerd.diagnose import process_tuning

    process_tuning.tune()  # before numpy and OpenCV load (listing a folder for sequences loads them)
    from flickerd.diagnose.settings import DiagnoseSettings
    from flickerd.errors import FlickerdError

    try:
        settings = DiagnoseSettings(scale=args.scale) if args.scale else DiagnoseSettings()
    except FlickerdError as exc:
        print(f"flickerd diagnose: {exc}", file=sys.stderr)
        return 2
    files = expand(args.files)
    if not files:
        print("flickerd diagnose: no videos or image sequences found in the given folders.", file=sys.stderr)
        return EXIT_BAD_INPUT
    # a short GIL switch interval lets the decoding thread feed its packets between the
    # imports' and the measures' bytecodes instead of waiting 5 ms each time
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        return _diagnose_all(args, files, settings)
    finally:
        sys.setswitchinterval(interval)


def _diagnose_all(args: argparse.Namespace, files: list[str], settings) -> int:
    from flickerd.errors import FlickerdError

    first = _start_first(files[0], settings)
    from flickerd.diagnose import run

    tty = sys.stderr.isatty()
    status = EXIT_OK
    done, errors = [], []
    for i, path in enumerate(files):
        try:
            d = run(path, settings, progress=_progress_bar(path) if tty else None, started=first if i == 0 else None)
        except FlickerdError as exc:
            print(f"flickerd diagnose: {exc}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            errors.append((path, str(exc)))
            continue
        except Exception as exc:  # one unreadable file must not stop the others
            message = f"{path}: cannot be diagnosed ({type(exc).__name__}: {exc})."
            print(f"flickerd diagnose: {message}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            errors.append((path, message))
            continue
        if args.report:
            done.append(d)
        if args.json:
            write_json(d, sys.stdout)
        else:
            print(format_table(d), flush=True)
    if args.report:
        _write_report(args.report, done, errors)
        print(f"flickerd diagnose: wrote {args.report} ({len(done)} clips)", file=sys.stderr)
    return status


def _write_report(target: str, diagnoses: list, errors: list) -> None:
    from flickerd.media.thumbnails import data_uri, grab
    from flickerd.report.folder_html import render, thumbnail_frames

    # first, worst and last frame of each clip, decoded again at thumbnail size
    thumbnails = {d.file: {i: data_uri(jpeg) for i, jpeg in grab(d.file, [f for f, _ in thumbnail_frames(d)]).items()}
                  for d in diagnoses}
    folder = os.path.dirname(os.path.abspath(target))
    tmp = os.path.join(folder, f".{os.path.basename(target)}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(render(diagnoses, errors, thumbnails=thumbnails))
    os.replace(tmp, target)


TIMELINE_BATCH = 256  # timeline entries encoded at a time


def write_json(d, out) -> None:
    """``d`` as one line of JSON (``diagnose.model``'s schema), the timeline encoded a batch of entries at a time.

    The same text as ``json.dumps`` of the whole document, but a long clip's timeline (about
    1 KB a frame as dicts, and again as one string) is never held whole.
    """
    head = _finite(d.to_json(timeline=False))
    out.write("{")
    for i, (key, value) in enumerate(head.items()):
        out.write(f"{', ' if i else ''}{json.dumps(key)}: ")
        if key != "timeline":
            out.write(json.dumps(value, allow_nan=False))
            continue
        out.write("[")
        for start in range(0, len(d.timeline), TIMELINE_BATCH):
            batch = [_finite(p.to_json()) for p in d.timeline[start:start + TIMELINE_BATCH]]
            out.write((", " if start else "") + json.dumps(batch, allow_nan=False)[1:-1])
        out.write("]")
    out.write("}\n")
    out.flush()


def _finite(value):
    """JSON has no NaN: unmeasured values become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value

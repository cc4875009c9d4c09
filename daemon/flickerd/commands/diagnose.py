"""``flickerd diagnose FILE... [--json] [--scale S]``: diagnose files and print the verdicts.

Human output is a small table per file; ``--json`` prints one schema-1 object per line.
A bad file gets a one-line error on stderr and a non-zero exit; the other files still run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

NAME = "diagnose"
HELP = "Diagnose video files: flicker, codec artifacts, clean or incoherent."

# exit codes
EXIT_OK = 0
EXIT_BAD_INPUT = 1

_TABLE_KEYS = (
    ("luma_flicker", "global luma flicker (grey levels)"),
    ("chroma_flicker", "global chroma flicker (grey levels)"),
    ("local_flicker", "local flicker, worst regions (grey levels)"),
    ("texture_flicker", "regenerated texture (residual/detail)"),
    ("incoherence", "incoherent pairs (fraction)"),
    ("banding", "banding (fraction of smooth area)"),
    ("blocking", "blocking (8x8 step ratio)"),
    ("warp_error", "warping error (Lai et al.)"),
    ("mean_diff", "seed's mean frame diff (comparison)"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="video files to diagnose")
    parser.add_argument("--json", action="store_true", help="one JSON object (schema 1) per file per line")
    parser.add_argument("--scale", type=float, default=None,
                        help="analysis scale before the max-side cap (default 1.0)")


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


def main(args: argparse.Namespace) -> int:
    from flickerd.diagnose import run
    from flickerd.diagnose.settings import DiagnoseSettings
    from flickerd.errors import FlickerdError

    try:
        settings = DiagnoseSettings(scale=args.scale) if args.scale else DiagnoseSettings()
    except FlickerdError as exc:
        print(f"flickerd diagnose: {exc}", file=sys.stderr)
        return 2
    tty = sys.stderr.isatty()
    status = EXIT_OK
    for path in args.files:
        try:
            d = run(path, settings, progress=_progress_bar(path) if tty else None)
        except FlickerdError as exc:
            print(f"flickerd diagnose: {exc}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        except Exception as exc:  # one unreadable file must not stop the others
            print(f"flickerd diagnose: {path}: cannot be diagnosed ({type(exc).__name__}: {exc}).", file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        if args.json:
            print(json.dumps(_finite(d.to_json()), allow_nan=False), flush=True)
        else:
            print(format_table(d), flush=True)
    return status


def _finite(value):
    """JSON has no NaN: unmeasured values become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value

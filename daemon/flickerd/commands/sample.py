"""``flickerd sample OUT.mp4 [--kind luma]``: write a generated clip to try the tool on."""

from __future__ import annotations

import argparse
import sys

NAME = "sample"
HELP = "Write a short generated clip (clean, or with a chosen kind of flicker or codec damage)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from flickerd.synth.kinds import KINDS

    parser.add_argument("output", metavar="OUT.mp4", help="where to write the clip")
    parser.add_argument("--kind", choices=KINDS, default="luma", help="what the clip shows (default: luma)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", default="320x180", help="WIDTHxHEIGHT (default 320x180)")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--strength", type=float, default=1.0, help="1.0 clearly visible, 0.3 subtle")
    parser.add_argument("--audio", action="store_true", help="add a sine-tone AAC track")


def main(args: argparse.Namespace) -> int:
    from flickerd.synth.corpus import ClipSpec, write_clip

    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"flickerd sample: --size: expected WIDTHxHEIGHT, got {args.size!r}.", file=sys.stderr)
        return 2
    if w < 32 or h < 32 or w % 2 or h % 2 or args.frames < 3:
        print("flickerd sample: the size must be even and at least 32x32, with at least 3 frames.", file=sys.stderr)
        return 2
    spec = ClipSpec(seed=args.seed, kind=args.kind, width=w, height=h, frames=args.frames, fps=args.fps,
                    strength=args.strength)
    try:
        write_clip(spec, args.output, audio=args.audio)
    except OSError as exc:
        print(f"flickerd sample: cannot write {args.output} ({exc.strerror or exc}).", file=sys.stderr)
        return 1
    print(f"{args.output}: {args.kind} ({spec.label}), {w}x{h}, {args.frames} frames")
    return 0

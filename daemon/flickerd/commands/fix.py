"""``flickerd fix FILE``: diagnose, fix, verify and write one file, like the daemon does.

Output: by default the sibling folder the daemon uses, ``DIR.fixed/NAME.EXT`` for
``DIR/NAME.EXT``; ``-o OUT`` names the file (or an existing folder). The three reports go
beside it (``NAME.report.json``, ``NAME.flicker.png``, ``NAME.compare.mp4``). The video is
written only when verification accepts it, through a temp name and ``os.replace``.

Exit codes: 0 fixed video written, or the clip is clean (report only) or a review candidate
was written; 1 the fix was rejected by verification (reports only); 2 bad usage or unusable
input (missing, empty, corrupt, not a video, unknown route); 3 needs attention (incoherent:
report only); 4 the fix failed (route error, missing model); 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence

from flickerd.errors import ConfigError, FlickerdError, InputError

NAME = "fix"
HELP = "Diagnose, fix and verify one video; write the fixed file and its reports."

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_ATTENTION = 3
EXIT_FAILED = 4

_EXIT = {"done": EXIT_OK, "report_only": EXIT_OK, "review": EXIT_OK, "rejected": EXIT_REJECTED,
         "needs_attention": EXIT_ATTENTION, "failed": EXIT_FAILED}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from flickerd.routes.registry import ROUTES

    p.add_argument("file", metavar="FILE", help="the video to fix")
    # listed from the registry, so a new route (detail was missing) cannot be left out of the help
    p.add_argument("--route", default="auto", metavar="ROUTE",
                   help=f"auto (diagnose and pick by the default rules), a route ({', '.join(ROUTES)}) "
                        "or a chain such as normalize+detail (default: auto)")
    p.add_argument("--mode", choices=("smooth", "interpolate"), default=None,
                   help="RIFE mode: smooth (same fps, default) or interpolate (2x fps; never counted as a flicker fix)")
    p.add_argument("-o", "--output", metavar="OUT", default=None,
                   help="output file, or an existing folder (default: DIR.fixed/NAME.EXT beside the input's folder)")
    p.add_argument("--no-compare", action="store_true", help="skip the side-by-side comparison clip")
    p.add_argument("--guide", default=None, metavar="GUIDE",
                   help="the render's source video (same frame count, any size): stability and motion come from "
                        "it (default: NAME.guide.EXT beside FILE, or the sidecar's 'guide' key)")
    p.add_argument("--no-guide", action="store_true", help="ignore any guide: fix blind")
    p.add_argument("--codec", default=None, metavar="CODEC",
                   help="output codec: h264, h265, prores, prores4444, ffv1, nvenc (default: keep what came in)")


def default_output(src: str) -> str:
    """``DIR/NAME.EXT`` → ``DIR.fixed/NAME.EXT`` (the daemon's sibling folder)."""
    folder = os.path.dirname(os.path.abspath(src))
    return os.path.join(folder.rstrip(os.sep) + ".fixed", os.path.basename(src))


def resolve_output(src: str, output: str | None) -> str:
    if output is None:
        return default_output(src)
    if os.path.isdir(output) or output.endswith(os.sep):
        return os.path.join(output, os.path.basename(src))
    if not os.path.splitext(output)[1]:  # a folder not made yet, most likely; a video named so no player opens
        raise ConfigError(f"{output}: no such folder, and no extension to name the video's container; give a file "
                          f"such as {os.path.join(output, os.path.basename(src))} or an existing folder "
                          f"(a name ending in {os.sep} is made).")
    return os.path.abspath(output)


def named_codec(src: str, final: str) -> str | None:
    """The codec ``-o``'s extension asks for when the source is an animated image (GIF, WebP): the
    kept codec would put a GIF inside a file named ``.mp4``. None: keep what came in."""
    from flickerd.media.writer import CONTAINER_CODEC

    ext, src_ext = os.path.splitext(final)[1].lower(), os.path.splitext(src)[1].lower()
    if src_ext in (".gif", ".webp") and ext != src_ext:
        return CONTAINER_CODEC.get(ext)
    return None


def parse_route(route: str, mode: str | None):
    """``auto`` → None; ``a+b`` → steps (``--mode`` goes to RIFE steps). Unknown names: ConfigError."""
    from flickerd.routes.base import Step
    from flickerd.routes.registry import ROUTES

    if route == "auto":
        return None
    names = [n.strip() for n in route.split("+")]
    unknown = [n for n in names if n not in ROUTES]
    if not all(names) or unknown:
        from flickerd.config_reader import suggestion

        hint = suggestion(unknown[0], ROUTES) if len(unknown) == 1 else ""
        raise ConfigError(f"unknown route {'+'.join(unknown) or route!r}{hint or '.'} Choose auto or a chain of: "
                          f"{', '.join(sorted(ROUTES))}.")
    return tuple(Step(n, {"mode": mode} if mode and n == "rife" else {}) for n in names)


def rules_with_mode(rules, mode: str | None):
    """The rules with ``mode`` set on every RIFE step (``--mode`` with ``--route auto``)."""
    if not mode:
        return rules

    def fix(steps):
        return tuple(dataclasses.replace(s, params={**s.params, "mode": mode}) if s.route == "rife" else s
                     for s in steps)

    return tuple(dataclasses.replace(r, steps=fix(r.steps), fallback=fix(r.fallback)) for r in rules)


class _Bar:
    """A one-line progress bar on a TTY; silent otherwise."""

    WIDTH = 30

    def __init__(self, label: str, stream=None) -> None:
        self.label = label
        self.stream = stream or sys.stderr  # looked up now: a default taken at import outlives a redirected stderr
        self.on = self.stream.isatty()
        self.last = -1

    def __call__(self, fraction: float) -> None:
        pct = int(100 * max(0.0, min(1.0, fraction)))
        if not self.on or pct == self.last:
            return
        self.last = pct
        done = self.WIDTH * pct // 100
        self.stream.write(f"\r{self.label} [{'#' * done}{'.' * (self.WIDTH - done)}] {pct:3d}%")
        self.stream.flush()

    def close(self) -> None:
        if self.on and self.last >= 0:
            self.stream.write("\r" + " " * (len(self.label) + self.WIDTH + 8) + "\r")
            self.stream.flush()


def _err(message: str) -> None:
    print(f"flickerd fix: {message}", file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    from flickerd.diagnose import process_tuning

    process_tuning.single_threaded_opencv()  # before OpenCV loads
    from flickerd.process import process_file
    from flickerd.report import COMPARE_SUFFIX, JSON_SUFFIX, PLOT_SUFFIX, PUBLISHED
    from flickerd.report.placement import Placement, place_file
    from flickerd.rules import DEFAULT_RULES

    from flickerd.media.probe import probe
    from flickerd.routes.regenerate.sidecar import generator_record

    src = args.file
    try:
        steps = parse_route(args.route, args.mode)  # a usage error is said before the input is read
        probe(src, decode_check=1)  # a bad input fails here, before anything is created
        final = resolve_output(src, args.output)
        if args.codec:
            from flickerd.media.writer import CODEC_ALIASES, output_extension

            if args.codec.lower() not in CODEC_ALIASES:
                raise ConfigError(f"unknown codec {args.codec!r}; expected one of {', '.join(sorted(CODEC_ALIASES))}.")
            if args.output is None:  # the container follows the codec where the source's cannot hold it
                base, ext = os.path.splitext(final)
                final = base + output_extension(ext, args.codec)
        if os.path.abspath(final) == os.path.abspath(src):
            raise ConfigError(f"{final}: the output would overwrite the input; choose another -o.")
        record = generator_record(src)  # a broken sidecar is a warning here, the regeneration route's error
        guide = None if args.no_guide else find_guide_for(src, args.guide, record)
        if guide is not None and guide.path is None and args.guide:
            raise ConfigError(guide.note.split("; the render")[0] + ".")  # named on the command line: say so
    except FlickerdError as exc:
        _err(str(exc))
        return EXIT_USAGE
    out_dir = os.path.dirname(final)
    stem = os.path.splitext(os.path.basename(final))[0]
    created = not os.path.isdir(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
        # The workdir sits in the output folder so the final os.replace never crosses filesystems.
        workdir = tempfile.mkdtemp(prefix=".flickerd-", dir=out_dir)
    except OSError as exc:
        _err(f"{out_dir}: cannot create the output folder ({exc.strerror}).")
        return EXIT_USAGE
    bar = _Bar(os.path.basename(src))
    try:
        try:
            outcome = process_file(src, workdir, rules=rules_with_mode(DEFAULT_RULES, args.mode),
                                   route_override=steps, progress=bar, compare=not args.no_compare,
                                   output_codec=args.codec.lower() if args.codec else named_codec(src, final), guide=guide,
                                   windows=record if record is not None and (record.window or record.seams) else None)
        finally:
            bar.close()
        written = []
        publish_video = outcome.status in PUBLISHED and bool(outcome.output)
        produced = {suffix: path for path, suffix in (
            (outcome.reports.json if outcome.reports else None, JSON_SUFFIX),
            (outcome.reports.plot if outcome.reports else None, PLOT_SUFFIX),
            (outcome.reports.compare if outcome.reports else None, COMPARE_SUFFIX)) if path and os.path.exists(path)}
        targets = {suffix: os.path.join(out_dir, stem + suffix) for suffix in produced}
        if JSON_SUFFIX in produced:  # the report names the files written here, not the temp workdir's
            place_file(produced[JSON_SUFFIX], Placement(
                final if publish_video else None, _key(src, steps, args.mode, outcome),
                reports={"plot": targets.get(PLOT_SUFFIX), "compare": targets.get(COMPARE_SUFFIX)}))
        for suffix, path in produced.items():
            os.replace(path, targets[suffix])
            written.append(targets[suffix])
        if publish_video:
            os.replace(outcome.output, final)  # last: the video appears only with its reports beside it
            written.insert(0, final)
    except InputError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except FlickerdError as exc:
        _err(str(exc))
        return EXIT_FAILED
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if created and not os.listdir(out_dir):
            os.rmdir(out_dir)  # leave no empty folder behind a failed run
    _summary(outcome, written)
    return _EXIT.get(outcome.status, EXIT_FAILED)


def find_guide_for(src: str, named: str | None, sidecar=None):
    """The guide ``--guide`` names (checked), else the one found as the daemon finds it (beside, ``sidecar``)."""
    from flickerd.media.guide import check_guide, find_guide

    if named:
        return check_guide(src, named, os.path.dirname(os.path.abspath(named)), "command line")
    if os.path.isdir(src):
        return None
    folder = os.path.dirname(os.path.abspath(src))
    return find_guide(src, root=folder, wait_s=0.0, sidecar_guide=sidecar.guide if sidecar else None)


def _key(src: str, steps, mode: str | None, outcome):
    """The idempotence key the daemon would record: content hash, what decided the steps, route versions."""
    from flickerd.config_rules import rules_hash
    from flickerd.report.json_report import route_versions
    from flickerd.report.placement import Key
    from flickerd.rules import DEFAULT_RULES

    if os.path.isdir(src):
        from flickerd.service.sequence_hash import sequence_hash

        sha = sequence_hash(src, marker="", default_fps=24.0)[0]
    else:
        from flickerd.service.hashing import sha256_file

        sha = sha256_file(src)
    # the daemon's key is "<mode>:<rules hash>"; an explicit --route stands in for the rules
    decided = ("override:" + "+".join(s.route for s in steps)) if steps else \
        "fix:" + rules_hash(rules_with_mode(DEFAULT_RULES, mode))
    return Key(sha, decided, route_versions(outcome.chain))


def _summary(outcome, written: Sequence[str]) -> None:
    """``done (fixed: normalize, verdict generative_flicker, luma flicker -85%, …)``: the status token
    first (scripts parse it), then the plot's words for it. A fix nobody gets (rejected, or a refused
    guided fix of a render reported as it is) gives its figures after saying so, not as if published (qa19 #12)."""
    from flickerd.report import PUBLISHED, STATUS_WORDS, figures_text, fixed_how, route_text, unpublished

    v = outcome.verification
    route = route_text(outcome.decision, outcome.chain) if outcome.decision else outcome.route
    parts = [route] if route and route != "none" else []  # a job with no decision: "failed", not "(failed: none)"
    if outcome.before is not None:
        parts.append(f"verdict {outcome.before.verdict.value}")
    figures = figures_text(v) if v is not None else ""
    published = outcome.status in PUBLISHED
    if figures and published:
        parts.append(figures)
    words = STATUS_WORDS.get(outcome.status, outcome.status)
    line = f"{outcome.status} ({words}: {', '.join(parts)})" if parts else outcome.status
    if figures and not published:
        line += f"; {unpublished(outcome.status, figures)}"
    print(line)
    if outcome.status == "done":  # its reason repeats the line's figures: the rule part only (review20 #7)
        if outcome.decision is not None:
            print(f"  {fixed_how(outcome.decision, getattr(outcome, 'chain', None))}.")
    elif outcome.reason:
        print(f"  {outcome.reason}")
    elif outcome.verification is None and outcome.decision is not None and outcome.decision.note:
        print(f"  rule {outcome.decision.rule}: {outcome.decision.note}")  # why nothing was fixed
    for path in written:
        print(f"  {path}")

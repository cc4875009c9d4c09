"""TOML → one frozen ``Config``: global settings, watched folders and their rules, limits.

``load(path)`` and ``loads(text)`` read a config file; ``default()`` is the embedded default
(identical to ``config/flickerd.toml``); ``with_watch_dirs`` is ``flickerd run --watch DIR``.
Every problem becomes one ``ConfigError`` that lists all errors, each naming its key path
(``folders[1].rules[0].steps[0].route``) and, for TOML syntax errors, the file and line.
Unknown keys are errors. Relative paths resolve against the config file's folder (for the
embedded default and ``loads``: the current working directory). A reload builds a whole new
``Config``; nothing here is ever changed in place. No other module reads TOML.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from flickerd.config_reader import Section, format_errors, plain
from flickerd.config_rules import read_route_params, read_rules, rules_hash, with_route_params
from flickerd.errors import ConfigError
from flickerd.limits import Limits
from flickerd.media.writer import CODEC_ALIASES
from flickerd.rules import DEFAULT_RULES, Rule
from flickerd.config_webhooks import WebhookConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_STATE_DIR = ".flickerd-state"  # relative to the config file's folder
DEFAULT_METRICS_ADDRESS = "127.0.0.1:9478"
DEFAULT_CPU_WORKERS = 2
DEFAULT_GPU_SLOTS = 0  # per GPU; 0: CPU routes only (regeneration off)
DEFAULT_EXECUTOR = "local"
DEFAULT_LOG_LEVEL = "info"
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RESCAN_INTERVAL_S = 60.0
DEFAULT_SHUTDOWN_TIMEOUT_S = 30.0
DEFAULT_STALL_S = 120.0  # a worker thread without progress this long makes the daemon unhealthy

DEFAULT_PATTERNS = ("*.mp4", "*.mov", "*.mkv", "*.webm", "*.avi", "*.m4v", "*.gif", "*.webp")
DEFAULT_POLL_INTERVAL_S = 5.0
DEFAULT_SETTLE_S = 5.0
DEFAULT_SETTLE_MAX_S = 3600.0
DEFAULT_PRIORITY = 0
DEFAULT_SEQUENCE_MARKER = "_done"
DEFAULT_SEQUENCE_QUIET_S = 10.0
DEFAULT_GUIDE_WAIT_S = 30.0  # s: a guide announced by the sidecar but not yet there is waited for this long
MAX_GUIDE_WAIT_S = 3600.0
DEFAULT_SEQUENCE_FPS = 24.0
OUTPUT_SUFFIX = ".fixed"  # renders/ → renders.fixed/
ARCHIVE_SUFFIX = ".done"  # renders/ → renders.done/ when on_success = "move"

EXECUTORS = ("local", "ray")
LOG_LEVELS = ("debug", "info", "warning", "error")
MODES = ("fix", "diagnose")
ON_SUCCESS = ("keep", "move")
SEQUENCE_OUTPUTS = ("video", "sequence")
MAX_SEQUENCE_FPS = 1000.0

DEFAULT_RESOURCE = "defaults/flickerd.toml"
_NAME = re.compile(r"^[\w.-]{1,64}$")
_ADDRESS = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]*):(?P<port>[0-9]{1,5})$")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$|\s*\(at end of document\)\s*$")


@dataclass(frozen=True, slots=True)
class FolderConfig:
    """One watched folder: where renders arrive, where results go, and how to treat them."""

    name: str  # unique; used as the metrics ``folder`` label
    path: Path  # the input folder (absolute)
    output: Path  # fixed videos and reports; default: the sibling ``<path>.fixed``
    patterns: tuple[str, ...] = DEFAULT_PATTERNS  # file name globs that become jobs
    recursive: bool = False
    poll: bool = False  # poll instead of inotify (NFS/SMB mounts)
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
    settle_s: float = DEFAULT_SETTLE_S  # size and mtime must stay unchanged this long
    settle_max_s: float = DEFAULT_SETTLE_MAX_S  # a file still changing after this is reported
    mode: str = "fix"  # "fix" | "diagnose" (reports only)
    priority: int = DEFAULT_PRIORITY  # higher runs first
    rules: tuple[Rule, ...] = DEFAULT_RULES
    auto_accept: bool = False  # True: regenerated candidates skip _review/ and publish directly
    on_success: str = "keep"  # "keep" | "move" (the source to ``archive`` once published)
    archive: Path | None = None
    rules_hash: str = ""  # of ``rules``; part of a job's idempotence key
    webhooks: tuple[WebhookConfig, ...] = ()  # POSTed on done/rejected/failed/quarantined/needs_review
    output_codec: str = ""  # "" keeps what came in; else h264, h265, prores, prores4444, ffv1, nvenc
    sequence_marker: str = DEFAULT_SEQUENCE_MARKER  # a sequence folder is complete once this file is in it
    sequence_quiet_s: float = DEFAULT_SEQUENCE_QUIET_S  # ... or no frame changed this long (0: marker only)
    sequence_fps: float = DEFAULT_SEQUENCE_FPS  # a sequence's rate when no sidecar gives one
    sequence_output: str = "video"  # "video" | "sequence" (frames in the source's format and depth)
    guides: Path | None = None  # a folder of source videos, matched to renders by name (NAME.EXT)
    guide_wait_s: float = DEFAULT_GUIDE_WAIT_S  # a guide the sidecar names is waited for this long

    @classmethod
    def for_dir(cls, path: Path, *, rules: tuple[Rule, ...] = DEFAULT_RULES, name: str | None = None) -> FolderConfig:
        """A folder with every default: sibling output, the given rules."""
        path = Path(os.path.abspath(path))
        return cls(
            name=name or default_name(path),
            path=path,
            output=sibling(path, OUTPUT_SUFFIX),
            rules=rules,
            rules_hash=rules_hash(rules),
        )


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration; a reload replaces it as one object."""

    state_dir: Path
    metrics_address: str = DEFAULT_METRICS_ADDRESS
    cpu_workers: int = DEFAULT_CPU_WORKERS
    gpu_slots: int = DEFAULT_GPU_SLOTS
    executor: str = DEFAULT_EXECUTOR  # "local" | "ray"
    ray_address: str | None = None  # None: start or join a local Ray
    log_level: str = DEFAULT_LOG_LEVEL
    max_attempts: int = DEFAULT_MAX_ATTEMPTS  # failed attempts before a job is quarantined
    rescan_interval_s: float = DEFAULT_RESCAN_INTERVAL_S
    shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S
    stall_s: float = DEFAULT_STALL_S  # intake or a stopping job without progress this long: unhealthy
    ffmpeg_path: str | None = None  # None: the bundled imageio-ffmpeg binary
    folders: tuple[FolderConfig, ...] = ()
    diagnose: Any = field(default_factory=dict)  # DiagnoseSettings, or a plain mapping until it exists
    acceptance: Any = field(default_factory=dict)  # verify.Acceptance, or a plain mapping until it exists
    reports: Any = field(default_factory=dict)  # report.settings.ReportSettings: how the side-by-side clip is made
    limits: Limits = Limits()
    source: str = "<string>"
    rules_hash: str = ""  # of all effective rules; a job should record its folder's ``rules_hash``
    rules: tuple[Rule, ...] = DEFAULT_RULES  # the rules of every folder that has none of its own
    route_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # [routes.NAME] defaults
    regenerate: Mapping[str, Any] = field(default_factory=dict)  # the [regenerate] table

    def folder(self, name: str) -> FolderConfig:
        for f in self.folders:
            if f.name == name:
                return f
        raise KeyError(name)


# --- entry points ----------------------------------------------------------------------


def load(path: str | os.PathLike) -> Config:
    """Read and validate the config file at ``path``."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: is not UTF-8 text (byte {exc.start}); save it as UTF-8.") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
    return loads(text, source=str(path), base_dir=Path(os.path.abspath(path)).parent)


def loads(text: str, source: str = "<string>", *, base_dir: str | os.PathLike | None = None) -> Config:
    """Parse and validate TOML ``text``; relative paths resolve against ``base_dir`` (default: cwd)."""
    data = _parse_toml(text, source)
    base = Path(os.path.abspath(base_dir if base_dir is not None else os.getcwd()))
    return _build(data, source, base)


def default() -> Config:
    """The embedded default config: watches ``./hotfolder/incoming`` of the current directory."""
    text = resources.files("flickerd").joinpath(DEFAULT_RESOURCE).read_text(encoding="utf-8")
    return loads(text, source=f"<embedded {DEFAULT_RESOURCE}>", base_dir=os.getcwd())


def with_watch_dirs(config: Config, dirs: Sequence[str | os.PathLike]) -> Config:
    """``config`` watching exactly ``dirs`` (``flickerd run --watch``), each with the shared
    rules (the default rules unless the config overrides ``[[rules]]``) and its sibling output.
    """
    if not dirs:
        raise ConfigError("--watch: give at least one folder to watch.")
    folders: list[FolderConfig] = []
    names: set[str] = set()
    for d in dirs:
        folder = FolderConfig.for_dir(Path(os.path.expanduser(os.fspath(d))), rules=config.rules)
        name, n = folder.name, 2
        while name in names:  # two folders called "renders" in different places
            name, n = f"{folder.name}-{n}", n + 1
        names.add(name)
        folders.append(dataclasses.replace(folder, name=name))
    errors = folder_errors(folders)
    if errors:
        raise ConfigError(format_errors("--watch", errors))
    return dataclasses.replace(config, folders=tuple(folders), rules_hash=_config_rules_hash(config.rules, folders))


# --- helpers other modules may use -----------------------------------------------------


def sibling(path: Path, suffix: str) -> Path:
    """``/a/renders`` → ``/a/renders.fixed``."""
    return path.with_name(path.name + suffix) if path.name else path / suffix.lstrip(".")


def default_name(path: Path) -> str:
    """A folder's default name: its basename, with characters a label should not carry replaced."""
    name = re.sub(r"[^\w.-]+", "-", path.name).strip("-.")[:64]
    return name or "folder"


def folder_errors(folders: Sequence[FolderConfig], paths: Sequence[str] | None = None) -> list[str]:
    """Folder sanity: names unique, no shared inputs, no output or archive the watcher would see.

    ``paths`` are the folders' key paths for messages (default ``folders[i]``).
    """
    where = list(paths) if paths is not None else [f"folders[{i}]" for i in range(len(folders))]
    errors: list[str] = []
    for i, f in enumerate(folders):
        for j in range(i):
            g = folders[j]
            if f.name == g.name:
                errors.append(
                    f"{where[i]}.name: {f.name!r} is already the name of {where[j]}; folder names must be unique."
                )
            if _same(f.path, g.path):
                errors.append(f"{where[i]}.path: {f.path} is already watched by {where[j]}.")
            elif g.recursive and _inside(f.path, g.path):
                errors.append(f"{where[i]}.path: {f.path} is inside {where[j]}.path, which is watched recursively.")
            elif f.recursive and _inside(g.path, f.path):
                errors.append(f"{where[j]}.path: {g.path} is inside {where[i]}.path, which is watched recursively.")
            if _same(f.output, g.output):
                errors.append(
                    f"{where[i]}.output: {f.output} is also the output of {where[j]}; give each folder its own."
                )
        for key, target in (("output", f.output), ("archive", f.archive)):
            if target is None:
                continue
            for j, g in enumerate(folders):
                if _same(target, g.path):
                    errors.append(
                        f"{where[i]}.{key}: {target} is the input folder of {where[j]}; "
                        "its files would be processed again and again."
                    )
                elif g.recursive and _inside(target, g.path):
                    errors.append(
                        f"{where[i]}.{key}: {target} is inside {where[j]}.path, which is watched recursively; "
                        "move it outside or set recursive = false."
                    )
        if f.archive is not None and _same(f.archive, f.output):
            errors.append(f"{where[i]}.archive: {f.archive} is the output folder; give the archive its own folder.")
    return errors


# --- building --------------------------------------------------------------------------


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_syntax_message(exc, source)) from None
    except (ValueError, RecursionError) as exc:  # e.g. absurdly deep nesting
        raise ConfigError(f"{source}: invalid TOML ({type(exc).__name__}: {exc}).") from None


def _syntax_message(exc: Exception, source: str) -> str:
    """``FILE, line L, column C: invalid TOML: problem`` (``lineno`` exists only on 3.14+)."""
    message = str(exc)
    line = getattr(exc, "lineno", None)
    column = getattr(exc, "colno", None)
    found = _TOML_POSITION.search(message)
    if found:
        message = message[: found.start()]
        if line is None and found.group(1):
            line, column = int(found.group(1)), int(found.group(2))
    where = f"{source}, line {line}, column {column}" if line else f"{source}, at the end"
    return f"{where}: invalid TOML: {message}."


def _build(data: dict[str, Any], source: str, base: Path) -> Config:
    from flickerd.routes.registry import ROUTES

    routes = frozenset(ROUTES)
    root = Section(data)
    daemon = root.get_table("daemon")
    settings = _read_daemon(daemon, base)
    route_params = read_route_params(root.get_table("routes"), routes)
    shared = DEFAULT_RULES
    if root.raw("rules") is not None:
        shared = read_rules(root.get_tables("rules"), "rules", routes)
        if not shared and isinstance(root.raw("rules"), list):
            root.fail("rules", "is empty; remove it to use the default rules.")
    shared = with_route_params(shared, route_params)
    folders = tuple(_read_folder(s, base, shared, routes, route_params) for s in root.get_tables("folders"))
    limits = Limits.read(root.get_table("limits"))
    diagnose = _owned_section(root, "diagnose", "flickerd.diagnose.settings", "DiagnoseSettings")
    acceptance = _owned_section(root, "acceptance", "flickerd.verify", "Acceptance")
    reports = _owned_section(root, "reports", "flickerd.report.settings", "ReportSettings")
    regenerate = root.get_plain("regenerate")
    root.finish()
    if not any(e.startswith("folders") for e in root.errors):  # a bad path would only cascade
        root.errors.extend(folder_errors(folders))
    root.raise_if_failed(source)
    return Config(
        **settings,
        folders=folders,
        diagnose=diagnose,
        acceptance=acceptance,
        reports=reports,
        limits=limits,
        source=source,
        rules_hash=_config_rules_hash(shared, folders),
        rules=shared,
        route_params=route_params,
        regenerate=regenerate,
    )


def _config_rules_hash(shared: tuple[Rule, ...], folders: Sequence[FolderConfig]) -> str:
    """The shared rules' hash, folded with every folder's own rules when some have them.

    Adding a folder that uses the shared rules leaves it unchanged; any rule edit changes it.
    """
    base = rules_hash(shared)
    own = sorted({f.rules_hash for f in folders} - {base})
    if not own:
        return base
    return hashlib.sha256(":".join([base, *own]).encode()).hexdigest()[:16]


def _read_daemon(s: Section, base: Path) -> dict[str, Any]:
    address = s.get_str("metrics_address", DEFAULT_METRICS_ADDRESS)
    found = _ADDRESS.match(address)
    if not found or int(found.group("port")) > 65535:
        s.fail("metrics_address", f"expected HOST:PORT such as {DEFAULT_METRICS_ADDRESS!r}, got {address!r}.")
        address = DEFAULT_METRICS_ADDRESS
    ffmpeg = s.get_optional_str("ffmpeg_path")
    if ffmpeg and os.sep in ffmpeg:  # a bare name is looked up on PATH
        ffmpeg = str(_path(base, ffmpeg))
    values = dict(
        state_dir=_path(base, s.get_str("state_dir", DEFAULT_STATE_DIR, allow_empty=False)),
        metrics_address=address,
        cpu_workers=s.get_int("cpu_workers", DEFAULT_CPU_WORKERS, min_value=1, max_value=1024),
        gpu_slots=s.get_int("gpu_slots", DEFAULT_GPU_SLOTS, min_value=0, max_value=64),
        executor=s.get_choice("executor", DEFAULT_EXECUTOR, EXECUTORS),
        ray_address=s.get_optional_str("ray_address"),
        log_level=s.get_choice("log_level", DEFAULT_LOG_LEVEL, LOG_LEVELS),
        max_attempts=s.get_int("max_attempts", DEFAULT_MAX_ATTEMPTS, min_value=1, max_value=100),
        rescan_interval_s=s.get_float("rescan_interval_s", DEFAULT_RESCAN_INTERVAL_S, positive=True),
        shutdown_timeout_s=s.get_float("shutdown_timeout_s", DEFAULT_SHUTDOWN_TIMEOUT_S, min_value=0.0),
        stall_s=s.get_float("stall_s", DEFAULT_STALL_S, positive=True),
        ffmpeg_path=ffmpeg,
    )
    s.finish()
    return values


def _read_folder(
    s: Section, base: Path, shared: tuple[Rule, ...], routes: frozenset[str], route_params: Mapping[str, Any]
) -> FolderConfig:
    raw_path = s.get_str("path", "", allow_empty=False)
    if not s.has("path"):
        s.fail("path", "every folder needs a path (the folder to watch).")
    path = _path(base, raw_path or ".")
    name = s.get_str("name", default_name(path), allow_empty=False)
    if not _NAME.match(name):
        s.fail("name", f"{name!r} may hold only letters, digits, '.', '_' and '-' (at most 64).")
    output = _path(base, s.get_str("output", "", allow_empty=False) or str(sibling(path, OUTPUT_SUFFIX)))
    on_success = s.get_choice("on_success", "keep", ON_SUCCESS)
    archive_text = s.get_optional_str("archive")
    archive = _path(base, archive_text) if archive_text else None
    if on_success == "move" and archive is None:
        archive = sibling(path, ARCHIVE_SUFFIX)
    if on_success == "keep" and archive is not None:
        s.fail("archive", 'is used only with on_success = "move"; remove it or set on_success.')
    rules = shared
    if s.raw("rules") is not None:
        rules = with_route_params(read_rules(s.get_tables("rules"), s.where("rules"), routes), route_params)
        if not rules and isinstance(s.raw("rules"), list):
            s.fail("rules", "is empty; remove it to use the shared rules.")
    settle_s = s.get_float("settle_s", DEFAULT_SETTLE_S, min_value=0.0)
    settle_max_s = s.get_float("settle_max_s", DEFAULT_SETTLE_MAX_S, min_value=0.0)
    if settle_max_s < settle_s:
        s.fail("settle_max_s", f"must be at least settle_s ({settle_s:g}), got {settle_max_s:g}.")
    webhooks = []
    for table in s.get_tables("webhooks"):
        try:
            webhooks.append(WebhookConfig.from_mapping(table.data, table.path))
        except ConfigError as exc:
            s.errors.append(str(exc))
    output_codec = s.get_str("output_codec", "")
    if output_codec and output_codec.lower() not in CODEC_ALIASES:
        s.fail("output_codec", f"unknown codec {output_codec!r}; expected one of {', '.join(sorted(CODEC_ALIASES))}.")
    marker = s.get_str("sequence_marker", DEFAULT_SEQUENCE_MARKER)
    if marker and (marker in (".", "..") or any(c in marker for c in "/\\\0") or len(marker) > 255):
        s.fail("sequence_marker", f"must be a plain file name (or \"\" for none), got {marker[:80]!r}.")
    guides_text = s.get_optional_str("guides")
    guides = _path(base, guides_text) if guides_text else None
    if guides is not None and (guides == path or path in guides.parents):
        s.fail("guides", f"must be a folder outside the watched folder (a sibling), got {guides}: its sources would "
                         "be taken for renders.")
    folder = FolderConfig(
        name=name,
        path=path,
        output=output,
        patterns=s.get_str_list("patterns", DEFAULT_PATTERNS),
        recursive=s.get_bool("recursive", False),
        poll=s.get_bool("poll", False),
        poll_interval_s=s.get_float("poll_interval_s", DEFAULT_POLL_INTERVAL_S, positive=True),
        settle_s=settle_s,
        settle_max_s=settle_max_s,
        mode=s.get_choice("mode", "fix", MODES),
        priority=s.get_int("priority", DEFAULT_PRIORITY, min_value=-1000, max_value=1000),
        rules=rules,
        auto_accept=s.get_bool("auto_accept", False),
        on_success=on_success,
        archive=archive,
        rules_hash=rules_hash(rules),
        webhooks=tuple(webhooks),
        output_codec=output_codec.lower(),
        sequence_marker=marker,
        sequence_quiet_s=s.get_float("sequence_quiet_s", DEFAULT_SEQUENCE_QUIET_S, min_value=0.0),
        sequence_fps=s.get_float("sequence_fps", DEFAULT_SEQUENCE_FPS, positive=True, max_value=MAX_SEQUENCE_FPS),
        sequence_output=s.get_choice("sequence_output", "video", SEQUENCE_OUTPUTS),
        guides=guides,
        guide_wait_s=s.get_float("guide_wait_s", DEFAULT_GUIDE_WAIT_S, min_value=0.0, max_value=MAX_GUIDE_WAIT_S),
    )
    s.finish()
    return folder


def _path(base: Path, text: str) -> Path:
    """An absolute, normalised path; relative ones are taken from ``base``."""
    return Path(os.path.normpath(os.path.join(base, os.path.expanduser(text))))


def _owned_section(root: Section, key: str, module: str, attr: str) -> Any:
    """A section another module owns: its ``from_mapping`` when the class exists, else plain data."""
    table = root.get_table(key)
    cls = _optional_class(module, attr)
    if cls is None:
        return plain(table.data, table.path, root.errors)
    try:
        return cls.from_mapping(table.data, table.path)
    except ConfigError as exc:
        root.errors.append(str(exc))
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        # The owner's validation missed a case; still report it as a config error.
        root.errors.append(f"{table.path}: {exc}")
    return None


def _optional_class(module: str, attr: str) -> type | None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            return None  # not written yet
        raise
    cls = getattr(mod, attr, None)
    return cls if hasattr(cls, "from_mapping") else None


def _forms(p: Path) -> tuple[str, ...]:
    """The path as written and with symlinks resolved (both absolute)."""
    try:
        return (str(p), os.path.realpath(p))
    except (OSError, ValueError):
        return (str(p),)


def _same(a: Path, b: Path) -> bool:
    return any(x == y for x in _forms(a) for y in _forms(b))


def _inside(child: Path, parent: Path) -> bool:
    """``child`` is strictly below ``parent``."""
    return any(x != y and x.startswith(y.rstrip(os.sep) + os.sep) for x in _forms(child) for y in _forms(parent))


__all__ = [
    "Config", "FolderConfig", "Limits", "load", "loads", "default", "with_watch_dirs",
    "folder_errors", "sibling", "default_name", "rules_hash",
]

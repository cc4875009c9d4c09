"""Fuzz the TOML loader: whatever the text, only ``ConfigError`` escapes ``config.loads``.

Three generators, 2,000 examples each: arbitrary text, TOML-ish lines built from the real
key names, and random config-shaped documents (the right keys at the right depth, values
that are often plausible and often not) serialised to TOML. The last one draws from
a ``random.Random`` seeded by hypothesis rather than nested strategies: that keeps 2,000
deep documents cheap, and a failure prints the seed that reproduces it.
"""

from __future__ import annotations

import math
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flickerd import config
from flickerd.errors import ConfigError

FUZZ = settings(
    max_examples=2000, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

DAEMON_KEYS = ["state_dir", "metrics_address", "cpu_workers", "gpu_slots", "executor", "ray_address", "log_level",
               "max_attempts", "rescan_interval_s", "shutdown_timeout_s", "stall_s", "ffmpeg_path"]
FOLDER_KEYS = ["name", "path", "output", "patterns", "recursive", "poll", "poll_interval_s", "settle_s", "settle_max_s",
               "mode", "priority", "auto_accept", "on_success", "archive"]
WHEN_KEYS = ["verdict", "min_scores", "max_scores", "min_confidence", "min_pixels", "max_pixels", "min_duration_s",
             "max_duration_s", "sidecar", "gpu"]
LIMIT_KEYS = ["max_pixels", "max_frames", "max_duration_s", "max_file_bytes", "job_timeout_s", "max_expansion"]
WORDS = ["fix", "review", "report", "attention", "keep", "move", "diagnose", "local", "ray", "info", "debug",
         "clean", "generative_flicker", "codec_artifacts", "mixed", "incoherent", "normalize", "rife", "ffmpeg",
         "regenerate", "smooth", "luma_flicker", "127.0.0.1:9478", "a", "a/b", "/tmp/x", "..", "", "~", "*.mp4"]
ALL_KEYS = sorted(set(DAEMON_KEYS + FOLDER_KEYS + WHEN_KEYS + LIMIT_KEYS + [
    "daemon", "folders", "rules", "limits", "diagnose", "acceptance", "regenerate", "routes", "when", "action",
    "steps", "fallback", "route", "params", "max_side", "scale", "min_ssim"]))
ROUTE_NAMES = ["normalize", "rife", "ffmpeg", "regenerate", "rif", ""]


def check(text: str) -> bool:
    """Load ``text``; True if it is a valid config. Anything but ``ConfigError`` fails the test."""
    try:
        cfg = config.loads(text, source="fuzz.toml", base_dir="/tmp/fuzz-base")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml")
        return False
    assert isinstance(cfg, config.Config)
    for folder in cfg.folders:
        assert folder.path.is_absolute() and folder.output.is_absolute() and folder.rules_hash
    return True


# --- serialising generated documents ---------------------------------------------------


def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are not TOML's: surrogate pairs, DEL)."""
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_document(doc: dict) -> str:
    """Every top-level key as ``key = <inline value>``: valid TOML for any nesting."""
    return "".join(f"{toml_string(k)} = {toml_value(v)}\n" for k, v in doc.items())


# --- random config-shaped documents ----------------------------------------------------

_STRINGS = ["a", "/tmp/x", "../y", "~", "", "127.0.0.1:9478", "[::1]:0", "host:99999", "local", "ray", "info", "a\nb"]
_INTS = [0, 1, 2, 3, -1, 64, 2**63 - 1, 10**30]
_FLOATS = [0.0, 0.5, 1, 5.0, -1.0, 1e308, float("nan"), float("inf")]
GOOD = {
    **{k: _STRINGS for k in ("state_dir", "metrics_address", "executor", "ray_address", "log_level", "ffmpeg_path",
                             "name", "path", "output", "archive")},
    **{k: _INTS for k in ("cpu_workers", "gpu_slots", "max_attempts", "priority", "min_pixels", "max_pixels",
                          "max_frames", "max_file_bytes", "max_side")},
    **{k: _FLOATS for k in ("rescan_interval_s", "shutdown_timeout_s", "stall_s", "poll_interval_s", "settle_s",
                            "settle_max_s", "min_confidence", "min_duration_s", "max_duration_s", "job_timeout_s",
                            "max_expansion", "min_ssim", "scale")},
    **{k: [True, False] for k in ("recursive", "poll", "auto_accept", "sidecar", "gpu")},
    "patterns": [["*.mp4"], ["*.mov", "*.mkv"], [], [""]],
    "verdict": ["clean", "mixed", ["incoherent", "generative_flicker"], ["codec_artifacts", "nope"], "flicker"],
    "min_scores": [{"luma_flicker": 0.5}, {"x": "y"}, {}],
    "max_scores": [{"warp_error": 1}, {"a": float("nan")}],
    "action": ["fix", "review", "report", "attention", "explode"],
    "mode": ["fix", "diagnose", "repair"],
    "on_success": ["keep", "move", "delete"],
    "grid": [[6, 8], [0, 1], "x"],
    "routes": [{"rife": {"min_ssim": 0.5}}, {"x": 1}],
}


def random_scalar(r):
    kind = r.randrange(6)
    if kind == 0:
        return r.random() < 0.5
    if kind == 1:
        return r.choice([0, 1, -1, 7, 2**63 - 1, -(2**63), 10**400])
    if kind == 2:
        return r.choice([0.0, -0.0, 0.5, 1e-9, 3.0, 1e300, float("nan"), float("-inf")])
    if kind == 3:
        return r.choice(WORDS)
    ranges = [(0x20, 0x7F), (0, 0x20), (0xA0, 0xD800), (0xE000, 0x110000)]
    return "".join(chr(r.randrange(*r.choice(ranges))) for _ in range(r.randrange(6)))


def random_value(r, depth=0):
    kind = r.randrange(8)
    if depth < 3 and kind == 0:
        return [random_value(r, depth + 1) for _ in range(r.randrange(4))]
    if depth < 3 and kind == 1:
        return {random_key(r): random_value(r, depth + 1) for _ in range(r.randrange(4))}
    return random_scalar(r)


def random_key(r) -> str:
    if r.random() < 0.8:
        return r.choice(ALL_KEYS)
    key = random_scalar(r)
    return key if isinstance(key, str) and key else "stray"


def plausible(r, key):
    return r.choice(GOOD[key]) if key in GOOD and r.random() < 0.75 else random_value(r)


def random_table(r, names, p=0.35):
    table = {n: plausible(r, n) for n in names if r.random() < p}
    if r.random() < 0.08:
        table[random_key(r)] = random_value(r)
    return table


def random_step(r):
    if r.random() < 0.4:
        return r.choice(ROUTE_NAMES)
    step = {"route": r.choice(ROUTE_NAMES)} if r.random() < 0.9 else {}
    if r.random() < 0.5:
        step["params"] = random_value(r)
    return step


def random_rule(r):
    rule = random_table(r, ["name", "action"], p=0.7)
    if r.random() < 0.7:
        rule["when"] = random_table(r, WHEN_KEYS, p=0.25)
    for key in ("steps", "fallback"):
        if r.random() < 0.6:
            rule[key] = [random_step(r) for _ in range(r.randrange(4))] if r.random() < 0.9 else random_value(r)
    return rule


def random_document(r) -> dict:
    doc = {}
    if r.random() < 0.5:
        doc["daemon"] = random_table(r, DAEMON_KEYS, p=0.25)
    if r.random() < 0.3:
        doc["limits"] = random_table(r, LIMIT_KEYS)
    if r.random() < 0.8:
        doc["folders"] = []
        for _ in range(r.randrange(4)):
            folder = random_table(r, FOLDER_KEYS, p=0.2)
            if r.random() < 0.9:
                folder["path"] = plausible(r, "path")
            if r.random() < 0.4:
                folder["rules"] = [random_rule(r) for _ in range(r.randrange(4))]
            doc["folders"].append(folder)
    if r.random() < 0.4:
        doc["rules"] = [random_rule(r) for _ in range(r.randrange(4))] if r.random() < 0.9 else random_value(r)
    for key, names in (("diagnose", ["max_side", "scale", "grid"]), ("acceptance", ["min_ssim", "routes"])):
        if r.random() < 0.2:
            doc[key] = random_table(r, names, p=0.5)
    if r.random() < 0.2:
        doc["routes"] = {r.choice(ROUTE_NAMES) or "x": random_value(r) for _ in range(r.randrange(3))}
    if r.random() < 0.1:
        doc["regenerate"] = random_value(r)
    if r.random() < 0.05:
        doc[random_key(r)] = random_value(r)
    return doc


header = st.sampled_from(["[daemon]", "[limits]", "[[folders]]", "[[folders.rules]]", "[[rules]]", "[routes.rife]",
                          "[diagnose]", "[acceptance]", "[regenerate]", "[folders]", "[[daemon]]", "[a.b.c]"])
assignment = st.builds(lambda k, v: f"{k} = {toml_value(v)}", st.sampled_from(ALL_KEYS),
                       st.booleans() | st.integers() | st.floats() | st.sampled_from(WORDS))
junk = st.text(alphabet=st.sampled_from(list("[]{}=\"',.#\n \\abc123-_:\t")), max_size=20)
lines = st.lists(header | assignment | junk, max_size=12).map("\n".join)


@FUZZ
@given(st.text(max_size=200))
def test_arbitrary_text(text):
    check(text)


@FUZZ
@given(lines)
def test_tomlish_lines(text):
    check(text)


@FUZZ
@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_structured_documents(seed):
    check(toml_document(random_document(random.Random(seed))))


def test_structured_documents_are_mostly_well_formed_and_sometimes_valid():
    """Guard the generator: it must reach the validation (not just the TOML parser) and
    produce some valid configs, or the fuzz would test little."""
    rnd = random.Random(1234)
    texts = [toml_document(random_document(rnd)) for _ in range(400)]
    valid = sum(check(t) for t in texts)
    syntax = 0
    for t in texts:
        try:
            config.loads(t, source="fuzz.toml", base_dir="/tmp/fuzz-base")
        except ConfigError as exc:
            syntax += "invalid TOML" in str(exc)
    assert syntax < 40, f"{syntax} of 400 generated documents were not TOML"
    assert valid >= 8, f"only {valid} of 400 generated documents were valid configs"

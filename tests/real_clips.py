"""Real renders in tests: skip, saying so, without them; a render's bench clip, injected; gains against it.

Clips are the bench's (48 frames, longest side 832 px), so a test's case is the case the bench measured.
The renders come from ``../shared/real-renders`` (or ``$FLICKERD_REAL_RENDERS``) and are never copied.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench import real_renders as rr
from bench import real_repairs

FRAMES, MAX_SIDE = 48, 832  # the bench's clips
HARM_DB = real_repairs.HARM_DB  # worse than its input by this much: harm
GOOD_DB = real_repairs.GOOD_DB  # better by this much: a good fix


def renders() -> Path:
    """The real renders' folder; skips the caller (a module at import, else a test) when it is absent."""
    found = rr.renders_dir()
    if found is None:
        pytest.skip(rr.NO_RENDERS, allow_module_level=True)
    return found


def render(name: str) -> Path:
    """One render's path; skips when that render is not in the folder."""
    path = renders() / name
    if not path.is_file():
        pytest.skip(f"{name} is not in {path.parent}")
    return path


def truth(name: str) -> list[np.ndarray]:
    """The render's bench clip as RGB frames: the ground truth of its injected variants."""
    from flickerd.synth import real

    return real.load(render(name), FRAMES, MAX_SIDE)[0]


def injected(folder: Path, name: str, kind: str, strength: float, seed: int, donor: str | None = None) -> str:
    """The bench's clip of ``name`` with ``kind`` injected (a motion, or an ``identity`` change taking
    content from the ``donor`` render), encoded as the bench encodes it."""
    from flickerd.synth.real import Variant

    clip = str(folder / f"{kind}{strength}-s{seed}.mp4")
    rr.make_clip(Variant(name, kind, strength, seed), str(render(name)), donor and str(render(donor)),
                 FRAMES, MAX_SIDE, clip)
    return clip


def gain(out: str, clip: str, truth: list[np.ndarray]) -> float:
    """PSNR gain of ``out`` over its input ``clip``, both against the truth (dB; < 0: further from it)."""
    shape = truth[0].shape
    return (real_repairs._psnr(real_repairs._decode(out, shape), truth)
            - real_repairs._psnr(real_repairs._decode(clip, shape), truth))


def auto_fixed(folder: Path, name: str, truth: list[np.ndarray], kind: str, strength: float, seed: int,
               route: str, thresholds=None):
    """``kind`` injected into ``name``, fixed by the chain ``auto`` chooses (asserted to be ``route``) and
    verified under ``thresholds`` (default: ``Acceptance()``): (the verification, the gain against the truth)."""
    from flickerd.diagnose import run as diagnose
    from flickerd.routes.base import run_chain
    from flickerd.rules import DEFAULT_RULES, decide
    from flickerd.verify import Acceptance, check

    clip = injected(folder, name, kind, strength, seed)
    out = str(folder / f"fixed-{kind}{strength}-s{seed}.mp4")
    before = diagnose(clip)
    steps = decide(before, DEFAULT_RULES).steps  # what auto runs
    assert "+".join(s.route for s in steps) == route, steps
    chain = run_chain(clip, steps, out, str(folder))
    v = check(clip, out, before, chain, thresholds or Acceptance(), rediagnose=None)
    return v, gain(out, clip, truth)

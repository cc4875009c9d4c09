"""``kill -9`` the daemon five times with clips in flight: nothing lost, nothing doubled, sources intact.

The loop itself lives in ``bench/kill_loop.py`` (``python -m bench kill_loop --runs 30``).
"""

from __future__ import annotations

import pytest

from bench.kill_loop import run_kill_loop

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_kill_9_loop_loses_and_doubles_nothing(tmp_path):
    fig = run_kill_loop(tmp_path, runs=5, clips_per_run=2, seed=8, kill_after_s=(0.0, 3.5))
    assert fig.kills == 5, fig.problems
    assert fig.jobs_interrupted >= 1, "no kill landed on a running job: the test proved nothing"
    assert fig.inputs == 10
    assert (fig.lost, fig.duplicates, fig.incomplete_finals, fig.temp_left, fig.sources_changed) == (0, 0, 0, 0, 0), \
        fig.problems
    assert fig.journal_ok and not fig.problems, fig.problems
    assert sum(fig.states.values()) == 10 and set(fig.states) <= {"done", "rejected", "quarantined"}

"""Names for a job's published files that no other input of its folder uses."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from flickerd.service.journal import Job, Journal
from flickerd.service.worker import FAILED_DIR, REVIEW_DIR, Task, source_stem

# an input whose stem ends so would publish over another input's report files
RESERVED_STEM_ENDINGS = (".report", ".flicker", ".compare")


def out_stem(job: Job, src_root: Path, output: Path, running: Iterable[Task], journal: Journal) -> str | None:
    """A name for this job's outputs that no other input uses; None keeps the source's stem.

    ``a.mp4`` and ``a.mkv`` would both publish ``a.report.json``, and ``a.compare.mp4`` would
    publish over ``a.mp4``'s side-by-side clip: the later one takes its full file name instead.
    ``running`` are the tasks in flight (their names are taken before any report exists).
    """
    src = Path(job.path)
    stem = source_stem(src)
    rel = src.parent.relative_to(src_root) if src.is_relative_to(src_root) else Path()
    dirs = [output / rel, output / FAILED_DIR / rel, output / REVIEW_DIR / rel]
    running = tuple(running)

    def taken(stem: str) -> bool:
        for t in running:
            if t.job.path != job.path and t.job.folder == job.folder and Path(t.job.path).parent == src.parent \
                    and (t.out_stem or source_stem(t.job.path)) == stem:
                return True
        return bool(journal.sources_of_reports([str(d / f"{stem}.report.json") for d in dirs], job.path))

    if not stem.endswith(RESERVED_STEM_ENDINGS) and not taken(stem):
        return None
    name = src.name if stem != src.name else src.name + ".seq"
    if not taken(name):
        return name
    return f"{name}.{job.id}"

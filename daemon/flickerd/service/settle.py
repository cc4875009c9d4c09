"""Settling: when is a dropped file completely written and safe to process?

A candidate becomes ready only when its size and mtime have been stable for the folder's
``settle_s`` and a probe opens it and decodes frames. A file that was renamed into the folder
(an atomic move) skips the stability wait but not the probe. A failing probe is retried with
exponential backoff; only after ``settle_max_s`` and at least ``MIN_PROBES`` tries is the file
given up as unusable (the daemon journals it as quarantined with the reason, never drops it).
A stable file whose first bytes are no video container at all (``NotAContainer``: a text file
named ``notes.mp4``) is given up at once: no writer pausing makes it a video.
A file still growing after ``settle_max_s`` is reported once and kept under watch.
An image-sequence folder settles as one unit by its marker or quiet period
(``sequence_settle``), then passes its own gate; its frames are never candidates.

``Settler`` holds no threads and does no I/O of its own: ``stat`` and ``probe`` are passed in.
The gate reads the file, so the daemon runs it off its loop: with ``probe=None`` (and
``probe_sequence=None``) a stable candidate comes back as ``GATE``, waits (no further looks),
and ``gated`` takes the gate's answer and decides as a synchronous probe would have.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from flickerd.errors import FlickerdError, LimitExceeded, NotAContainer, NotAVideo
from flickerd.service.sequence_settle import SequenceRules, Snapshot, Step, next_step, probe_sequence, snapshot

MIN_PROBES = 2
RECHECK_FALLBACK_S = 2.0  # a growing sequence is still looked at this often
EVENT_LOOK_S = 0.25  # a sequence folder with news is looked at this soon
MAX_BACKOFF_S = 60.0
PROBE_DECODE_FRAMES = 2


class Settled(str, Enum):
    WAIT = "wait"  # not yet; re-checked at ``next_check``
    READY = "ready"  # stable and probed: make it a job
    GONE = "gone"  # deleted before it settled
    UNUSABLE = "unusable"  # stable but the probe kept failing: journal it with the reason
    GROWING = "growing"  # still changing after settle_max_s (reported once, still watched)
    IGNORED = "ignored"  # a folder with no frames and no marker: not a render (yet)
    GATE = "gate"  # stable: the caller runs the gate off its loop and reports with ``gated``


@dataclass(slots=True)
class Candidate:
    path: str
    folder: str
    first_seen: float
    settle_s: float
    settle_max_s: float
    size: int = -1
    mtime_ns: int = -1
    stable_since: float = 0.0
    next_check: float = 0.0
    probes: int = 0
    renamed: bool = False
    reported_growing: bool = False
    last_error: FlickerdError | None = None
    sequence: SequenceRules | None = None  # set: ``path`` is an image-sequence folder
    signature: tuple[str, bool] | None = None  # a sequence's last snapshot (frames, marker)
    gating: bool = False  # its gate runs elsewhere: no looks until ``gated``
    touched: bool = False  # an event arrived while gating: look again before it is ready
    gate_stat: os.stat_result | None = None
    not_ready: str | None = None  # why it waits on its writer (changing, refused by the gate): ``--once`` stops waiting


@dataclass(frozen=True, slots=True)
class Check:
    state: Settled
    candidate: Candidate
    stat: os.stat_result | None = None
    error: FlickerdError | None = None


StatFn = Callable[[str], os.stat_result]
ProbeFn = Callable[[str], object]
SnapshotFn = Callable[[str, str], Snapshot]


def default_probe(path: str, limits: object = None) -> object:
    """The gate: the container opens, it is within ``limits``, and ``PROBE_DECODE_FRAMES`` frames decode.

    The limits are checked on the declared numbers before anything is decoded: decoding even
    one frame of a decompression bomb is what the limits exist to prevent.
    """
    from flickerd.media.probe import _check_decodes, probe

    try:
        info = probe(path)
    except NotAVideo as exc:
        raise _junk(path, exc) or exc
    if limits is not None:
        from flickerd.limits import check_limits

        why = check_limits(info, limits)
        if why:
            raise LimitExceeded(f"{path}: {why}")
    if info.container not in ("image2", "webp"):  # like probe(decode_check=...): those decode elsewhere
        _check_decodes(path, PROBE_DECODE_FRAMES)
    return info


def _junk(path: str, exc: NotAVideo) -> NotAContainer | None:
    """``NotAContainer`` when the file's head is no video container (final at once), else None (patient:
    a render whose writer paused has a container head already)."""
    from flickerd.media.sniff import looks_like, read_head

    try:
        head = read_head(path)
    except (OSError, FlickerdError):
        return None
    if looks_like(head) is not False:
        return None
    return NotAContainer(f"{path}: is not a video: its first bytes match no video container flickerd reads "
                         "(MP4/MOV, Matroska/WebM, AVI, GIF, WebP, MPEG-TS, ...), so it was set aside at once; "
                         "save a video under this name and it is taken in as a new version.")


@dataclass
class Settler:
    """Candidates by path, checked in due-time order (a heap; stale heap entries are skipped)."""

    stat: StatFn = os.stat
    probe: ProbeFn | None = default_probe  # None: the caller runs the gate (``GATE``, then ``gated``)
    snapshot: SnapshotFn = snapshot
    probe_sequence: ProbeFn | None = probe_sequence
    _cands: dict[str, Candidate] = field(default_factory=dict)
    _heap: list[tuple[float, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self._cands)

    def __contains__(self, path: str) -> bool:
        return path in self._cands

    def observe(self, path: str, folder: str, now: float, *, settle_s: float, settle_max_s: float,
                renamed: bool = False, sequence: SequenceRules | None = None) -> None:
        """Note an event for ``path``; a renamed-in file is checked at once.

        With ``sequence`` the path is an image-sequence folder: events of its frames all land
        here and bring its next look forward; only its looks decide when it is settled.
        """
        cand = self._cands.get(path)
        if cand is None:
            cand = Candidate(path, folder, now, settle_s, settle_max_s, stable_since=now,
                             renamed=renamed and sequence is None, sequence=sequence)
            self._cands[path] = cand
            self._schedule(cand, now)  # the first look records size and mtime
        elif cand.gating:
            cand.touched = True
        elif cand.sequence is not None:
            # a frame or the marker moved: look soon (but at most every EVENT_LOOK_S, however many frames land)
            if cand.next_check > now + EVENT_LOOK_S:
                self._schedule(cand, now + EVENT_LOOK_S)
        elif renamed and not cand.renamed:
            cand.renamed = True
            self._schedule(cand, now)

    def waiting_on_writers(self) -> list[Candidate]:
        """Candidates that were looked at and found not ready (still changing, refused by the gate, a
        sequence without its marker): only their writers can change that, so ``--once`` need not wait."""
        return [c for c in self._cands.values() if c.not_ready is not None and not c.gating]

    def forget(self, path: str) -> None:
        self._cands.pop(path, None)

    def forget_folder(self, folder: str) -> None:
        for path in [p for p, c in self._cands.items() if c.folder == folder]:
            del self._cands[path]

    def next_due(self) -> float | None:
        while self._heap:
            t, path = self._heap[0]
            cand = self._cands.get(path)
            if cand is not None and cand.next_check == t:
                return t
            heapq.heappop(self._heap)
        return None

    def due(self, now: float, *, paused: Callable[[str], bool] = lambda folder: False) -> list[Check]:
        """Check every candidate whose time has come; returns the non-WAIT results."""
        out: list[Check] = []
        deferred: list[Candidate] = []
        while (t := self.next_due()) is not None and t <= now:
            _, path = heapq.heappop(self._heap)
            cand = self._cands[path]
            if cand.gating:
                continue  # ``gated`` decides
            if paused(cand.folder):
                deferred.append(cand)  # a vanished mount: keep it, decide nothing
                continue
            res = self.check(cand, now)
            if res.state is Settled.WAIT:
                continue
            if res.state not in (Settled.GROWING, Settled.GATE):
                self._cands.pop(path, None)
            out.append(res)
        for cand in deferred:
            self._schedule(cand, now + max(cand.settle_s, 1.0))
        return out

    def check(self, cand: Candidate, now: float) -> Check:
        if cand.sequence is not None:
            return self._check_sequence(cand, now)
        try:
            st = self.stat(cand.path)
        except FileNotFoundError:
            return Check(Settled.GONE, cand)
        except OSError as exc:
            return self._unreadable(cand, now, f"{cand.path}: cannot be read ({exc.strerror}).")
        if (st.st_size, st.st_mtime_ns) != (cand.size, cand.mtime_ns):
            first_look = cand.size < 0
            cand.size, cand.mtime_ns = st.st_size, st.st_mtime_ns
            if not (first_look and cand.renamed):
                # a normal first look, or the file changed since: (re)start the stability clock
                cand.renamed = False
                cand.stable_since = now
                self._schedule(cand, now + cand.settle_s)
                if not first_look:
                    cand.not_ready = "it is still being written (its size or modification time changed)"
                if not first_look and now - cand.first_seen >= cand.settle_max_s and not cand.reported_growing:
                    cand.reported_growing = True
                    return Check(Settled.GROWING, cand, stat=st)
                return Check(Settled.WAIT, cand)
        if not cand.renamed and now - cand.stable_since < cand.settle_s:
            self._schedule(cand, cand.stable_since + cand.settle_s)
            return Check(Settled.WAIT, cand)
        return self._gate(cand, now, self.probe, stat=st)

    def _check_sequence(self, cand: Candidate, now: float) -> Check:
        """A sequence folder: restart the clock on any change, then marker or quiet period, then the gate."""
        rules = cand.sequence
        assert rules is not None
        try:
            snap = self.snapshot(cand.path, rules.marker)
        except (FileNotFoundError, NotADirectoryError):
            return Check(Settled.GONE, cand)
        except OSError as exc:
            return self._unreadable(cand, now, f"{cand.path}: the sequence folder cannot be listed ({exc.strerror}).")
        if (snap.signature, snap.marker) != cand.signature:
            first_look = cand.signature is None
            cand.signature = (snap.signature, snap.marker)
            cand.stable_since = now
            cand.probes = 0
            if not first_look and now - cand.first_seen >= cand.settle_max_s and not cand.reported_growing:
                cand.reported_growing = True
                self._schedule(cand, now + min(cand.settle_s or RECHECK_FALLBACK_S, RECHECK_FALLBACK_S))
                return Check(Settled.GROWING, cand)
        step, wait = next_step(snap, stable_for=now - cand.stable_since, settle_s=cand.settle_s,
                               quiet_s=rules.quiet_s)
        if step is Step.IGNORE:
            return Check(Settled.IGNORED, cand)
        if step is Step.WAIT:
            if not snap.marker and rules.quiet_s <= 0 and now - cand.stable_since >= cand.settle_s:
                cand.not_ready = f"the sequence waits for its marker file {rules.marker!r}"
            self._schedule(cand, now + max(wait, 0.05))
            return Check(Settled.WAIT, cand)
        return self._gate(cand, now, self.probe_sequence)

    def _gate(self, cand: Candidate, now: float, probe: ProbeFn | None, stat: os.stat_result | None = None) -> Check:
        """Run the gate here, or hand it to the caller (``probe`` None) and wait for ``gated``."""
        if probe is None:
            cand.gating, cand.touched, cand.gate_stat = True, False, stat
            return Check(Settled.GATE, cand, stat=stat)
        try:
            probe(cand.path)
        except FlickerdError as exc:
            return self._refused(cand, now, exc, stat=stat)
        return Check(Settled.READY, cand, stat=stat)

    def gated(self, path: str, now: float, error: FlickerdError | None) -> Check | None:
        """The gate's answer for a ``GATE`` candidate: READY, UNUSABLE, or WAIT (retried, or changed
        meanwhile and looked at again); None when it was forgotten since (a reload, a paused folder)."""
        cand = self._cands.get(path)
        if cand is None or not cand.gating:
            return None
        cand.gating = False
        if cand.touched:  # an event while the gate ran: the answer may be about other bytes
            self._schedule(cand, now)
            return Check(Settled.WAIT, cand)
        res = Check(Settled.READY, cand, stat=cand.gate_stat) if error is None else \
            self._refused(cand, now, error, stat=cand.gate_stat)
        if res.state is not Settled.WAIT:
            self._cands.pop(path, None)
        return res

    def _unreadable(self, cand: Candidate, now: float, message: str) -> Check:
        """A stat or listing failed: retried with backoff, unusable after ``MIN_PROBES`` tries over ``settle_max_s``."""
        cand.probes += 1
        self._schedule(cand, now + self._backoff(cand))
        if cand.probes >= MIN_PROBES and now - cand.first_seen >= cand.settle_max_s:
            from flickerd.errors import MissingInput

            return Check(Settled.UNUSABLE, cand, error=MissingInput(message))
        cand.not_ready = message
        return Check(Settled.WAIT, cand)

    def _refused(self, cand: Candidate, now: float, exc: FlickerdError, *, stat: os.stat_result | None = None) -> Check:
        """The gate refused a stable input: final over a limit (it will not shrink), else retried
        with backoff until ``MIN_PROBES`` tries (and, for a file, ``settle_max_s`` since first seen:
        a sequence folder already kept quiet)."""
        cand.probes += 1
        cand.last_error = exc
        patient = cand.sequence is None
        tried = cand.probes >= MIN_PROBES and (not patient or now - cand.first_seen >= cand.settle_max_s)
        # a file this user may not read waits on its owner, not its writer: final now, so the hash's
        # PermissionError quarantines it with the advice to fix the mode (``--once`` included)
        unreadable = patient and not os.access(cand.path, os.R_OK)
        if isinstance(exc, (LimitExceeded, NotAContainer)) or tried or unreadable:
            return Check(Settled.UNUSABLE, cand, stat=stat, error=exc)
        cand.not_ready = str(exc)
        self._schedule(cand, now + self._backoff(cand))
        return Check(Settled.WAIT, cand)

    @staticmethod
    def _backoff(cand: Candidate) -> float:
        return min(max(cand.settle_s, 0.25) * (2 ** max(cand.probes - 1, 0)), MAX_BACKOFF_S)

    def _schedule(self, cand: Candidate, when: float) -> None:
        cand.next_check = when
        heapq.heappush(self._heap, (when, cand.path))

"""Backfill: load every item of the table into the index, safely while the stream is live.

How
---
A parallel ``Scan`` (``segments`` workers, one thread each) reads the table; each item becomes
the ``INSERT`` change it stands for (`table.item_change`, i.e. the function's own
`records.to_change`) and goes through the function's own `writer.BulkWriter`. After every
page a worker writes its segment's checkpoint (the page's ``LastEvaluatedKey``), so an
interrupted backfill (Ctrl-C, a crash, ``max_pages``) resumes where each segment stopped; a
page in flight is simply written again, which is harmless (below).

Which version a backfilled document gets
----------------------------------------
A scanned item is an *unordered* snapshot: the scan cannot tell how it relates to the stream
changes around it. So it gets the lowest place in the function's order:

* external version 0 (a change without ``ApproximateCreationDateTime``), and
* sequence number ``"0"`` in ``_sync.seq`` (real ones have 21 to 40 digits),

and otherwise the bookkeeping of a stream write (``_sync.event``, ``deleted``, and ``ts``: the
time the page was read).

Consequences, with the writer unchanged:

* **It never overwrites anything already indexed.** If the document exists -- written by the
  stream, a tombstone, or an earlier backfill -- the version-0 write conflicts, the writer
  reads the stored ``_sync.seq`` and `records.is_newer` says "0" is not newer: the item
  counts as *stale* and is left alone. A newer change applied by the stream always stays.
* **Every stream change wins over it.** A stream change has version
  ``creation second << 20`` > 0 and simply overwrites; one without a creation time also has
  version 0, conflicts, finds ``"0"`` stored, is newer, and is rewritten at version 1.
* So a backfill only fills holes, and is idempotent: run it twice, resume it, or run it beside
  the stream, the index converges to the table. Items deleted after the scan read them come
  back only until their ``REMOVE`` arrives -- a tombstone at a higher version.

The price: a backfill does not refresh a document that the stream wrote and then lost a
change for (content drift). Detecting and fixing that safely needs a per-document comparison
with the table, which is `reconcile` (``--repair``).

The scan reads eventually consistent pages: an item written just before its page was read
may be missed, and its stream change then brings it. One edge: OpenSearch remembers the
version of a document deleted with the delete API (not a tombstone: the sync never does that)
for ``index.gc_deletes`` (60 s); until then a version-0 write of that id conflicts, and the
writer retries it until OpenSearch forgets (well inside the page deadline).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..core.records import Change, MalformedRecordError
from ..core.settings import DEFAULT_SEGMENTS
from ..index.writer import BulkWriter, Outcome, write_page
from .progress import NullProgress, Progress
from .scan import ParallelScan
from .state import TEMPORARY_GLOB, read_json, write_json
from .table import DynamoDBClient, TableInfo, decode_key, encode_key, item_change, item_keys

__all__ = [
    "BackfillError",
    "BackfillOptions",
    "BackfillReport",
    "CheckpointStore",
    "SegmentState",
    "page_changes",
    "run_backfill",
]

logger = logging.getLogger(__name__)

MAX_LISTED = 100
"""Rejected items listed by id in a report; the count is always complete."""


class BackfillError(RuntimeError):
    """A page could not be written (after the writer's retries); the backfill can resume."""


@dataclass(frozen=True, slots=True)
class BackfillOptions:
    segments: int = DEFAULT_SEGMENTS
    """Parallel scan segments, one worker thread each."""
    page_size: int | None = None
    """Items per ``Scan`` page (default: DynamoDB's 1 MB pages)."""
    checkpoint_dir: Path | None = None
    """Where segment checkpoints live; ``None`` keeps none (not resumable)."""
    resume: bool = False
    """Continue from the checkpoints instead of starting over."""
    max_pages: int | None = None
    """Stop (resumably) after writing this many pages in this run."""
    write_timeout: float = 120.0
    """Deadline for writing one page, retries included."""


@dataclass(slots=True)
class SegmentState:
    segment: int
    last_key: dict[str, Any] | None = None
    """The segment's last written ``LastEvaluatedKey`` (JSON-encoded); ``None`` at the start."""
    done: bool = False
    items: int = 0
    pages: int = 0


@dataclass(slots=True)
class BackfillReport:
    table: str
    target: str
    segments: int
    resumed: bool = False
    """Started from earlier checkpoints."""
    scanned: int = 0
    written: int = 0
    stale: int = 0
    """Already indexed (by the stream or earlier): left alone, see the module docstring."""
    rejected: int = 0
    rejected_items: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    completed: bool = False
    stopped: str | None = None
    """Why the run ended early: ``max_pages`` or ``interrupted``."""
    elapsed: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CheckpointStore:
    """One JSON file per segment plus a manifest naming table, target and segment count.

    Files are replaced atomically (`state.write_json`), so a crash leaves either the old or
    the new checkpoint, never half of one.
    """

    def __init__(self, directory: Path, *, table: str, target: str) -> None:
        self.directory = directory
        self.identity = {"table": table, "target": target}
        self._lock = threading.Lock()

    def _manifest(self) -> Path:
        return self.directory / "manifest.json"

    def _segment_file(self, segment: int) -> Path:
        return self.directory / f"segment-{segment:04d}.json"

    def start(self, segments: int, *, resume: bool) -> tuple[list[SegmentState], bool]:
        """The segments' states, and whether they come from earlier checkpoints.

        When resuming, the checkpoints' segment count wins (a parallel scan's segments only
        line up with the same total); a fresh start clears old checkpoints.
        """
        manifest = self._manifest()
        saved = read_json(manifest) if resume else None
        if saved is not None:
            if {k: saved.get(k) for k in self.identity} != self.identity:
                raise BackfillError(
                    f"checkpoints in {self.directory} are for {saved}, not {self.identity}"
                )
            total = int(saved["segments"])
            states = [self._load(segment) for segment in range(total)]
            return states, True
        self.clear()
        write_json(manifest, {**self.identity, "segments": segments, "created": time.time()})
        return [SegmentState(segment) for segment in range(segments)], False

    def _load(self, segment: int) -> SegmentState:
        saved = read_json(self._segment_file(segment))
        return SegmentState(segment) if saved is None else SegmentState(**saved)

    def save(self, state: SegmentState) -> None:
        with self._lock:
            write_json(self._segment_file(state.segment), asdict(state))

    def clear(self) -> None:
        """Forget every checkpoint; the directory goes too when nothing else is in it."""
        if self.directory.exists():
            for path in self.directory.glob("*.json"):
                path.unlink()
            for path in self.directory.glob(TEMPORARY_GLOB):
                path.unlink()
            with contextlib.suppress(OSError):
                self.directory.rmdir()


@dataclass(slots=True)
class _Run:
    """One backfill run: what it reads and writes, its counters, the page budget, the stop flag.

    Its segments run in parallel (`scan.ParallelScan.run`) and share it.
    """

    scan: ParallelScan
    table: TableInfo
    writer: BulkWriter
    options: BackfillOptions
    store: CheckpointStore | None
    states: list[SegmentState]
    report: BackfillReport
    progress: Progress
    stop: threading.Event
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tickets: int = 0

    def backfill_segment(self, segment: int) -> None:
        state = self.states[segment]
        if state.done:
            return
        pages = self.scan.pages(segment, decode_key(state.last_key) if state.last_key else None)
        for items, last_key in pages:
            # The page is fetched but not yet written: stopping here leaves the checkpoint
            # before it, so a resume reads it again.
            if not self.take_page():
                return
            changes, rejected = page_changes(items, self.table)
            written, stale, refused = _write_or_fail(
                self.writer, changes, self.options.write_timeout
            )
            state.last_key = encode_key(last_key) if last_key else None
            state.done = last_key is None
            state.items += len(items)
            state.pages += 1
            self.save(state)
            self.add(len(items), written, stale, rejected + refused)
        state.done = True  # an empty last page has no LastEvaluatedKey either
        self.save(state)

    def save(self, state: SegmentState) -> None:
        if self.store is not None:
            self.store.save(state)

    def take_page(self) -> bool:
        """Whether one more page may be written in this run."""
        with self._lock:
            if self.stop.is_set():
                self.report.stopped = self.report.stopped or "interrupted"
                return False
            if self.options.max_pages is not None and self._tickets >= self.options.max_pages:
                self.report.stopped = self.report.stopped or "max_pages"
                self.stop.set()
                return False
            self._tickets += 1
            return True

    def add(self, scanned: int, written: int, stale: int, rejected: list[dict[str, Any]]) -> None:
        with self._lock:
            report = self.report
            report.pages += 1
            report.scanned += scanned
            report.written += written
            report.stale += stale
            report.rejected += len(rejected)
            room = MAX_LISTED - len(report.rejected_items)
            report.rejected_items.extend(rejected[: max(room, 0)])
        self.progress.advance(scanned)


def page_changes(
    items: list[dict[str, Any]], table: TableInfo
) -> tuple[list[Change], list[dict[str, Any]]]:
    """The changes a page of scanned items (stream event encoding: `scan.ParallelScan`) stands
    for, and the items the function could not index either (reported, as the function
    dead-letters them)."""
    changes: list[Change] = []
    rejected: list[dict[str, Any]] = []
    read_at = time.time()  # `_sync.ts`, as a stream write has: what reindex and purge go by
    for item in items:
        try:
            changes.append(item_change(item, table, written_at=read_at, encoded=True))
        except MalformedRecordError as error:
            error_info = {"type": "malformed_item", "reason": str(error)}
            rejected.append({"keys": item_keys(item, table), "error": error_info})
    return changes, rejected


def _write_or_fail(
    writer: BulkWriter, changes: list[Change], timeout: float
) -> tuple[int, int, list[dict[str, Any]]]:
    """Write one page; ``(written, stale, rejected)``. Raises `BackfillError` when a change is
    still failing at the deadline (the page's checkpoint then stays where it was)."""
    report = write_page(writer, changes, timeout)
    failed = report.errors(Outcome.FAILED)
    if failed:
        first = failed[0]
        raise BackfillError(
            f"{len(failed)} documents not written (first: {first['id']}: {first['error']})"
        )
    tally = report.tally()
    return tally[Outcome.WRITTEN], tally[Outcome.STALE], report.errors(Outcome.REJECTED)


def run_backfill(
    dynamodb: DynamoDBClient,
    writer: BulkWriter,
    table: TableInfo,
    options: BackfillOptions,
    *,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    description: str = "backfill",
) -> BackfillReport:
    """Backfill ``table`` into ``writer.alias``; see the module docstring.

    ``stop`` ends the run early and resumably (set it from a signal handler); Ctrl-C in the
    calling thread does the same. Raises `BackfillError` when a page cannot be written.
    """
    progress = progress or NullProgress()
    stop = stop or threading.Event()
    report = BackfillReport(table=table.name, target=writer.alias, segments=options.segments)
    store = None
    if options.checkpoint_dir is not None:
        store = CheckpointStore(options.checkpoint_dir, table=table.name, target=writer.alias)
        states, report.resumed = store.start(options.segments, resume=options.resume)
    else:
        states = [SegmentState(segment) for segment in range(options.segments)]
    report.segments = len(states)
    already = sum(s.items for s in states)
    progress.start(description, max(table.item_count - already, 0) or None)
    scan = ParallelScan(dynamodb, table.name, len(states), options.page_size)
    run = _Run(scan, table, writer, options, store, states, report, progress, stop)
    started = time.monotonic()
    try:
        if not scan.run(run.backfill_segment, stop):
            report.stopped = "interrupted"  # workers finished their pages: checkpoints exact
    finally:
        report.elapsed = round(time.monotonic() - started, 3)
        progress.finish()
    report.completed = all(s.done for s in states)
    if report.completed and store is not None:
        store.clear()  # nothing left to resume; a later run starts over
    return report

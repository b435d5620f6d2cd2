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
* sequence number ``"0"`` in ``_sync.seq`` (real ones have 21 to 40 digits).

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
import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .progress import NullProgress, Progress
from .records import Change, MalformedRecordError
from .table import (
    DynamoDBClient,
    TableInfo,
    decode_key,
    encode_key,
    item_change,
    scan_pages,
    stream_image,
)
from .writer import BulkWriter, Outcome

__all__ = [
    "BackfillError",
    "BackfillOptions",
    "BackfillReport",
    "CheckpointStore",
    "SegmentState",
    "default_checkpoint_dir",
    "run_backfill",
]

logger = logging.getLogger(__name__)

MAX_LISTED = 100
"""Rejected items listed by id in a report; the count is always complete."""


class BackfillError(RuntimeError):
    """A page could not be written (after the writer's retries); the backfill can resume."""


@dataclass(frozen=True, slots=True)
class BackfillOptions:
    segments: int = 4
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
    scanned: int = 0
    written: int = 0
    stale: int = 0
    """Already indexed (by the stream or earlier): left alone, see the module docstring."""
    rejected: int = 0
    rejected_items: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    resumed: bool = False
    completed: bool = False
    stopped: str | None = None
    """Why the run ended early: ``max_pages`` or ``interrupted``."""
    elapsed: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_checkpoint_dir(table: str, target: str) -> Path:
    """``./.ddb-opensearch-sync/backfill-<table>-<target>``: per table and target alias."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"backfill-{table}-{target}")
    return Path(".ddb-opensearch-sync") / safe


class CheckpointStore:
    """One JSON file per segment plus a manifest naming table, target and segment count.

    Files are replaced atomically (write, fsync, rename), so a crash leaves either the old or
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

    def _write(self, path: Path, data: Mapping[str, Any]) -> None:
        tmp = path.with_suffix(f".tmp{threading.get_ident()}")
        with tmp.open("w", encoding="utf-8") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    def start(self, segments: int, *, resume: bool) -> tuple[list[SegmentState], bool]:
        """The segments' states, and whether they come from earlier checkpoints.

        When resuming, the checkpoints' segment count wins (a parallel scan's segments only
        line up with the same total); a fresh start clears old checkpoints.
        """
        manifest = self._manifest()
        if resume and manifest.exists():
            saved = json.loads(manifest.read_text(encoding="utf-8"))
            if {k: saved.get(k) for k in self.identity} != self.identity:
                raise BackfillError(
                    f"checkpoints in {self.directory} are for {saved}, not {self.identity}"
                )
            total = int(saved["segments"])
            states = [self._load(segment) for segment in range(total)]
            return states, True
        self.clear()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._write(manifest, {**self.identity, "segments": segments, "created": time.time()})
        return [SegmentState(segment) for segment in range(segments)], False

    def _load(self, segment: int) -> SegmentState:
        path = self._segment_file(segment)
        if not path.exists():
            return SegmentState(segment)
        return SegmentState(**json.loads(path.read_text(encoding="utf-8")))

    def save(self, state: SegmentState) -> None:
        with self._lock:
            self._write(self._segment_file(state.segment), asdict(state))

    def clear(self) -> None:
        """Forget every checkpoint; the directory goes too when nothing else is in it."""
        if self.directory.exists():
            for path in self.directory.glob("*.json"):
                path.unlink()
            for path in self.directory.glob("*.tmp*"):
                path.unlink()
            with contextlib.suppress(OSError):
                self.directory.rmdir()


class _Run:
    """Shared state of one backfill run: counters, the page budget, the stop flag."""

    def __init__(
        self,
        report: BackfillReport,
        progress: Progress,
        max_pages: int | None,
        stop: threading.Event,
    ) -> None:
        self.report = report
        self.progress = progress
        self.max_pages = max_pages
        self.stop = stop
        self._lock = threading.Lock()
        self._tickets = 0

    def take_page(self) -> bool:
        """Whether one more page may be written in this run."""
        with self._lock:
            if self.stop.is_set():
                self.report.stopped = self.report.stopped or "interrupted"
                return False
            if self.max_pages is not None and self._tickets >= self.max_pages:
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
    """The changes a page of items stands for, and the items the function could not index
    either (reported, as the function dead-letters them)."""
    changes: list[Change] = []
    rejected: list[dict[str, Any]] = []
    for item in items:
        try:
            changes.append(item_change(item, table))
        except MalformedRecordError as error:
            keys = {name: stream_image(item[name]) for name in table.key_names if name in item}
            error_info = {"type": "malformed_item", "reason": str(error)}
            rejected.append({"keys": keys, "error": error_info})
    return changes, rejected


def write_page(
    writer: BulkWriter, changes: list[Change], timeout: float
) -> tuple[int, int, list[dict[str, Any]]]:
    """Write one page; ``(written, stale, rejected)``. Raises `BackfillError` when a change is
    still failing at the deadline (the page's checkpoint then stays where it was)."""
    if not changes:
        return 0, 0, []
    report = writer.write(changes, deadline=time.monotonic() + timeout)
    failed = [r for r in report.results if r.outcome is Outcome.FAILED]
    if failed:
        raise BackfillError(
            f"{len(failed)} documents not written (first: {failed[0].change.doc_id}: "
            f"{failed[0].error})"
        )
    rejected = [
        {"id": r.change.doc_id, "error": dict(r.error or {})}
        for r in report.results
        if r.outcome is Outcome.REJECTED
    ]
    return report.count(Outcome.WRITTEN), report.count(Outcome.STALE), rejected


def _backfill_segment(
    state: SegmentState,
    *,
    dynamodb: DynamoDBClient,
    table: TableInfo,
    writer: BulkWriter,
    options: BackfillOptions,
    total_segments: int,
    store: CheckpointStore | None,
    run: _Run,
) -> None:
    if state.done:
        return
    pages = scan_pages(
        dynamodb,
        table.name,
        segment=state.segment,
        total_segments=total_segments,
        start_key=decode_key(state.last_key) if state.last_key else None,
        page_size=options.page_size,
    )
    for items, last_key in pages:
        # The page is fetched but not yet written: stopping here leaves the checkpoint before
        # it, so a resume reads it again.
        if not run.take_page():
            return
        changes, rejected = page_changes(items, table)
        written, stale, refused = write_page(writer, changes, options.write_timeout)
        state.last_key = encode_key(last_key) if last_key else None
        state.done = last_key is None
        state.items += len(items)
        state.pages += 1
        if store is not None:
            store.save(state)
        run.add(len(items), written, stale, rejected + refused)
    state.done = True  # an empty last page has no LastEvaluatedKey either
    if store is not None:
        store.save(state)


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
    run = _Run(report, progress, options.max_pages, stop)
    started = time.monotonic()
    try:
        _run_segments(states, run, dynamodb, table, writer, options, store)
    finally:
        report.elapsed = round(time.monotonic() - started, 3)
        progress.finish()
    report.completed = all(s.done for s in states)
    if report.completed and store is not None:
        store.clear()  # nothing left to resume; a later run starts over
    return report


def _run_segments(
    states: list[SegmentState],
    run: _Run,
    dynamodb: DynamoDBClient,
    table: TableInfo,
    writer: BulkWriter,
    options: BackfillOptions,
    store: CheckpointStore | None,
) -> None:
    with ThreadPoolExecutor(max_workers=len(states), thread_name_prefix="segment") as pool:
        futures = [
            pool.submit(
                _backfill_segment,
                state,
                dynamodb=dynamodb,
                table=table,
                writer=writer,
                options=options,
                total_segments=len(states),
                store=store,
                run=run,
            )
            for state in states
        ]
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        except KeyboardInterrupt:
            # Workers finish the page they are writing, so every checkpoint stays exact.
            run.report.stopped = "interrupted"
            run.stop.set()
            wait(futures)
            return
        failed = [f for f in done if f.exception() is not None]
        if failed:
            run.stop.set()
            wait(futures)
            raise failed[0].exception()  # type: ignore[misc]

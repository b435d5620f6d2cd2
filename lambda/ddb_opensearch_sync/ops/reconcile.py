"""Reconcile: prove the index equal to the table, or say exactly where it is not; fix it.

Comparison
----------
Both sides are reduced to the same canonical text: the document the function's mapping makes
of the table item (`table.item_change`), and the stored ``_source``, each without ``_sync``,
written by `records.dumps` (sorted keys, exact numbers: the index is read with
`client.ExactJSONSerializer`). Only visible documents count -- searches through the alias,
whose filter hides tombstones.

1. Read the index through the alias (a scroll): id -> digest of the canonical text.
2. Scan the table (parallel, like a backfill) and compare item by item: an item without a
   document is *missing*, one with different content *stale*; documents no item claimed are
   *extra*. Items the function cannot index either (the reserved ``_sync`` attribute) are
   *unindexable*, reported apart.
3. Differences seen by two reads at different moments may be changes in flight (the stream
   lags the table by about a second). Each candidate is observed again -- the document by a
   realtime ``_mget``, then the item by a strongly consistent ``BatchGetItem``, in that
   order, so the item is never older than the document -- until it agrees or ``settle``
   seconds have passed. What still differs then is drift.

Repair
------
Each drifted document is rewritten from the table through the function's `writer.BulkWriter`,
with versions chosen so that a stream change landing at the same time still wins:

* *stale*, or *missing* behind a tombstone: the item, at the stored ``_version`` + 1 and with
  the stored ``_sync.seq``. The write fails (and is settled as superseded) if the document
  changed since it was read; a later stream change of the same second has a higher sequence
  number and beats it through the writer's exact path.
* *missing* with no document at all: the item with sequence number ``"0"`` (ranked below
  every stream change, as in `backfill`) at the natural version of the second its
  observation began, less `CLOCK_ALLOWANCE`. A stream change made after the item was read
  -- a delete landing between observation and repair, say -- has a creation time no earlier
  than that, so an equal or higher version: the repair conflicts and the writer's exact path
  settles it as superseded; it is never written over the change. The version still passes
  what OpenSearch may remember of a document deleted with the delete API (an older one).
* *extra*: a tombstone (the same versions as *stale*), so that a replayed old ``INSERT`` cannot
  bring the document back; a document whose source has no keys of this table (nothing the
  sync wrote) is deleted, conditionally on its ``_seq_no``.

Every repair carries the bookkeeping a stream write does (`records.to_change` makes it):
``_sync.seq``, ``deleted``, ``event`` and ``ts`` (the time of the repair), so a reindex copies
it and a purge ages it like any other document.

TTL: with ``TTL_EXPIRY_POLICY=keep`` the function leaves a document in place when its item
expires. Reconcile does the same: a visible document whose item is gone and whose TTL attribute
(`table.TableInfo.ttl_attribute`) lies in the past is *kept*, counted apart, not extra.

Every repaired id is then observed again and repaired again if needed (a write can race a
stream change by milliseconds), up to ``repair_rounds`` times; the report says what is left.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from opensearchpy import helpers
from opensearchpy.exceptions import ConflictError, NotFoundError

from ..core.records import (
    SYNC_FIELD,
    Change,
    MalformedRecordError,
    TtlPolicy,
    dumps,
    external_version,
    loads,
    stored_sequence,
)
from ..core.settings import DEFAULT_SEGMENTS, DEFAULT_SETTLE
from ..index.writer import BulkWriter, Outcome, write_page
from .progress import NullProgress, Progress
from .scan import ParallelScan
from .table import (
    BACKFILL_SEQUENCE,
    DynamoDBClient,
    TableInfo,
    decode_key,
    item_change,
    item_keys,
    keys_from_document,
    tombstone_change,
)

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = [
    "Drift",
    "DriftKind",
    "ReconcileOptions",
    "ReconcileReport",
    "canonical",
    "reconcile",
]

logger = logging.getLogger(__name__)

BATCH_GET_LIMIT = 100
"""Keys per ``BatchGetItem`` request (DynamoDB's limit)."""
MGET_CHUNK = 500
CLOCK_ALLOWANCE = 5.0
"""Seconds this host's clock may run ahead of DynamoDB's (stream creation times)."""


class DriftKind(StrEnum):
    """How a document differs: *missing* (in the table, not visible in the index), *extra*
    (visible in the index, not in the table) or *stale* (in both, with different content)."""

    MISSING = "missing"
    EXTRA = "extra"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class ReconcileOptions:
    segments: int = DEFAULT_SEGMENTS
    page_size: int | None = None
    settle: float = DEFAULT_SETTLE
    """Seconds a difference may take to resolve itself before it counts as drift."""
    recheck_interval: float = 0.5
    repair: bool = False
    repair_rounds: int = 3
    write_timeout: float = 60.0
    max_listed: int = 1000
    """Drifted documents listed in the report (the counts are always complete)."""
    ttl_policy: TtlPolicy = TtlPolicy.DELETE
    """The function's ``TTL_EXPIRY_POLICY``: ``keep`` means expired items keep their document."""


def canonical(source: Mapping[str, Any]) -> str:
    """A document's content without the bookkeeping, as comparable text."""
    return dumps({k: v for k, v in source.items() if k != SYNC_FIELD})


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


# --- one observation of a document and its item ------------------------------------------


@dataclass(slots=True)
class _Stored:
    """A document as ``_mget`` returned it (tombstones included)."""

    source: dict[str, Any]
    version: int
    seq_no: int
    primary_term: int

    @property
    def deleted(self) -> bool:
        meta = self.source.get(SYNC_FIELD)
        return isinstance(meta, Mapping) and meta.get("deleted") is True

    @property
    def sequence(self) -> str:
        """The stored ``_sync.seq`` when it is a usable one, else the backfill's ``"0"``."""
        return stored_sequence(self.source) or BACKFILL_SEQUENCE


@dataclass(slots=True)
class _Observation:
    doc_id: str
    keys: dict[str, Any] | None
    kind: DriftKind | None
    item: dict[str, Any] | None = None
    stored: _Stored | None = None
    expected: str | None = None
    """Canonical text of the item's document."""
    kept: bool = False
    """Kept after its item expired (``TTL_EXPIRY_POLICY=keep``)."""
    observed_at: float = 0.0
    """When this observation began (before the document and then the item were read)."""


@dataclass(frozen=True, slots=True)
class Drift:
    kind: DriftKind
    doc_id: str
    keys: dict[str, Any] | None
    index_version: int | None
    fields: dict[str, list[str]] | None = None
    """For stale documents: top-level fields that differ, or exist on one side only."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.doc_id,
            "kind": self.kind.value,
            "keys": self.keys,
            "index_version": self.index_version,
            "fields": self.fields,
        }


@dataclass(slots=True)
class ReconcileReport:
    table: str
    alias: str
    table_items: int = 0
    index_documents: int = 0
    candidates: int = 0
    """Differences seen in the first comparison."""
    settled: int = 0
    """Candidates that resolved themselves (changes in flight)."""
    kept_expired: int = 0
    """Documents kept after their item expired (``TTL_EXPIRY_POLICY=keep``): not drift."""
    drift: list[Drift] = field(default_factory=list)
    unindexable: list[dict[str, Any]] = field(default_factory=list)
    repair: dict[str, Any] | None = None
    remaining: list[Drift] = field(default_factory=list)
    """After a repair: what still differs."""
    elapsed: float = 0.0

    def counts(self, drift: Iterable[Drift]) -> dict[str, int]:
        counts = {kind.value: 0 for kind in DriftKind}
        for d in drift:
            counts[d.kind.value] += 1
        return counts

    @property
    def in_sync(self) -> bool:
        """No drift left (none found, or all of it repaired)."""
        return not (self.remaining if self.repair is not None else self.drift)

    def as_dict(self, max_listed: int = 1000) -> dict[str, Any]:
        return {
            "table": self.table,
            "alias": self.alias,
            "in_sync": self.in_sync,
            "counts": {
                "table_items": self.table_items,
                "index_documents": self.index_documents,
                "candidates": self.candidates,
                "settled": self.settled,
                "kept_expired": self.kept_expired,
                "unindexable": len(self.unindexable),
                **self.counts(self.drift),
            },
            "drift": [d.as_dict() for d in self.drift[:max_listed]],
            "unindexable": self.unindexable[:max_listed],
            "repair": self.repair,
            "remaining": [d.as_dict() for d in self.remaining[:max_listed]],
            "elapsed": self.elapsed,
        }

    def summary(self) -> str:
        counts = self.counts(self.drift)
        lines = [
            f"reconcile {self.table} -> {self.alias}: {self.table_items} items, "
            f"{self.index_documents} documents",
            f"  missing {counts['missing']}, extra {counts['extra']}, stale {counts['stale']}"
            f" (unindexable items {len(self.unindexable)}, in-flight changes settled "
            f"{self.settled})",
        ]
        if self.repair is not None:
            lines.append(
                f"  repair: {self.repair['written']} written, {self.repair['superseded']} "
                f"superseded by newer changes, {self.repair['deleted']} deleted, "
                f"{self.repair['rejected']} rejected, {self.repair['failed']} failed; "
                f"{len(self.remaining)} left"
            )
        lines.append("  in sync" if self.in_sync else "  DRIFT")
        return "\n".join(lines)


class _Reconciler:
    def __init__(
        self,
        dynamodb: DynamoDBClient,
        client: OpenSearch,
        writer: BulkWriter,
        table: TableInfo,
        options: ReconcileOptions,
        progress: Progress,
    ) -> None:
        self.dynamodb = dynamodb
        self.client = client
        self.writer = writer
        self.alias = writer.alias
        self.table = table
        self.options = options
        self.progress = progress
        self.report = ReconcileReport(table=table.name, alias=self.alias)
        self._lock = threading.Lock()

    # --- 1. the index ---

    def load_index(self) -> dict[str, bytes]:
        # A scroll sees what the last refresh published; without one, documents written in
        # the last second would all look missing and need a recheck each.
        self.client.indices.refresh(index=self.alias)
        total = self.client.count(index=self.alias)["count"]
        self.progress.start("reconcile: index", total)
        digests: dict[str, bytes] = {}
        hits = helpers.scan(
            self.client, index=self.alias, query={"query": {"match_all": {}}}, size=1000
        )
        for hit in hits:
            digests[hit["_id"]] = _digest(canonical(hit["_source"]))
            self.progress.advance(1)
        self.progress.finish()
        self.report.index_documents = len(digests)
        return digests

    # --- 2. the table ---

    def compare_table(self, digests: dict[str, bytes]) -> dict[str, dict[str, Any] | None]:
        """Scan the table against ``digests``; the candidates, id -> keys (``None``: unknown)."""
        self.progress.start("reconcile: table", self.table.item_count or None)
        candidates: dict[str, dict[str, Any] | None] = {}
        seen: set[str] = set()
        stop = threading.Event()
        scan = ParallelScan(
            self.dynamodb, self.table.name, self.options.segments, self.options.page_size
        )

        def work(segment: int) -> None:
            self._compare_segment(scan.pages(segment), digests, candidates, seen, stop)

        if not scan.run(work, stop):
            raise KeyboardInterrupt  # the workers stopped at a page boundary
        self.progress.finish()
        for doc_id in digests.keys() - seen:
            candidates[doc_id] = None  # extra: keys come from the stored source
        return candidates

    def _compare_segment(
        self,
        pages: Iterable[tuple[list[dict[str, Any]], Any]],
        digests: dict[str, bytes],
        candidates: dict[str, dict[str, Any] | None],
        seen: set[str],
        stop: threading.Event,
    ) -> None:
        for items, _ in pages:
            if stop.is_set():
                return
            for item in items:
                self._compare_item(item, digests, candidates, seen)
            self.progress.advance(len(items))

    def _compare_item(
        self,
        item: dict[str, Any],
        digests: dict[str, bytes],
        candidates: dict[str, dict[str, Any] | None],
        seen: set[str],
    ) -> None:
        keys = item_keys(item, self.table)
        try:
            change = item_change(item, self.table, encoded=True)  # as scanned
        except MalformedRecordError as error:
            with self._lock:
                self.report.table_items += 1
                self.report.unindexable.append({"keys": keys, "reason": str(error)})
            return
        digest = _digest(canonical(loads(change.document or "{}")))
        with self._lock:
            self.report.table_items += 1
            seen.add(change.doc_id)
            if digests.get(change.doc_id) != digest:
                candidates[change.doc_id] = keys

    # --- 3. observing candidates again ---

    def observe(self, candidates: Mapping[str, dict[str, Any] | None]) -> list[_Observation]:
        """Read each candidate's document, then its item; classify."""
        observed_at = time.time()
        stored = self._mget(list(candidates))
        observations: list[_Observation] = []
        for doc_id, keys in candidates.items():
            doc = stored.get(doc_id)
            if keys is None and doc is not None:
                keys = keys_from_document(doc_id, doc.source, self.table)
            observations.append(
                _Observation(doc_id, keys, None, stored=doc, observed_at=observed_at)
            )
        items = self._batch_get([o.keys for o in observations if o.keys is not None])
        for observation in observations:
            self._classify(observation, items)
        return observations

    def _classify(self, observation: _Observation, items: Mapping[str, dict[str, Any]]) -> None:
        item = items.get(observation.doc_id)
        doc = observation.stored
        visible = doc is not None and not doc.deleted
        if item is not None:
            try:
                change = item_change(item, self.table)
            except MalformedRecordError:
                return  # unindexable: reported by the scan, not drift
            observation.item = item
            observation.expected = canonical(loads(change.document or "{}"))
            if not visible:
                observation.kind = DriftKind.MISSING
            elif canonical(doc.source) != observation.expected:  # type: ignore[union-attr]
                observation.kind = DriftKind.STALE
        elif visible and self._kept(doc.source):  # type: ignore[union-attr]
            observation.kept = True
        elif visible:
            observation.kind = DriftKind.EXTRA

    def _kept(self, source: Mapping[str, Any]) -> bool:
        """A document the function keeps after its item expired (``TTL_EXPIRY_POLICY=keep``)."""
        return self.options.ttl_policy is TtlPolicy.KEEP and self.table.expired(source, time.time())

    def _mget(self, ids: list[str]) -> dict[str, _Stored]:
        found: dict[str, _Stored] = {}
        for start in range(0, len(ids), MGET_CHUNK):
            chunk = ids[start : start + MGET_CHUNK]
            # Realtime (no refresh needed); _seq_no and _primary_term come by default.
            response = self.client.mget(index=self.alias, body={"ids": chunk})
            for doc in response["docs"]:
                if "error" in doc:
                    raise RuntimeError(f"cannot read document {doc['_id']}: {doc['error']}")
                if doc.get("found"):
                    found[doc["_id"]] = _Stored(
                        doc["_source"], doc["_version"], doc["_seq_no"], doc["_primary_term"]
                    )
        return found

    def _batch_get(self, keys: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Strongly consistent reads of ``keys`` (event-encoded): doc id -> item."""
        items: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            request = {
                self.table.name: {
                    "Keys": [decode_key(k) for k in keys[start : start + BATCH_GET_LIMIT]],
                    "ConsistentRead": True,
                }
            }
            attempt = 0
            while request:
                response = self.dynamodb.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.table.name, []):
                    try:
                        items[item_change(item, self.table).doc_id] = item
                    except MalformedRecordError:
                        continue
                request = response.get("UnprocessedKeys") or {}
                if request:  # throttled: back off as the SDK guide says, then ask again
                    time.sleep(min(0.05 * 2**attempt, 2.0))
                    attempt += 1
        return items

    def settle(self, candidates: dict[str, dict[str, Any] | None]) -> list[_Observation]:
        """Observe until every candidate agrees or ``settle`` seconds passed; the drift."""
        deadline = time.monotonic() + self.options.settle
        pending = dict(candidates)
        while True:
            observed = self.observe(pending)
            self.report.kept_expired = sum(o.kept for o in observed)
            drifted = [o for o in observed if o.kind is not None]
            pending = {o.doc_id: o.keys for o in drifted}
            if not drifted or time.monotonic() >= deadline:
                return drifted
            time.sleep(min(self.options.recheck_interval, max(deadline - time.monotonic(), 0)))

    # --- repair ---

    def repair(self, drifted: list[_Observation]) -> tuple[dict[str, Any], list[_Observation]]:
        totals = {"written": 0, "superseded": 0, "deleted": 0, "rejected": 0, "failed": 0}
        errors: list[dict[str, Any]] = []
        for _ in range(self.options.repair_rounds):
            if not drifted:
                break
            self._repair_round(drifted, totals, errors)
            drifted = [o for o in self.observe({o.doc_id: o.keys for o in drifted}) if o.kind]
        totals["errors"] = errors[: self.options.max_listed]
        return totals, drifted

    def _repair_round(
        self, drifted: list[_Observation], totals: dict[str, Any], errors: list[dict[str, Any]]
    ) -> None:
        changes: list[Change] = []
        for observation in drifted:
            change = self._repair_change(observation)
            if change is None:
                totals["deleted"] += self._delete_unknown(observation, errors)
            else:
                changes.append(change)
        if not changes:
            return
        result = write_page(self.writer, changes, self.options.write_timeout)
        tally = result.tally()
        totals["written"] += tally[Outcome.WRITTEN]
        totals["superseded"] += tally[Outcome.STALE]  # a newer change got there first
        totals["rejected"] += tally[Outcome.REJECTED]
        totals["failed"] += tally[Outcome.FAILED]
        errors.extend(result.errors(Outcome.REJECTED, Outcome.FAILED))

    def _repair_change(self, observation: _Observation) -> Change | None:
        stored = observation.stored
        now = time.time()
        if observation.kind is DriftKind.EXTRA:
            if observation.keys is None or stored is None:
                return None
            return tombstone_change(
                observation.keys,
                sequence_number=stored.sequence,
                version=stored.version + 1,
                written_at=now,
            )
        assert observation.item is not None
        if stored is None:
            # Below any change made since the observation began (module docstring).
            version = external_version(observation.observed_at - CLOCK_ALLOWANCE)
            return item_change(observation.item, self.table, version=version, written_at=now)
        return item_change(
            observation.item,
            self.table,
            sequence_number=stored.sequence,
            version=stored.version + 1,
            written_at=now,
        )

    def _delete_unknown(self, observation: _Observation, errors: list[dict[str, Any]]) -> int:
        """Delete a document that maps to no key of this table, if it did not change."""
        stored = observation.stored
        if stored is None:
            return 0
        try:
            self.client.delete(
                index=self.alias,
                id=observation.doc_id,
                params={"if_seq_no": stored.seq_no, "if_primary_term": stored.primary_term},
            )
        except (ConflictError, NotFoundError) as error:
            errors.append({"id": observation.doc_id, "error": {"reason": str(error)[:500]}})
            return 0
        return 1


def _as_drift(observation: _Observation) -> Drift:
    assert observation.kind is not None
    fields = None
    if observation.kind is DriftKind.STALE and observation.stored and observation.item:
        fields = _field_diff(loads(observation.expected or "{}"), observation.stored.source)
    version = observation.stored.version if observation.stored else None
    return Drift(observation.kind, observation.doc_id, observation.keys, version, fields)


def _field_diff(expected: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, list[str]]:
    stored = {k: v for k, v in stored.items() if k != SYNC_FIELD}
    return {
        "changed": sorted(
            k for k in expected.keys() & stored.keys() if dumps(expected[k]) != dumps(stored[k])
        ),
        "only_in_table": sorted(expected.keys() - stored.keys()),
        "only_in_index": sorted(stored.keys() - expected.keys()),
    }


def reconcile(
    dynamodb: DynamoDBClient,
    client: OpenSearch,
    writer: BulkWriter,
    table: TableInfo,
    options: ReconcileOptions,
    *,
    progress: Progress | None = None,
    before_repair: Callable[[list[Drift]], None] | None = None,
) -> ReconcileReport:
    """Compare ``table`` with the index behind ``writer.alias``; repair when asked.

    ``client`` must read exact numbers (``make_client(..., exact_numbers=True)``).
    ``before_repair`` is called with the drift between its last observation and the repair
    (a test drives the stream there; an operator tool could ask for confirmation).
    """
    started = time.monotonic()
    work = _Reconciler(dynamodb, client, writer, table, options, progress or NullProgress())
    digests = work.load_index()
    candidates = work.compare_table(digests)
    report = work.report
    report.candidates = len(candidates)
    drifted = work.settle(candidates) if candidates else []
    report.settled = len(candidates) - len(drifted)
    report.drift = [_as_drift(o) for o in drifted]
    if options.repair:
        if before_repair is not None:
            before_repair(report.drift)
        totals, left = work.repair(drifted)
        report.repair = totals
        report.remaining = [_as_drift(o) for o in left]
    report.elapsed = round(time.monotonic() - started, 3)
    return report

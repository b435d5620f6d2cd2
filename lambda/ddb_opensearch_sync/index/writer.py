"""Write changes to the index: few ``_bulk`` requests, exact ordering, retries inside a deadline.

One call to `BulkWriter.write` takes the batch's newest change per document and settles each
as written, stale (an equal or newer change is already indexed), rejected for its content, or
failed (still failing when the deadline came). It works in rounds:

1. With ``check_first`` (the stream path): compare every pending change with its stored
   document (one ``_mget``, or what this writer saw stored a moment ago: `RecentlyStored`):
   older or equal is stale and done, newer is written with the stored version + 1, a
   compare-and-set. Then send every pending change with its external
   version in as few ``_bulk`` requests as the
   byte and action caps allow (``require_alias=true``: OpenSearch never invents an index).
2. Read each item's result. A version conflict is resolved exactly (`records` explains why
   they happen): one ``_mget`` of the stored ``_sync.seq`` and ``_version``; an older or
   equal stored change means stale and done, a newer one is sent again with the stored
   version + 1 in the next round. Content errors are final. 429, 5xx, blocks, closed indices
   and connection errors are retried after a full-jitter exponential backoff, as long as the
   deadline allows. A request too large for the cluster (413) is split into single actions.

Hand-written rather than ``helpers.streaming_bulk``: that helper's only retry is a blocking
fixed backoff on 429 with no deadline, it cannot split on 413, and it hides request
boundaries, all of which this module needs. The chunking is the same idea (count and bytes).
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import orjson
from opensearchpy.exceptions import TransportError

from ..core.records import SYNC_FIELD, Action, Change, is_newer, stored_sequence
from ..core.settings import (
    DEFAULT_BULK_MAX_ACTIONS,
    DEFAULT_BULK_MAX_BYTES,
    DEFAULT_REQUEST_TIMEOUT,
)

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = [
    "BulkWriter",
    "ErrorKind",
    "ItemResult",
    "Outcome",
    "WriteReport",
    "WriteStats",
    "classify",
    "is_block",
    "write_page",
]

logger = logging.getLogger(__name__)

CONTENT_ERROR_TYPES = frozenset(
    {
        "mapper_parsing_exception",
        "document_parsing_exception",
        "strict_dynamic_mapping_exception",
        "x_content_parse_exception",
        "parse_exception",
        "json_parse_exception",
    }
)
"""Error types of a 400 item result that are always about the document, whatever the reason."""

CONTENT_CAUSE_TYPES = frozenset({"max_bytes_length_exceeded_exception"})
"""``caused_by`` types that make an ``illegal_argument_exception`` the document's fault."""

# ``illegal_argument_exception`` is both "this document breaks a mapping limit" and "the alias
# has no write index": only these reasons are the document's. Each pattern is anchored at the
# start of OpenSearch's own message template, before any field name, id or value preview, so
# no text in the document can make a cluster problem look like a content error or the other
# way round (a reason is never searched for words).
CONTENT_REASONS = re.compile(
    "|".join(
        (
            r"Limit of total fields \[\d+\] has been exceeded",
            r"Limit of mapping depth \[\d+\] has been exceeded",
            r"Limit of nested fields \[\d+\] has been exceeded",
            r"Document contains at least one immense term in field=",
            r"mapper \[",  # mapper [x] cannot be changed from type [a] to [b]
            r"Field \[[^\]]*\] is a metadata field and cannot be added inside a document",
            r"object field starting or ending with a \[\.\] makes object resolution ambiguous",
            r"field name cannot be an empty string",
            r"[Cc]an't merge a non object mapping \[",
            r"Can't get text on a ",
        )
    )
)

BLOCK_ERROR_TYPE = "cluster_block_exception"
"""The error type of a write an index or cluster block refused: a reindex's write block
(`lease`), a full disk's read-only block. Retried like any cluster problem; `is_block` tells
the caller why."""


class ErrorKind(StrEnum):
    OK = "ok"
    CONFLICT = "conflict"
    CONTENT = "content"
    TOO_LARGE = "too_large"
    RETRY = "retry"


class Outcome(StrEnum):
    WRITTEN = "written"
    STALE = "stale"
    REJECTED = "rejected"
    FAILED = "failed"


def classify(status: int | str | None, error: Mapping[str, Any] | None) -> ErrorKind:
    """What to do about one bulk item's (or request's) status and error.

    Decided by the HTTP status and OpenSearch's structured error ``type`` (and, for the one
    ambiguous type, the start of its reason: `CONTENT_REASONS`); never by searching text that
    quotes document ids or values. Anything not known to be the document's fault is retried:
    a wrongly retried record only delays the shard, a wrongly dead-lettered one leaves the
    index wrong.
    """
    if isinstance(status, int) and 200 <= status < 300:
        return ErrorKind.OK
    if status == 409:
        return ErrorKind.CONFLICT
    if status == 413:
        return ErrorKind.TOO_LARGE
    if status == 400 and isinstance(error, Mapping) and _is_content_error(error):
        return ErrorKind.CONTENT
    return ErrorKind.RETRY


def is_block(error: Mapping[str, Any] | None) -> bool:
    """Whether an item's error is a block's refusal (by its structured ``type`` only)."""
    return isinstance(error, Mapping) and error.get("type") == BLOCK_ERROR_TYPE


def _is_content_error(error: Mapping[str, Any]) -> bool:
    kind = error.get("type")
    if kind in CONTENT_ERROR_TYPES:
        return True
    if kind != "illegal_argument_exception":
        return False
    cause = error.get("caused_by")
    if isinstance(cause, Mapping) and cause.get("type") in CONTENT_CAUSE_TYPES:
        return True
    reason = error.get("reason")
    return isinstance(reason, str) and CONTENT_REASONS.match(reason) is not None


@dataclass(frozen=True, slots=True)
class ItemResult:
    change: Change
    outcome: Outcome
    error: Mapping[str, Any] | None = None


@dataclass(slots=True)
class WriteStats:
    """What writing cost: requests, lookups, retries, conflicts. A batch report carries the
    same counters (`ddb_opensearch_sync.sync.batch.BatchReport`)."""

    requests: int = 0
    """``_bulk`` requests sent."""
    lookups: int = 0
    """``_mget`` requests sent to resolve conflicts."""
    retry_rounds: int = 0
    retried: int = 0
    """Actions sent again after a retryable error."""
    conflicts: int = 0
    """Version conflicts seen (duplicates, replays, same-second changes)."""
    bumped: int = 0
    """Newer changes rewritten above a same-second version."""

    def copy_stats(self, other: WriteStats) -> None:
        """Take ``other``'s counters (a batch report taking its write's)."""
        for name in _STAT_NAMES:
            setattr(self, name, getattr(other, name))


_STAT_NAMES = tuple(f.name for f in fields(WriteStats))


@dataclass(slots=True)
class WriteReport(WriteStats):
    results: list[ItemResult] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    def tally(self) -> dict[str, int]:
        """Changes per outcome, every outcome named: ``{"written": 3, "stale": 0, ...}``."""
        counts = Counter(r.outcome.value for r in self.results)
        return {outcome.value: counts[outcome.value] for outcome in Outcome}

    def errors(self, *outcomes: Outcome) -> list[dict[str, Any]]:
        """``{"id", "error"}`` of each change settled with one of ``outcomes``, in order."""
        return [
            {"id": r.change.doc_id, "error": dict(r.error or {})}
            for r in self.results
            if r.outcome in outcomes
        ]


def write_page(writer: BulkWriter, changes: Sequence[Change], timeout: float) -> WriteReport:
    """Write one page of changes (at most one per document) within ``timeout`` seconds.

    The operator commands' unit of work: each decides itself which outcomes stop it.
    """
    return writer.write(changes, deadline=time.monotonic() + timeout)


@dataclass(slots=True)
class _Pending:
    change: Change
    version: int
    solo: bool = False
    bumps: int = 0
    error: Mapping[str, Any] | None = None
    checked: bool = True
    """Whether the stored document has been compared (`BulkWriter` ``check_first``)."""


_Sent = tuple[_Pending, int | str | None, Mapping[str, Any] | None]
"""One item's result in a ``_bulk`` answer: the item, its status and its error."""

LOOKUP_FIELDS = ",".join(
    f"docs.{name}" for name in ("_id", "found", "_version", f"_source.{SYNC_FIELD}.seq", "error")
)
"""What a lookup's ``_mget`` answers with: ``filter_path`` rather than ``_source_includes``,
because OpenSearch applies source filtering per document (it parses each ``_source`` into a
map and builds the include filter again), which made the read ~1.6x slower than the filter on
the response, compiled once per request (100 ids, 30 stored, on the node: ~5.4 ms against
~3.3 ms; bench/README.md). Each document keeps its place in ``docs``: every entry has an
``_id``."""

MIN_SPLIT = 250
"""Fewest changes one request of a split round carries: below twice this a round goes as one
request, whatever ``concurrency`` says (at 100 documents two requests of 50 measured no faster
than one)."""

RECENT_SECONDS = 60.0
"""How long `RecentlyStored` trusts what it saw (well inside the 24 h before a tombstone may
be purged, the one way a stored document's version goes back)."""
RECENT_DOCUMENTS = 50_000
"""Documents `RecentlyStored` keeps (~10 MB), the oldest forgotten first."""


class RecentlyStored:
    """What this writer saw stored for a document a moment ago: ``_sync.seq`` and
    ``_version``, from its own write or its last read, for `RECENT_SECONDS`.

    Why: the comparison before writing (``check_first``) reads the batch's documents in real
    time, and OpenSearch answers a real-time read of a document written since the last refresh
    by refreshing the shard first. A table whose items change again within a second or two
    then pays a refresh for nearly every batch (most of the read's cost, `bench.profile_ours`).
    A document this writer has just written or read needs no read, and deciding from what was
    seen is what the read would decide:

    * a change not newer than the sequence number seen is stale: a newer change had been
      stored, and an older change never goes into the index after a newer one;
    * a newer change is written at the version seen + 1. Versions of a stored document only
      grow (external versions), so that write succeeds only if nothing was written since --
      the document is still as seen, the same compare-and-set an ``_mget`` sets up -- and
      conflicts otherwise; a conflict always reads the document, as before.

    Absence is never remembered (any writer may create the document), and a document deleted
    through the API (a purged tombstone, at least 24 h old) is forgotten long before.
    """

    def __init__(
        self, seconds: float = RECENT_SECONDS, size: int = RECENT_DOCUMENTS, clock: Any = None
    ) -> None:
        self.seconds = seconds
        self.size = size
        self._clock = clock or time.monotonic
        self._seen: OrderedDict[str, tuple[str | None, int, float]] = OrderedDict()

    def saw(self, doc_id: str, sequence_number: str | None, version: int) -> None:
        self._seen[doc_id] = (sequence_number, version, self._clock())
        self._seen.move_to_end(doc_id)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)

    def stored(self, doc_id: str) -> dict[str, Any] | None:
        """The document as an ``_mget`` answered it, if seen within `seconds`; else None."""
        seen = self._seen.get(doc_id)
        if seen is None:
            return None
        sequence_number, version, at = seen
        if self._clock() - at > self.seconds:
            del self._seen[doc_id]
            return None
        return {
            "found": True,
            "_version": version,
            "_source": {SYNC_FIELD: {"seq": sequence_number}},
        }

    def forget(self, doc_id: str) -> None:
        self._seen.pop(doc_id, None)


def _error_info(status: int | str | None, error: Any) -> dict[str, Any]:
    if isinstance(error, Mapping):
        return {"status": status, **error}
    return {"status": status, "type": "request_error", "reason": str(error)}


class BulkWriter:
    """Writes `Change` objects through one alias.

    Parameters
    ----------
    client
        An opensearch-py client without transport retries (`client.make_client`).
    alias
        The alias to write through; must exist (``require_alias``).
    max_bytes, max_actions
        Caps of one ``_bulk`` request.
    request_timeout
        Upper bound of one request; never beyond the deadline.
    backoff_base, backoff_cap
        Full-jitter exponential backoff between retry rounds, in seconds.
    concurrency
        ``_bulk`` requests in flight at once. A round of at least twice `MIN_SPLIT` changes is
        split into that many requests, sent together; their results are read in request
        order, as if sent one after the other. Every request is still a compare-and-set per
        document (a batch holds one change per document), so the order of their arrival
        changes nothing.
    max_bumps
        Same-document conflict rounds sent back to back; after that each further round waits
        for the backoff (a writer racing this one), until the deadline.
    check_first
        Compare with the stored documents before writing (one ``_mget`` per request's worth
        of changes), so that the stored ``_sync.seq`` alone decides the order: an older or
        equal change is stale without a write, a newer one is written with the stored version
        + 1 (a compare-and-set: any write in between makes it conflict and compare again),
        and only a document not stored yet takes the change's natural version. Without it a
        change from a later ``ApproximateCreationDateTime`` second wins on its version alone
        (`records` explains why the stream path needs this). The function and ``replay`` set
        it; the operator commands that write their own versions (backfill, reindex, reconcile
        repairs) do not.
    """

    def __init__(
        self,
        client: OpenSearch,
        alias: str,
        *,
        max_bytes: int = DEFAULT_BULK_MAX_BYTES,
        max_actions: int = DEFAULT_BULK_MAX_ACTIONS,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        backoff_base: float = 0.1,
        backoff_cap: float = 5.0,
        max_bumps: int = 10,
        check_first: bool = False,
        concurrency: int = 1,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.alias = alias
        self.max_bytes = max_bytes
        self.max_actions = max_actions
        self.request_timeout = request_timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_bumps = max_bumps
        self.check_first = check_first
        self.recent = RecentlyStored() if check_first else None
        self.concurrency = concurrency
        self._pool = (
            ThreadPoolExecutor(concurrency, thread_name_prefix="bulk") if concurrency > 1 else None
        )
        self._rng = rng or random.Random()

    # --- public ---

    def write(self, changes: Sequence[Change], *, deadline: float) -> WriteReport:
        """Write ``changes`` (at most one per document) before ``deadline`` (monotonic)."""
        report = WriteReport()
        pending: dict[str, _Pending] = {}
        for change in changes:
            if change.action is Action.SKIP or change.document is None:
                raise ValueError(f"nothing to write for {change.doc_id!r} ({change.action})")
            if change.doc_id in pending:
                raise ValueError(f"two changes for {change.doc_id!r}: compact the batch first")
            pending[change.doc_id] = _Pending(change, change.version, checked=not self.check_first)

        attempt = 0
        while pending and time.monotonic() < deadline:
            retry = self._round(pending, report, deadline)
            if retry and pending:
                if not self._backoff(attempt, deadline):
                    break
                attempt += 1
                report.retry_rounds += 1
                report.retried += len(pending)

        for item in pending.values():
            error = item.error or {"status": None, "type": "deadline", "reason": "not sent"}
            report.results.append(ItemResult(item.change, Outcome.FAILED, error))
        return report

    # --- one round ---

    def _round(self, pending: dict[str, _Pending], report: WriteReport, deadline: float) -> bool:
        """Send everything pending once; settle what can be settled. True if a retry is due."""
        conflicts: list[_Pending] = []
        unchecked = [item for item in pending.values() if not item.checked]
        retry = bool(unchecked) and self._check(unchecked, pending, report, deadline)
        ready = [item for item in pending.values() if item.checked]
        for sent, results in self._send_all(self._chunks(ready), deadline):
            report.requests += sent
            for item, status, error in results:
                kind = classify(status, error)
                if kind is ErrorKind.OK:
                    if self.recent is not None:
                        change = item.change
                        self.recent.saw(change.doc_id, change.sequence_number, item.version)
                    self._settle(pending, report, item, Outcome.WRITTEN)
                elif kind is ErrorKind.CONFLICT:
                    report.conflicts += 1
                    conflicts.append(item)
                elif kind is ErrorKind.CONTENT or (kind is ErrorKind.TOO_LARGE and item.solo):
                    info = _error_info(status, error)
                    self._settle(pending, report, item, Outcome.REJECTED, info)
                elif kind is ErrorKind.TOO_LARGE:
                    item.solo = True  # next round alone; no need to wait for that
                else:
                    item.error = _error_info(status, error)
                    retry = True
        if conflicts:
            retry = self._compare(conflicts, pending, report, deadline, conflicted=True) or retry
        return retry

    def _settle(
        self,
        pending: dict[str, _Pending],
        report: WriteReport,
        item: _Pending,
        outcome: Outcome,
        error: Mapping[str, Any] | None = None,
    ) -> None:
        del pending[item.change.doc_id]
        report.results.append(ItemResult(item.change, outcome, error))

    def _action_line(self, item: _Pending) -> bytes:
        meta = {"_id": item.change.doc_id, "version": item.version, "version_type": "external"}
        # orjson: the same compact UTF-8 bytes as json.dumps(ensure_ascii=False), 6x faster
        # (once per change sent).
        return orjson.dumps({"index": meta})

    def _chunks(self, items: list[_Pending]) -> list[list[tuple[_Pending, bytes]]]:
        """Split into requests by action count and body bytes; oversized ones go alone."""
        chunks: list[list[tuple[_Pending, bytes]]] = []
        current: list[tuple[_Pending, bytes]] = []
        size = 0
        max_actions = self._actions_per_request(len(items))
        for item in items:
            lines = b"".join((self._action_line(item), b"\n", item.change.document.encode(), b"\n"))
            if item.solo:
                chunks.append([(item, lines)])
                continue
            if current and (size + len(lines) > self.max_bytes or len(current) >= max_actions):
                chunks.append(current)
                current, size = [], 0
            current.append((item, lines))
            size += len(lines)
        if current:
            chunks.append(current)
        return chunks

    def _actions_per_request(self, count: int) -> int:
        """Actions per request for a round of ``count``: split so that every request in
        flight has its share, never below `MIN_SPLIT` nor above ``max_actions``."""
        if self.concurrency < 2 or count < 2 * MIN_SPLIT:
            return self.max_actions
        return min(self.max_actions, max(MIN_SPLIT, -(-count // self.concurrency)))

    def _send_all(
        self, chunks: list[list[tuple[_Pending, bytes]]], deadline: float
    ) -> Iterator[tuple[bool, list[_Sent]]]:
        """`_send` of each chunk, in chunk order; up to `concurrency` requests in flight."""
        if len(chunks) < 2 or self._pool is None:
            return (self._send(chunk, deadline) for chunk in chunks)
        return self._pool.map(lambda chunk: self._send(chunk, deadline), chunks)

    def _send(
        self, chunk: list[tuple[_Pending, bytes]], deadline: float
    ) -> tuple[bool, list[_Sent]]:
        """Whether the request was sent, and each item's status and error (runs on the pool's
        threads: it touches no shared state)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            unsent = {"type": "deadline", "reason": "deadline reached before sending"}
            return False, [(item, None, unsent) for item, _ in chunk]
        body = b"".join(lines for _, lines in chunk)
        try:
            response = self.client.bulk(
                body=body,
                index=self.alias,
                require_alias=True,
                request_timeout=min(self.request_timeout, remaining),
            )
        except TransportError as error:
            info = error.info if isinstance(error.info, Mapping) else None
            detail = info.get("error") if info else None
            if not isinstance(detail, Mapping):
                detail = {"type": type(error).__name__, "reason": str(error)[:1000]}
            return True, [(item, error.status_code, detail) for item, _ in chunk]
        results: list[_Sent] = []
        # Items come back in request order, one per action.
        for (item, _), entry in zip(chunk, response["items"], strict=True):
            (result,) = entry.values()
            results.append((item, result.get("status"), result.get("error")))
        return True, results

    def _check(
        self,
        items: list[_Pending],
        pending: dict[str, _Pending],
        report: WriteReport,
        deadline: float,
    ) -> bool:
        """Compare changes with the stored documents before writing. True if a retry is due."""
        unseen = []
        for item in items:
            stored = self.recent.stored(item.change.doc_id) if self.recent is not None else None
            if stored is None:
                unseen.append(item)
            else:
                self._decide(item, stored, pending, report, conflicted=False)
        retry = False
        for start in range(0, len(unseen), self.max_actions):
            group = unseen[start : start + self.max_actions]
            retry = self._compare(group, pending, report, deadline, conflicted=False) or retry
        return retry

    def _lookup(
        self, items: list[_Pending], report: WriteReport, deadline: float
    ) -> list[tuple[_Pending, Mapping[str, Any] | None]]:
        """Each item's stored ``_sync.seq`` and ``_version`` (``None`` and the item's error set
        when the lookup failed)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            for item in items:
                item.error = {"type": "deadline", "reason": "not compared in time"}
            return [(item, None) for item in items]
        report.lookups += 1
        try:
            response = self.client.mget(
                index=self.alias,
                body={"ids": [item.change.doc_id for item in items]},
                filter_path=LOOKUP_FIELDS,
                request_timeout=min(self.request_timeout, remaining),
            )
        except TransportError as error:
            for item in items:
                item.error = _error_info(error.status_code, str(error)[:1000])
            return [(item, None) for item in items]
        docs = response["docs"]
        for item, doc in zip(items, docs, strict=True):
            if "error" in doc:
                item.error = _error_info(None, doc["error"])
        return list(zip(items, docs, strict=True))

    def _compare(
        self,
        items: list[_Pending],
        pending: dict[str, _Pending],
        report: WriteReport,
        deadline: float,
        *,
        conflicted: bool,
    ) -> bool:
        """Decide with the stored sequence numbers, before writing or after a version
        conflict (``conflicted``): stale, or the version to write next. True if a retry is
        due."""
        retry = False
        for item, doc in self._lookup(items, report, deadline):
            if doc is None or "error" in doc:
                if self.recent is not None:
                    self.recent.forget(item.change.doc_id)
                retry = True
                continue
            if self.recent is not None and doc.get("found"):
                stored = stored_sequence(doc.get("_source"))
                self.recent.saw(item.change.doc_id, stored, int(doc["_version"]))
            retry = self._decide(item, doc, pending, report, conflicted=conflicted) or retry
        return retry

    def _decide(
        self,
        item: _Pending,
        doc: Mapping[str, Any],
        pending: dict[str, _Pending],
        report: WriteReport,
        *,
        conflicted: bool,
    ) -> bool:
        """Settle ``item`` as stale or set the version to write it at, from its stored
        document (as read, or as `RecentlyStored` saw it). True if a retry is due."""
        item.checked = True
        found = bool(doc.get("found"))
        if found and not is_newer(item.change.sequence_number, stored_sequence(doc.get("_source"))):
            self._settle(pending, report, item, Outcome.STALE)
            return False
        if found:
            stored_version = int(doc["_version"])
            report.bumped += int(conflicted or stored_version >= item.change.version)
            item.version = stored_version + 1
        else:
            item.version = item.change.version  # nothing stored (or deleted meanwhile)
        if conflicted:
            # The version is refreshed whatever the count: past `max_bumps` the writer
            # backs off between rounds, but a stale version would conflict for ever.
            item.bumps += 1
            if item.bumps > self.max_bumps:
                item.error = {"type": "conflict_storm", "reason": "document keeps changing"}
                return True
        return False

    def _backoff(self, attempt: int, deadline: float) -> bool:
        """Sleep before the next retry round; False when the deadline leaves no room."""
        delay = self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))
        room = deadline - time.monotonic()
        if room <= 0.05:
            return False
        time.sleep(min(delay, room / 2))
        return True

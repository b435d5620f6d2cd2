"""Reindex with zero downtime: build ``<alias>-v<n+1>`` from the table, switch the alias.

Constraints that shape the design
---------------------------------
* The function writes to one alias, and its conflict path reads through it with ``_mget``,
  which OpenSearch refuses on an alias over two indices. So the alias must point to exactly
  one index at every moment: the function cannot write to both, and "switch the write index
  first" would also make searches see every document twice.
* Readers use the same alias, so it may only move to an index that is already complete.

Sequence
--------
1. Create the new index ``<alias>-v<n+1>`` with the current template and mapping (`mapping`),
   reachable only through a private write alias ``<alias>-reindex``. Note the start time T0.
2. Backfill it from the table (`backfill`: version 0, sequence ``"0"``), resumable.
   Meanwhile the function keeps writing to the old index through the alias; readers see the
   old index, complete and current.
3. Catch up: copy from the old index, into the new one, with its own external version and
   sequence number, through the function's writer:

   * the first pass: every document the stream may still argue with -- everything whose
     change is younger than the stream's retention (24 h, `settings.STREAM_RETENTION`) plus
     ``margin``, every document with a real sequence number but no ``_sync.ts``, and, with
     ``TTL_EXPIRY_POLICY=keep``, every document carrying the table's TTL attribute (an
     expired item's kept document is in no table scan). Above all the tombstones: a
     backfill knows nothing of deleted items, and without its tombstone a replayed older
     ``INSERT`` (stream replays reach back 24 h) would bring a deleted book back. Equally a
     live document keeps its real sequence number, so a replayed older change stays stale
     instead of beating the backfill's ``"0"``;
   * later passes: what changed from T0 - ``margin`` on (``_sync.ts``); anything older was
     copied by the first pass or read by the scan.

   A copied stream document always beats a backfilled one (its version is > 0); where the
   new index holds the same document the writer's exact sequence comparison decides. Repeat
   while passes find new changes, so that the next step is short.
4. Freeze the old index (``index.blocks.write``) under a lease (`index.lease`): the lease's
   end is recorded in the old index's ``_meta`` first. The function's writes now fail with a
   retryable block error; its writer backs off and retries (Lambda retries the batch if its
   deadline comes first), so no change is lost -- it waits. Copy once more, until the old
   index's ``max_seq_no`` stays put (nothing can land any more).
5. Refresh the new index (so searches see all of it at once), then -- only if at least a
   third of the lease is left -- switch atomically in one ``_aliases`` request: the alias
   (with its tombstone filter) moves to the new index as write index, the private alias
   goes. The function's retries land in the new index. Readers went from one complete index
   to the other.
6. The old index stays, write-blocked, until ``--delete-old``. If anything fails between 4
   and 5 the old index is unfrozen and the alias never moved.

Killed at any moment
--------------------
Every phase is recorded in the state file before it starts. Killed (even with kill -9) while
the old index is write-blocked, the block outlives the process only until its lease ends
(``--lease``, default 60 s): the sync function lifts an expired block the next time a batch
fails, and so do ``--resume`` and ``--abort``. ``--resume`` lifts any block first, catches up
again and freezes anew, so it finishes whatever the moment of the kill.

The margin (default 300 s) covers the difference between this host's clock and DynamoDB's
``ApproximateCreationDateTime``; a larger one only copies more documents.

An interrupted reindex (Ctrl-C, ``--max-pages``, a crash) resumes with ``--resume`` (the state
file keeps T0 and the index names; the backfill has its checkpoints) or is undone with
``--abort`` (delete the new index, unfreeze the old).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opensearchpy import helpers

from ..core.mapping import (
    alias_spec,
    concrete_index_name,
    generation_of,
    index_mappings,
    index_settings,
    index_template,
    template_name,
)
from ..core.records import SYNC_FIELD, Action, Change, EventName, TtlPolicy, dumps, stored_sequence
from ..core.settings import (
    DEFAULT_BULK_MAX_ACTIONS,
    DEFAULT_LEASE,
    DEFAULT_MARGIN,
    STREAM_RETENTION,
)
from ..index.lease import clear_lease, set_write_block, take_lease
from ..index.setup import current_index
from ..index.writer import BulkWriter, Outcome, write_page
from .backfill import BackfillOptions, run_backfill
from .progress import NullProgress, Progress
from .state import read_json, write_json
from .table import BACKFILL_SEQUENCE, DynamoDBClient, TableInfo

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = [
    "ReindexError",
    "ReindexOptions",
    "ReindexReport",
    "abort_reindex",
    "reindex",
    "work_alias",
]

logger = logging.getLogger(__name__)

COPY_CHUNK = DEFAULT_BULK_MAX_ACTIONS
"""Documents read per scroll page and written per page: one ``_bulk`` request's worth."""
MAX_FROZEN_PASSES = 10
HOLD_SECONDS = 600.0


class ReindexError(RuntimeError):
    """The reindex cannot go on; the message says what to do."""


@dataclass(frozen=True, slots=True)
class ReindexOptions:
    state_dir: Path
    """Holds ``reindex.json`` and the backfill's checkpoints."""
    backfill: BackfillOptions = field(default_factory=BackfillOptions)
    generation: int | None = None
    """The new index's generation; default: the current one + 1."""
    margin: float = DEFAULT_MARGIN
    catch_up_passes: int = 5
    write_timeout: float = 120.0
    delete_old: bool = False
    resume: bool = False
    lease: float = DEFAULT_LEASE
    """Seconds the old index may stay write-blocked if this run dies (module docstring)."""
    ttl_policy: TtlPolicy = TtlPolicy.DELETE
    """The function's ``TTL_EXPIRY_POLICY``: ``keep`` copies documents of expired items too."""
    hold_at: str | None = None
    """Test hook: wait `HOLD_SECONDS` on entering this phase (to kill the run there)."""


@dataclass(slots=True)
class ReindexReport:
    alias: str
    old_index: str
    new_index: str
    started_at: float
    backfill: dict[str, Any] | None = None
    catch_up: list[dict[str, int]] = field(default_factory=list)
    frozen_seconds: float | None = None
    switched: bool = False
    deleted_old: bool = False
    stopped: str | None = None
    elapsed: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def work_alias(alias: str) -> str:
    """The private write alias of an index under construction."""
    return f"{alias}-reindex"


# --- state ----------------------------------------------------------------------------------


def _state_file(options: ReindexOptions) -> Path:
    return options.state_dir / "reindex.json"


def _load_state(options: ReindexOptions, alias: str) -> dict[str, Any] | None:
    state = read_json(_state_file(options))
    return state if state is not None and state.get("alias") == alias else None


def _save_state(options: ReindexOptions, state: Mapping[str, Any]) -> None:
    write_json(_state_file(options), state)


def _clear_state(options: ReindexOptions) -> None:
    _state_file(options).unlink(missing_ok=True)


PHASES = ("backfill", "catch-up", "frozen", "switched")
"""What a run records in its state file as it goes (``phase``)."""


def _enter(options: ReindexOptions, state: dict[str, Any], phase: str) -> dict[str, Any]:
    """Record ``phase`` before doing it, so that a run killed there is known to be there."""
    state = {**state, "phase": phase}
    _save_state(options, state)
    if options.hold_at == phase:
        logger.warning("holding at phase %s for %.0f s (--hold-at)", phase, HOLD_SECONDS)
        time.sleep(HOLD_SECONDS)
    return state


# --- steps -------------------------------------------------------------------------------------


def _begin(client: OpenSearch, alias: str, options: ReindexOptions) -> dict[str, Any]:
    """Resume the recorded reindex, or create the new index and record a new one."""
    state = _load_state(options, alias)
    if options.resume and state and client.indices.exists(index=state["new"]):
        if current_index(client, alias) == state["new"]:
            # Killed between the switch and its last note: done, nothing left but the note.
            logger.info("the reindex to %s switched already", state["new"])
            return {**state, "phase": "switched"}
        logger.info("resuming the reindex %s -> %s", state["old"], state["new"])
        _unfreeze(client, state["old"])  # the sync writes while this run catches up again
        return state
    if client.indices.exists_alias(name=work_alias(alias)):
        raise ReindexError(
            f"a reindex of {alias!r} is in progress ({work_alias(alias)!r} exists): "
            "continue it with --resume or undo it with --abort"
        )
    old = current_index(client, alias)
    generation = options.generation or (generation_of(old, alias) or 0) + 1
    new = concrete_index_name(alias, generation)
    if client.indices.exists(index=new):
        raise ReindexError(f"{new!r} exists already; choose another --generation")
    # The template first, so that anything else creating <alias>-v* gets this mapping too.
    client.indices.put_index_template(
        name=template_name(alias), body=index_template(alias, generation)
    )
    body = {
        "settings": index_settings(),
        "mappings": index_mappings(generation),
        "aliases": {work_alias(alias): {"is_write_index": True}},
    }
    client.indices.create(index=new, body=body)
    state = {"alias": alias, "old": old, "new": new, "started_at": time.time()}
    _save_state(options, state)
    logger.info("created %s; the alias %s stays on %s", new, alias, old)
    return state


def _stored_change(hit: Mapping[str, Any]) -> Change:
    """A stored document as the change that wrote it: same id, version, sequence number."""
    source = hit["_source"]
    meta = source.get(SYNC_FIELD) if isinstance(source.get(SYNC_FIELD), Mapping) else {}
    deleted = meta.get("deleted") is True
    try:
        event = EventName(meta.get("event"))
    except ValueError:
        event = EventName.REMOVE if deleted else EventName.INSERT
    return Change(
        position=0,
        record={},
        doc_id=hit["_id"],
        sequence_number=stored_sequence(source) or BACKFILL_SEQUENCE,
        event_name=event,
        action=Action.DELETE if deleted else Action.UPSERT,
        version=int(hit["_version"]),
        created_at=meta.get("ts"),
        ttl_expiry=False,
        document=dumps(source),
    )


def changed_since(since: float) -> dict[str, Any]:
    """Documents whose change is from ``since`` (epoch seconds) on, tombstones included."""
    return {"range": {f"{SYNC_FIELD}.ts": {"gte": int(since)}}}


def still_disputable(now: float, margin: float, ttl_attribute: str | None = None) -> dict[str, Any]:
    """Documents a stream change may still argue with (the first catch-up pass, module
    docstring): younger than the stream's retention plus ``margin``, stream-written without a
    time, and (``ttl_attribute``, under the keep policy) documents that can outlive their item.
    """
    undated_stream_write = {
        "bool": {
            "must_not": [
                {"exists": {"field": f"{SYNC_FIELD}.ts"}},
                {"term": {f"{SYNC_FIELD}.seq": BACKFILL_SEQUENCE}},
            ]
        }
    }
    should: list[dict[str, Any]] = [
        changed_since(now - STREAM_RETENTION - margin),
        undated_stream_write,
    ]
    if ttl_attribute:
        should.append({"exists": {"field": ttl_attribute}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def copy_changed(
    client: OpenSearch,
    source_index: str,
    writer: BulkWriter,
    since: float | dict[str, Any],
    timeout: float,
) -> dict[str, int]:
    """Copy the documents of ``source_index`` that a query selects (a float: `changed_since`)
    through ``writer``, keeping versions and sequence numbers. Counts by outcome."""
    query = changed_since(since) if isinstance(since, int | float) else since
    client.indices.refresh(index=source_index)
    hits = helpers.scan(
        client,
        index=source_index,
        query={"query": query},
        size=COPY_CHUNK,
        version=True,
    )
    counts = {"read": 0, "written": 0, "stale": 0}
    chunk: list[Change] = []

    def flush() -> None:
        report = write_page(writer, chunk, timeout)
        bad = report.errors(Outcome.FAILED, Outcome.REJECTED)
        if bad:
            raise ReindexError(f"copying {bad[0]['id']} failed: {bad[0]['error']}")
        tally = report.tally()
        counts["written"] += tally[Outcome.WRITTEN]
        counts["stale"] += tally[Outcome.STALE]
        chunk.clear()

    for hit in hits:
        counts["read"] += 1
        chunk.append(_stored_change(hit))
        if len(chunk) >= COPY_CHUNK:
            flush()
    if chunk:
        flush()
    return counts


def _max_seq_nos(client: OpenSearch, index: str) -> dict[str, int]:
    """Each primary shard's highest sequence number: it moves with every write."""
    stats = client.indices.stats(index=index, metric="docs", level="shards")
    shards = stats["indices"][index]["shards"]
    return {
        number: copy["seq_no"]["max_seq_no"]
        for number, copies in shards.items()
        for copy in copies
        if copy["routing"]["primary"]
    }


def _unfreeze(client: OpenSearch, index: str) -> None:
    set_write_block(client, index, False)
    clear_lease(client, index)


def _switch(client: OpenSearch, alias: str, old: str, new: str) -> None:
    actions = [
        {"remove": {"index": old, "alias": alias}},
        {"add": {"index": new, "alias": alias, **alias_spec()}},
        {"remove": {"index": new, "alias": work_alias(alias)}},
    ]
    client.indices.update_aliases(body={"actions": actions})


def _frozen_catch_up(
    client: OpenSearch,
    state: Mapping[str, Any],
    writer: BulkWriter,
    options: ReindexOptions,
    report: ReindexReport,
) -> None:
    """Freeze the old index, copy its last changes, switch; unfreeze if that fails."""
    old, new, alias = state["old"], state["new"], state["alias"]
    since = state["started_at"] - options.margin
    frozen_at = time.monotonic()
    lease_until = take_lease(client, old, new, options.lease)
    set_write_block(client, old, True)
    try:
        _enter(options, state, "frozen")
        for _ in range(MAX_FROZEN_PASSES):
            # A write admitted just before the block may still be landing: copy until the
            # old index's sequence numbers stand still across a whole pass.
            before = _max_seq_nos(client, old)
            report.catch_up.append(copy_changed(client, old, writer, since, options.write_timeout))
            if _max_seq_nos(client, old) == before:
                break
        else:
            raise ReindexError(f"{old} kept changing while write-blocked")
        # Readers must find every copied document searchable from the first moment.
        client.indices.refresh(index=new)
        if lease_until - time.time() < options.lease / 3:
            # Whoever finds the lease expired lifts the block; a write landing in the old
            # index after that would be missing from the new one. Not worth the risk.
            raise ReindexError(
                f"the final copy took most of the {options.lease:g} s lease; "
                "run --resume (or give a longer --lease)"
            )
        _switch(client, alias, old, new)
        report.switched = True
    finally:
        if not report.switched:
            _unfreeze(client, old)
        report.frozen_seconds = round(time.monotonic() - frozen_at, 3)
    logger.info("alias %s now on %s; %s is write-blocked", alias, new, old)


def reindex(
    dynamodb: DynamoDBClient,
    client: OpenSearch,
    table: TableInfo,
    alias: str,
    options: ReindexOptions,
    *,
    writer_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> ReindexReport:
    """Rebuild the index behind ``alias`` from ``table`` without downtime (module docstring).

    ``client`` must read exact numbers (``make_client(..., exact_numbers=True)``).
    """
    started = time.monotonic()
    state = _begin(client, alias, options)
    report = ReindexReport(alias, state["old"], state["new"], state["started_at"])
    if state.get("phase") == "switched":
        _clear_state(options)
        report.switched = True
        return report
    writer = BulkWriter(client, work_alias(alias), **(writer_options or {}))

    if not state.get("backfilled"):
        state = _enter(options, state, "backfill")
        backfill_options = replace(
            options.backfill, checkpoint_dir=options.state_dir / "backfill", resume=options.resume
        )
        filled = run_backfill(
            dynamodb,
            writer,
            table,
            backfill_options,
            progress=progress or NullProgress(),
            stop=stop,
            description=f"reindex: backfill {state['new']}",
        )
        report.backfill = filled.as_dict()
        if not filled.completed:
            report.stopped = filled.stopped
            report.elapsed = round(time.monotonic() - started, 3)
            return report
        state = {**state, "backfilled": True}
        _save_state(options, state)

    state = _enter(options, state, "catch-up")
    ttl_attribute = table.ttl_attribute if options.ttl_policy is TtlPolicy.KEEP else None
    first = still_disputable(time.time(), options.margin, ttl_attribute)
    report.catch_up.append(copy_changed(client, state["old"], writer, first, options.write_timeout))
    since = state["started_at"] - options.margin
    for _ in range(options.catch_up_passes):
        counts = copy_changed(client, state["old"], writer, since, options.write_timeout)
        report.catch_up.append(counts)
        if counts["written"] == 0:
            break  # nothing new since the last pass: the frozen pass will be short
    _frozen_catch_up(client, state, writer, options, report)
    _enter(options, state, "switched")
    _clear_state(options)
    if options.delete_old:
        client.indices.delete(index=state["old"])
        report.deleted_old = True
    report.elapsed = round(time.monotonic() - started, 3)
    return report


def abort_reindex(client: OpenSearch, alias: str, options: ReindexOptions) -> dict[str, Any]:
    """Undo an unfinished reindex: delete the new index, unfreeze the old one."""
    unfinished: set[str] = set()
    if client.indices.exists_alias(name=work_alias(alias)):
        unfinished.update(client.indices.get_alias(name=work_alias(alias)))
    state = _load_state(options, alias)
    if state:
        unfinished.add(state["new"])
    current = current_index(client, alias)
    if current in unfinished:
        raise ReindexError(f"{current} is behind {alias!r} already: the reindex finished")
    for name in sorted(unfinished):
        client.indices.delete(index=name, ignore_unavailable=True)
    _unfreeze(client, current)
    _clear_state(options)
    return {"alias": alias, "deleted": sorted(unfinished), "unfrozen": current}

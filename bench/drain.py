"""Drain: a burst written straight into the deployed table, timed until all of it is searchable,
against bulk-indexing the same documents into a scratch index of the same node.

``sync``
    ``ITEMS`` books (~1 KiB each) put into the deployed table as fast as ``WRITERS`` threads of
    ``BatchWriteItem`` (25 items per call) manage; the stream, the event source mapping, the
    function and its ``_bulk`` carry them to the index. A poller counts, every
    ``POLL_INTERVAL`` seconds, the run's books a search finds (a ``prefix`` count on
    ``book_id`` through the alias: refreshed, what a reader sees). Rate = items / (time the
    last one became searchable - time the first write was sent). Also recorded: how long the
    writes took (their own rate bounds the drain from above), how long after the last
    write acknowledged everything was searchable, each process's CPU meanwhile, and where
    LocalStack's went (py-spy, `bench.sampling`).
``backlog``
    The drain alone, as on AWS when a mapping meets a stream that has records waiting (after an
    outage, a paused mapping, a bulk load): the same number of books written into a scratch
    table with a stream, *then* an event source mapping created from that stream to the
    deployed sync function, with the deployed mapping's settings and ``TRIM_HORIZON``. Rate =
    items / (time the last one became searchable - time the mapping was created). No writes
    compete with the drain here, so this is the sync's own rate; the burst above adds
    LocalStack taking the writes at the same time.
``ceiling``
    The same books, as the function's documents (`records.to_change` of an INSERT), bulk-indexed
    with ``helpers.bulk`` (1,000 per request) into a fresh scratch index made by the project's
    `setup_index`, then one refresh: the node's own rate for these documents. Measured once
    before and once after the burst; the ratio uses their mean, so that load from elsewhere
    during the run weighs on both sides.

The books are deleted from the table afterwards and the run waits until the index has
followed (their tombstones are hidden from searches), so the table is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opensearchpy import helpers

from bench.common import opensearch_client, require_deployed
from bench.sampling import Sampling
from bench.stackfigures import MemorySampler, stack_pids
from bench.streamgen import book, typed_book
from ddb_opensearch_sync.core.records import to_change
from tests.support import aws
from tests.support.opensearch import scratch_alias
from tests.support.settings import SYNC_FUNCTION_NAME, Settings

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = ["QUICK", "DrainConfig", "run"]

POLL_INTERVAL = 0.05
WRITERS = 8
BATCH_WRITE = 25  # DynamoDB's BatchWriteItem limit
BULK_CHUNK = 1000
WARM_UP = 500


@dataclass(frozen=True)
class DrainConfig:
    items: int = 5000
    backlog_items: int = 20000
    """Larger than the burst: a backlog's drain is a steady state, and at 5,000 records (under
    a second of work) the mapping's start and the last refresh would be most of the time."""
    timeout: float = 300.0
    seed: int = 20261202


QUICK = DrainConfig(items=1000, backlog_items=3000, timeout=120.0)


def _items(config: DrainConfig, run_id: str, count: int) -> list[dict[str, Any]]:
    rng = random.Random(config.seed)
    return [typed_book(book(rng, f"{run_id}-{number:06d}")) for number in range(count)]


def _documents(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The documents the function writes for these items' INSERTs, as ``(id, JSON)``."""
    documents = []
    for number, item in enumerate(items):
        change = to_change(
            {
                "eventName": "INSERT",
                "dynamodb": {
                    "Keys": {"book_id": item["book_id"]},
                    "NewImage": item,
                    "SequenceNumber": str(10**20 + number),
                    "ApproximateCreationDateTime": time.time(),
                },
            }
        )
        assert change.document is not None
        documents.append((change.doc_id, change.document))
    return documents


def _searchable_count(client: OpenSearch, alias: str, prefix: str) -> int:
    query = {"query": {"prefix": {"book_id": prefix}}}
    return int(client.count(index=alias, body=query)["count"])


def ceiling(client: OpenSearch, documents: list[tuple[str, str]]) -> float:
    """Items/s of ``helpers.bulk`` plus a refresh, into a fresh scratch index."""
    with scratch_alias(client, "bench-drain") as alias:
        actions = ({"_index": alias, "_id": i, "_source": d} for i, d in documents)
        began = time.monotonic()
        helpers.bulk(client, actions, chunk_size=BULK_CHUNK, max_chunk_bytes=50 * 2**20)
        client.indices.refresh(index=alias)
        seconds = time.monotonic() - began
        if (count := int(client.count(index=alias)["count"])) != len(documents):
            raise RuntimeError(f"ceiling: {count} of {len(documents)} documents indexed")
    return len(documents) / seconds


def _write_all(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> None:
    def write(chunk: list[dict[str, Any]]) -> None:
        requests = [{"PutRequest": {"Item": item}} for item in chunk]
        while requests:
            answer = dynamodb.batch_write_item(RequestItems={table: requests})
            requests = answer.get("UnprocessedItems", {}).get(table, [])

    chunks = [items[i : i + BATCH_WRITE] for i in range(0, len(items), BATCH_WRITE)]
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(write, chunks))


def burst(
    client: OpenSearch,
    books: aws.BooksTable,
    alias: str,
    items: list[dict[str, Any]],
    prefix: str,
    timeout: float,
) -> dict[str, Any]:
    """Write ``items`` at once and time until a search finds them all."""
    done_writing = threading.Event()
    timings: dict[str, float] = {}

    def writer() -> None:
        _write_all(books.dynamodb, books.name, items)
        timings["writes_done"] = time.monotonic()
        done_writing.set()

    began = time.monotonic()
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    seen, deadline = 0, began + timeout
    while time.monotonic() < deadline:
        seen = _searchable_count(client, alias, prefix)
        if seen >= len(items) and done_writing.is_set():
            break
        time.sleep(POLL_INTERVAL)
    finished = time.monotonic()
    thread.join()
    seconds = finished - began
    write_seconds = timings["writes_done"] - began
    return {
        "items": len(items),
        "searchable": seen,
        "seconds": round(seconds, 2),
        "items_per_s": round(seen / seconds, 1),
        "write_seconds": round(write_seconds, 2),
        "write_items_per_s": round(len(items) / write_seconds, 1),
        "searchable_after_last_write_s": round(finished - timings["writes_done"], 2),
    }


MAPPING_SETTINGS = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor",
    "FunctionResponseTypes",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
)


def _deployed_mapping(lambdas: Any, function: str) -> dict[str, Any]:
    """The settings of the deployed mapping from the table's stream to ``function``."""
    mappings = lambdas.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    streams = [m for m in mappings if ":dynamodb:" in m.get("EventSourceArn", "")]
    if not streams:
        raise RuntimeError(f"no stream mapping to {function}: run `make deploy`")
    return {key: streams[0][key] for key in MAPPING_SETTINGS if key in streams[0]}


def backlog(
    client: OpenSearch,
    endpoints: Settings,
    alias: str,
    items: list[dict[str, Any]],
    prefix: str,
    timeout: float,
    pids: dict[str, int],
) -> dict[str, Any]:
    """Write ``items`` into a scratch table's stream, then time a new mapping draining it
    (CPU and LocalStack's profile sampled over that time only)."""
    lambdas = aws.client(endpoints, "lambda")
    function = endpoints.require(SYNC_FUNCTION_NAME)
    settings = _deployed_mapping(lambdas, function)
    ids = [item["book_id"]["S"] for item in items]
    with (
        aws.new_table(endpoints, stream=True, prefix="bench-backlog") as table,
        contextlib.ExitStack() as cleanup,
    ):
        _write_all(table.dynamodb, table.name, items)
        with MemorySampler(pids) as usage, Sampling(pids.get("localstack")) as sampling:
            began = time.monotonic()
            mapping = lambdas.create_event_source_mapping(
                EventSourceArn=table.stream_arn,
                FunctionName=function,
                StartingPosition="TRIM_HORIZON",
                **settings,
            )
            # Last in, first out: the items go (through the mapping), then the mapping.
            cleanup.callback(lambdas.delete_event_source_mapping, UUID=mapping["UUID"])
            books = aws.BooksTable(table.dynamodb, table.name)
            cleanup.callback(_clean_up, client, books, alias, ids)
            seen, first_seen = _wait_searchable(client, alias, prefix, len(items), began + timeout)
            seconds = time.monotonic() - began
    return {
        "items": len(items),
        "searchable": seen,
        "seconds": round(seconds, 2),
        "items_per_s": round(seen / seconds, 1),
        "first_searchable_s": None if first_seen is None else round(first_seen - began, 2),
        "mapping": settings,
        "cpu_pct_of_one_core": dict(usage.cpu_pct),
        **cpu_bound(usage.cpu_pct, seconds, seen),
        "localstack_profile": sampling.shares(),
    }


STACK_PROCESSES = ("opensearch", "localstack", "lambda_environments")
"""The processes that do a drain's work (the bench's own process and py-spy only watch)."""


def cpu_bound(cpu_pct: dict[str, float], seconds: float, items: int) -> dict[str, float]:
    """What the stack's processes spent per item, and the rate if every core of this machine
    did nothing else: the drain's CPU-bound limit, at its own cost per item."""
    core_seconds = sum(cpu_pct.get(name, 0.0) for name in STACK_PROCESSES) / 100 * seconds
    if not items or not core_seconds:
        return {}
    per_item = core_seconds / items
    cores = os.cpu_count() or 1
    return {
        "cpu_ms_per_1000_items": round(per_item * 1e6, 1),
        "cores": cores,
        "cpu_bound_items_per_s": round(cores / per_item, 1),
    }


def _wait_searchable(
    client: OpenSearch, alias: str, prefix: str, expected: int, deadline: float
) -> tuple[int, float | None]:
    """Poll until a search finds ``expected`` books under ``prefix``: the count last seen, and
    when a search first found any (``None`` if none)."""
    seen, first_seen = 0, None
    while time.monotonic() < deadline:
        seen = _searchable_count(client, alias, prefix)
        if seen and first_seen is None:
            first_seen = time.monotonic()
        if seen >= expected:
            break
        time.sleep(POLL_INTERVAL)
    return seen, first_seen


def _clean_up(client: OpenSearch, books: aws.BooksTable, alias: str, ids: list[str]) -> None:
    books.delete(ids)
    prefix = ids[0].rsplit("-", 1)[0] if ids else ""
    deadline = time.monotonic() + 300
    while _searchable_count(client, alias, prefix) and time.monotonic() < deadline:
        time.sleep(0.5)


def run(config: DrainConfig, endpoints: Settings, say: Callable[[str], None]) -> dict[str, Any]:
    _, table, alias = require_deployed(endpoints)
    client = opensearch_client(endpoints)
    books = aws.BooksTable(aws.client(endpoints, "dynamodb"), table)
    run_id = f"drain-{uuid.uuid4().hex[:8]}"
    items = _items(config, run_id, config.items)
    documents = _documents(items)
    say(f"drain: bulk ceiling for {len(items)} documents")
    ceiling(client, documents[:WARM_UP])  # untimed: the node's first bulk of a run is slow
    before = ceiling(client, documents)
    say(f"drain: {len(items)} table writes at once, timed until all are searchable")
    pids = stack_pids()
    try:
        with MemorySampler(pids) as usage, Sampling(pids.get("localstack")) as sampling:
            sync = burst(client, books, alias, items, f"{run_id}-", config.timeout)
    finally:
        say("drain: deleting the burst's items")
        _clean_up(client, books, alias, [item["book_id"]["S"] for item in items])
    after = ceiling(client, documents)
    bulk = (before + after) / 2

    backlog_run_id = f"backlog-{uuid.uuid4().hex[:8]}"
    backlog_items = _items(config, backlog_run_id, config.backlog_items)
    backlog_documents = _documents(backlog_items)
    say(f"drain: bulk ceiling for {len(backlog_items)} documents")
    backlog_before = ceiling(client, backlog_documents)
    say(f"drain: {len(backlog_items)} records waiting in a stream, a new mapping until searchable")
    drained = backlog(
        client, endpoints, alias, backlog_items, f"{backlog_run_id}-", config.timeout, pids
    )
    backlog_after = ceiling(client, backlog_documents)
    backlog_bulk = (backlog_before + backlog_after) / 2
    drained["ceiling_items_per_s"] = {
        "before": round(backlog_before, 1),
        "after": round(backlog_after, 1),
        "mean": round(backlog_bulk, 1),
    }
    drained["ratio"] = round(drained["items_per_s"] / backlog_bulk, 3)
    if "cpu_bound_items_per_s" in drained:
        drained["cpu_bound_ratio"] = round(drained["cpu_bound_items_per_s"] / backlog_bulk, 3)
    return {
        "config": {
            "items": config.items,
            "backlog_items": config.backlog_items,
            "writer_threads": WRITERS,
            "poll_interval_s": POLL_INTERVAL,
        },
        "sync": sync,
        "backlog": drained,
        "ceiling_items_per_s": {
            "before": round(before, 1),
            "after": round(after, 1),
            "mean": round(bulk, 1),
        },
        "cpu_pct_of_one_core": dict(usage.cpu_pct),
        "localstack_profile": sampling.shares(),
        "ratio": round(sync["items_per_s"] / bulk, 3),
        "write_ratio": round(sync["write_items_per_s"] / bulk, 3),
    }

"""End-to-end lag through the deployed stack: write at a steady rate, time until searchable.

Two phases, one after the other: books created through the REST API (API Gateway -> VTL ->
DynamoDB), then items put straight into the table with boto3. Either way the stream, the
event source mapping and the function carry them to the index. A pacer submits write ``i``
at ``start + i / rate`` to a small thread pool (so one slow response does not delay the
next write); a poller asks the alias, every ``POLL_INTERVAL`` seconds, which acknowledged ids
a *search* finds (``ids`` query: refreshed, tombstone-filtered, what a user sees).

Lag of an item = time its search hit came back - time its write was acknowledged. It is an
upper bound, too high by at most one poll interval plus one search round trip (~0.1 s). The
poller also asks ``_mget`` (real time, no refresh needed) for ids not yet stored, which splits
the lag into "indexed" (stream, event source mapping, function, ``_bulk``) and the wait for
the index's next refresh (``refresh_interval``, 1 s by default).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.common import BenchError, opensearch_client, percentile, require_deployed
from bench.streamgen import book, typed_book
from tests.support import aws
from tests.support.api import BooksApi
from tests.support.settings import Settings

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = ["QUICK", "E2eConfig", "run"]

POLL_INTERVAL = 0.1  # seconds between searches for pending ids
SEARCH_CHUNK = 500  # ids per search request
WRITERS = 8  # threads issuing writes; the pacer, not the pool, sets the rate


@dataclass(frozen=True)
class E2eConfig:
    """How many items per phase, at what rate (writes per second), after how many warm-up
    writes; ``drain_timeout`` is the longest wait after the last write for everything to
    become searchable."""

    items: int = 500
    rate: float = 50.0
    warmup_items: int = 10
    drain_timeout: float = 60.0
    seed: int = 20261127


QUICK = E2eConfig(items=50, warmup_items=3, drain_timeout=30.0)
"""``--quick``: a few items per phase."""


# --- writers ------------------------------------------------------------------------------


class ApiWriter:
    """Creates books through the deployed API (one HTTP session per thread)."""

    name = "api"

    def __init__(self, api_url: str) -> None:
        self.api = BooksApi(api_url)

    def write(self, body: dict[str, Any]) -> str:
        return self.api.create_ok(body)


class TableWriter:
    """Puts items straight into the table (boto3 clients are thread-safe)."""

    name = "table"

    def __init__(self, table: aws.BooksTable) -> None:
        self.table = table

    def write(self, body: dict[str, Any]) -> str:
        book_id = f"bench-{uuid.uuid4()}"
        item = typed_book({"book_id": book_id, **body})
        self.table.dynamodb.put_item(TableName=self.table.name, Item=item)
        return book_id


def _bodies(count: int, seed: int) -> list[dict[str, Any]]:
    """Books of about 1 KiB as the API takes them (no id: the API assigns it)."""
    import random

    rng = random.Random(seed)
    return [{k: v for k, v in book(rng, "").items() if k != "book_id"} for _ in range(count)]


# --- tracking -----------------------------------------------------------------------------


@dataclass
class Tracker:
    """Send, acknowledgement and visibility times by id (shared by writers and poller)."""

    sent: dict[str, float] = field(default_factory=dict)
    acked: dict[str, float] = field(default_factory=dict)
    indexed: dict[str, float] = field(default_factory=dict)
    """When a real-time GET first found the document."""
    visible: dict[str, float] = field(default_factory=dict)
    """When a search first found the document."""
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pending(self) -> list[str]:
        with self.lock:
            return [i for i in self.acked if i not in self.visible]

    def not_indexed(self) -> list[str]:
        with self.lock:
            return [i for i in self.acked if i not in self.indexed and i not in self.visible]

    def mark_visible(self, ids: set[str], when: float) -> None:
        with self.lock:
            for doc_id in ids:
                self.visible.setdefault(doc_id, when)
                self.indexed.setdefault(doc_id, when)

    def mark_indexed(self, ids: set[str], when: float) -> None:
        with self.lock:
            for doc_id in ids:
                self.indexed.setdefault(doc_id, when)


def _searchable(client: OpenSearch, alias: str, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), SEARCH_CHUNK):
        chunk = ids[start : start + SEARCH_CHUNK]
        response = client.search(
            index=alias,
            body={"query": {"ids": {"values": chunk}}, "size": len(chunk), "_source": False},
        )
        found.update(hit["_id"] for hit in response["hits"]["hits"])
    return found


def _stored(client: OpenSearch, alias: str, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), SEARCH_CHUNK):
        response = client.mget(
            index=alias, body={"ids": ids[start : start + SEARCH_CHUNK]}, _source=False
        )
        found.update(doc["_id"] for doc in response["docs"] if doc.get("found"))
    return found


def _poll(client: OpenSearch, alias: str, tracker: Tracker, stop: threading.Event) -> None:
    while not stop.is_set():
        not_indexed = tracker.not_indexed()
        if not_indexed:
            tracker.mark_indexed(_stored(client, alias, not_indexed), time.monotonic())
        pending = tracker.pending()
        if pending:
            tracker.mark_visible(_searchable(client, alias, pending), time.monotonic())
        stop.wait(POLL_INTERVAL)


def _write_one(writer: ApiWriter | TableWriter, body: dict[str, Any], tracker: Tracker) -> None:
    sent = time.monotonic()
    try:
        doc_id = writer.write(body)
    except Exception as error:  # requests and botocore raise many types; all count as failed
        with tracker.lock:
            tracker.errors.append(f"{type(error).__name__}: {str(error)[:200]}")
        return
    acked = time.monotonic()
    with tracker.lock:
        tracker.sent[doc_id] = sent
        tracker.acked[doc_id] = acked


def _paced_writes(
    writer: ApiWriter | TableWriter, bodies: list[dict[str, Any]], rate: float, tracker: Tracker
) -> None:
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        start = time.monotonic()
        for i, body in enumerate(bodies):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(_write_one, writer, body, tracker)


def _wait_visible(tracker: Tracker, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while tracker.pending() and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)


# --- a phase ------------------------------------------------------------------------------


def measure_phase(
    client: OpenSearch,
    alias: str,
    writer: ApiWriter | TableWriter,
    bodies: list[dict[str, Any]],
    config: E2eConfig,
) -> tuple[dict[str, Any], list[str]]:
    """Write ``bodies`` at ``config.rate``; the figures, and the ids written (to clean up)."""
    tracker = Tracker()
    stop = threading.Event()
    poller = threading.Thread(target=_poll, args=(client, alias, tracker, stop), daemon=True)
    poller.start()
    try:
        _paced_writes(writer, bodies, config.rate, tracker)
        _wait_visible(tracker, config.drain_timeout)
    finally:
        stop.set()
        poller.join()
    return _figures(tracker, config), list(tracker.acked)


def _figures(tracker: Tracker, config: E2eConfig) -> dict[str, Any]:
    lags = [tracker.visible[i] - tracker.acked[i] for i in tracker.visible]
    indexed_lags = [tracker.indexed[i] - tracker.acked[i] for i in tracker.visible]
    latencies = [tracker.acked[i] - tracker.sent[i] for i in tracker.acked]
    first_sent = min(tracker.sent.values(), default=0.0)
    last_ack = max(tracker.acked.values(), default=0.0)
    last_visible = max(tracker.visible.values(), default=0.0)
    written = len(tracker.acked)
    result: dict[str, Any] = {
        "items": config.items,
        "target_rate": config.rate,
        "written": written,
        "write_errors": len(tracker.errors),
        "first_errors": tracker.errors[:3],
        "not_searchable": written - len(tracker.visible),
        "write_rate": _rate(written, last_ack - first_sent),
        "sustained_items_per_s": _rate(len(tracker.visible), last_visible - first_sent),
        "write_latency_p50_s": _rounded(percentile(latencies, 50)) if latencies else None,
        "write_latency_p95_s": _rounded(percentile(latencies, 95)) if latencies else None,
    }
    if lags:
        result.update(
            lag_p50_s=_rounded(percentile(lags, 50)),
            lag_p95_s=_rounded(percentile(lags, 95)),
            lag_max_s=_rounded(max(lags)),
            lag_min_s=_rounded(min(lags)),
            indexed_lag_p50_s=_rounded(percentile(indexed_lags, 50)),
            indexed_lag_p95_s=_rounded(percentile(indexed_lags, 95)),
        )
    return result


def _rate(count: int, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds > 0 else None


def _rounded(value: float) -> float:
    return round(value, 3)


# --- set-up and clean-up -----------------------------------------------------------------


def _warm_up(
    client: OpenSearch,
    alias: str,
    writer: ApiWriter | TableWriter,
    count: int,
    table: aws.BooksTable,
) -> None:
    """A few writes first: the function's first invocation starts its environment."""
    tracker = Tracker()
    for body in _bodies(count, seed=1):
        _write_one(writer, body, tracker)
    deadline = time.monotonic() + 60
    while tracker.pending() and time.monotonic() < deadline:
        tracker.mark_visible(_searchable(client, alias, tracker.pending()), time.monotonic())
        time.sleep(0.2)
    if tracker.errors or tracker.pending():
        raise BenchError(
            f"warm-up writes did not reach the index within 60 s (errors: {tracker.errors[:2]});"
            " is the system deployed (`make deploy`) and the function healthy?"
        )
    _clean_up(client, alias, table, list(tracker.acked))


def _clean_up(client: OpenSearch, alias: str, table: aws.BooksTable, ids: list[str]) -> None:
    """Delete what the benchmark wrote, and wait until the index has followed, so that the
    next phase does not measure the tail of this one."""
    table.delete(ids)
    deadline = time.monotonic() + 120
    while _searchable(client, alias, ids) and time.monotonic() < deadline:
        time.sleep(0.5)


def run(
    config: E2eConfig,
    endpoints: Settings,
    say: Callable[[str], None],
    watch: Callable[[], AbstractContextManager[Any]] | None = None,
) -> dict[str, Any]:
    """Both phases. ``watch`` makes a context manager that samples the stack's processes
    during each phase; its ``peak`` and ``cpu_pct`` go into that phase's figures."""
    api_url, table, alias = require_deployed(endpoints)
    client = opensearch_client(endpoints)
    books_table = aws.BooksTable(aws.client(endpoints, "dynamodb"), table)
    results: dict[str, Any] = {
        "config": {
            "items_per_phase": config.items,
            "rate": config.rate,
            "poll_interval_s": POLL_INTERVAL,
            "writer_threads": WRITERS,
        }
    }
    writers: list[ApiWriter | TableWriter] = [ApiWriter(api_url), TableWriter(books_table)]
    for number, writer in enumerate(writers):
        _warm_up(client, alias, writer, config.warmup_items, books_table)
        bodies = _bodies(config.items, config.seed + number)
        say(f"e2e: {config.items} writes through the {writer.name} at {config.rate:.0f}/s")
        with watch() if watch else nullcontext() as sampler:
            figures, ids = measure_phase(client, alias, writer, bodies, config)
        if sampler is not None:
            figures["peak_rss_mib"] = dict(sampler.peak)
            figures["cpu_pct_of_one_core"] = dict(sampler.cpu_pct)
        results[writer.name] = figures
        _clean_up(client, alias, books_table, ids)
    return results

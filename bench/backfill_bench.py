"""Backfill throughput against the bulk ceiling, on the same data and the same node.

A scratch table (no stream) is filled with book-like items (every attribute type, 38-digit
numbers), then:

``backfill``
    `backfill.run_backfill` as the CLI runs it: parallel scan (``SEGMENTS`` workers), the
    function's mapping, the function's `BulkWriter` (external versions), into a fresh index.
``scan``
    The parallel scan alone (same segments, nothing written): the DynamoDB side's share.
``bulk`` / ``parallel_bulk``
    ``opensearchpy.helpers.bulk`` (one thread) and ``helpers.parallel_bulk`` (``SEGMENTS``
    threads) sending the very documents the backfill wrote (already mapped and serialised, no
    versions, same 1000-action chunks) into another fresh index: the cost of ``_bulk`` alone.

Rates are items per second of wall time, setup excluded; each index is checked to hold every
item afterwards. ``ROUNDS`` rounds of all four, after one untimed warm-up bulk; the ratios are
the median (and range) of each round's own. Needs the running stack and its settings
(``eval "$(make -s env)"``)::

    python -m bench.backfill_bench [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from opensearchpy import OpenSearch, helpers

from ddb_opensearch_sync.index.client import make_client
from ddb_opensearch_sync.index.writer import BulkWriter
from ddb_opensearch_sync.ops.backfill import BackfillOptions, run_backfill
from ddb_opensearch_sync.ops.scan import ParallelScan
from ddb_opensearch_sync.ops.table import TableInfo, item_change
from tests.support.aws import new_table
from tests.support.opensearch import scratch_alias
from tests.support.settings import Settings

SEGMENTS = 4
CHUNK = 1000
ROUNDS = 3
WARM_UP = 2000


def _item(number: int) -> dict[str, Any]:
    return {
        "book_id": f"book-{number:07d}",
        "title": f"The book number {number}",
        "author": f"Author {number % 97}",
        "summary": "A story of tables and indices, kept in step. " * 4,
        "year": Decimal(1900 + number % 120),
        "price": Decimal("12345678901234567890.123456789") + number,
        "tags": {"fiction", f"tag{number % 13}"},
        "cover": bytes([number % 256]) * 16,
        "in_print": number % 2 == 0,
        "meta": {"pages": Decimal(100 + number % 900), "series": None},
    }


def _count(client: OpenSearch, alias: str) -> int:
    client.indices.refresh(index=alias)
    return int(client.count(index=alias)["count"])


def _scan_all(dynamodb: Any, table: TableInfo) -> list[dict[str, Any]]:
    scan = ParallelScan(dynamodb, table.name, SEGMENTS)

    def segment(number: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for items, _ in scan.pages(number):
            found.extend(items)
        return found

    with ThreadPoolExecutor(SEGMENTS) as pool:
        return [item for part in pool.map(segment, range(SEGMENTS)) for item in part]


def _ceiling(client: OpenSearch, documents: list[tuple[str, str]], parallel: bool) -> float:
    with scratch_alias(client, "bench-ceiling") as alias:
        actions = ({"_index": alias, "_id": i, "_source": d} for i, d in documents)
        began = time.perf_counter()
        if parallel:
            for ok, info in helpers.parallel_bulk(
                client, actions, thread_count=SEGMENTS, chunk_size=CHUNK
            ):
                if not ok:
                    raise RuntimeError(f"bulk item failed: {info}")
        else:
            helpers.bulk(client, actions, chunk_size=CHUNK)
        seconds = time.perf_counter() - began
        if _count(client, alias) != len(documents):
            raise RuntimeError("the ceiling run lost documents")
        return seconds


def _backfill(client: OpenSearch, dynamodb: Any, table: TableInfo, items: int) -> float:
    """Seconds of `run_backfill` into a fresh index, checked to hold every item."""
    with scratch_alias(client, "bench-backfill") as alias:
        writer = BulkWriter(client, alias)
        began = time.perf_counter()
        report = run_backfill(dynamodb, writer, table, BackfillOptions(segments=SEGMENTS))
        seconds = time.perf_counter() - began
        if report.written != items or _count(client, alias) != items:
            raise RuntimeError(f"the backfill did not write every item: {report}")
    return seconds


def run(quick: bool = False) -> dict[str, Any]:
    """Measure in ``ROUNDS`` rounds, each the backfill then both ceilings (side by side, so that
    the node warming up or load from elsewhere weighs on all of them); rates in items/s are
    medians, ratios the median [min-max] of the rounds' own."""
    items = 2_000 if quick else 20_000
    rounds = 1 if quick else ROUNDS
    settings = Settings.from_env()
    client = make_client(settings.opensearch_url, timeout=120)
    scratch = new_table(settings, stream=False, items=map(_item, range(items)), prefix="bench")
    seconds: dict[str, list[float]] = {"backfill": [], "scan": [], "bulk": [], "parallel": []}
    with scratch as created:
        dynamodb = created.dynamodb
        table = TableInfo.describe(dynamodb, created.name)
        documents = []
        for item in _scan_all(dynamodb, table):
            change = item_change(item, table, encoded=True)
            documents.append((change.doc_id, change.document or ""))
        _ceiling(client, documents[:WARM_UP], parallel=False)  # untimed: the node's first bulk
        for _ in range(rounds):
            seconds["backfill"].append(_backfill(client, dynamodb, table, items))
            began = time.perf_counter()
            _scan_all(dynamodb, table)
            seconds["scan"].append(time.perf_counter() - began)
            seconds["bulk"].append(_ceiling(client, documents, parallel=False))
            seconds["parallel"].append(_ceiling(client, documents, parallel=True))

    def rate(name: str) -> float:
        return round(items / statistics.median(seconds[name]), 1)

    def ratio(ceiling: str) -> dict[str, float]:
        ratios = [c / b for c, b in zip(seconds[ceiling], seconds["backfill"], strict=True)]
        return {
            "median": round(statistics.median(ratios), 2),
            "min": round(min(ratios), 2),
            "max": round(max(ratios), 2),
        }

    vs_bulk, vs_parallel = ratio("bulk"), ratio("parallel")
    return {
        "items": items,
        "segments": SEGMENTS,
        "rounds": rounds,
        "backfill_items_per_s": rate("backfill"),
        "scan_items_per_s": rate("scan"),
        "bulk_ceiling_items_per_s": rate("bulk"),
        "parallel_bulk_ceiling_items_per_s": rate("parallel"),
        "backfill_vs_bulk": vs_bulk["median"],
        "backfill_vs_bulk_range": [vs_bulk["min"], vs_bulk["max"]],
        "backfill_vs_parallel_bulk": vs_parallel["median"],
        "backfill_vs_parallel_bulk_range": [vs_parallel["min"], vs_parallel["max"]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 items instead of 20,000")
    result = run(quick=parser.parse_args(argv).quick)
    for key, value in result.items():
        print(f"{key:36} {value}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

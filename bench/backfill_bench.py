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
item afterwards. Needs the running stack and its settings (``eval "$(make -s env)"``)::

    python bench/backfill_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
from opensearchpy import OpenSearch, helpers

from ddb_opensearch_sync.backfill import BackfillOptions, run_backfill
from ddb_opensearch_sync.client import make_client
from ddb_opensearch_sync.index import setup_index, template_name
from ddb_opensearch_sync.table import TableInfo, item_change, scan_pages
from ddb_opensearch_sync.writer import BulkWriter

ROOT = Path(__file__).resolve().parent.parent

SEGMENTS = 4
CHUNK = 1000


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


@contextmanager
def _table(items: int) -> Iterator[tuple[Any, str]]:
    dynamodb = boto3.client("dynamodb")
    name = f"bench-backfill-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "book_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "book_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        with boto3.resource("dynamodb").Table(name).batch_writer() as batch:
            for number in range(items):
                batch.put_item(Item=_item(number))
        yield dynamodb, name
    finally:
        dynamodb.delete_table(TableName=name)


@contextmanager
def _alias(client: OpenSearch, label: str) -> Iterator[str]:
    alias = f"bench-{label}-{uuid.uuid4().hex[:8]}"
    setup_index(client, alias)
    try:
        yield alias
    finally:
        client.indices.delete(index=f"{alias}-v*", ignore_unavailable=True)
        client.indices.delete_index_template(name=template_name(alias), ignore=404)


def _count(client: OpenSearch, alias: str) -> int:
    client.indices.refresh(index=alias)
    return int(client.count(index=alias)["count"])


def _scan_all(dynamodb: Any, table: TableInfo) -> list[dict[str, Any]]:
    def segment(number: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for items, _ in scan_pages(dynamodb, table.name, segment=number, total_segments=SEGMENTS):
            found.extend(items)
        return found

    with ThreadPoolExecutor(SEGMENTS) as pool:
        return [item for part in pool.map(segment, range(SEGMENTS)) for item in part]


def _ceiling(client: OpenSearch, documents: list[tuple[str, str]], parallel: bool) -> float:
    with _alias(client, "ceiling") as alias:
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


def run(quick: bool = False) -> dict[str, Any]:
    """Measure once; rates in items/s."""
    items = 2_000 if quick else 20_000
    url = os.environ.get("OPENSEARCH_URL") or os.environ["OPENSEARCH_ENDPOINT"]
    client = make_client(url, timeout=120)
    with _table(items) as (dynamodb, name):
        table = TableInfo.describe(dynamodb, name)

        with _alias(client, "backfill") as alias:
            writer = BulkWriter(client, alias)
            began = time.perf_counter()
            report = run_backfill(dynamodb, writer, table, BackfillOptions(segments=SEGMENTS))
            backfill_seconds = time.perf_counter() - began
            if report.written != items or _count(client, alias) != items:
                raise RuntimeError(f"the backfill did not write every item: {report}")

        began = time.perf_counter()
        scanned = _scan_all(dynamodb, table)
        scan_seconds = time.perf_counter() - began
        documents = []
        for item in scanned:
            change = item_change(item, table)
            documents.append((change.doc_id, change.document or ""))

        bulk_seconds = _ceiling(client, documents, parallel=False)
        parallel_seconds = _ceiling(client, documents, parallel=True)

    def rate(seconds: float) -> float:
        return round(items / seconds, 1)

    return {
        "items": items,
        "segments": SEGMENTS,
        "backfill_items_per_s": rate(backfill_seconds),
        "scan_items_per_s": rate(scan_seconds),
        "bulk_ceiling_items_per_s": rate(bulk_seconds),
        "parallel_bulk_ceiling_items_per_s": rate(parallel_seconds),
        "backfill_vs_bulk": round(bulk_seconds / backfill_seconds, 2),
        "backfill_vs_parallel_bulk": round(parallel_seconds / backfill_seconds, 2),
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

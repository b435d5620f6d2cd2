"""The operator commands' parallel scan against LocalStack: pages in the stream event's
encoding, read one ahead, without changing what other calls on the same client answer."""

from __future__ import annotations

import base64

import pytest

from ddb_opensearch_sync.ops.scan import ParallelScan
from ddb_opensearch_sync.ops.table import decode_key, encode_key
from tests.support.aws import Table, book

pytestmark = pytest.mark.stack

ITEMS = 60


def scanned(scan: ParallelScan, segment: int, start: dict | None = None) -> list[dict]:
    return [item for items, _ in scan.pages(segment, start) for item in items]


def test_pages_hold_items_as_the_stream_event_encodes_them(filled_table: Table) -> None:
    scan = ParallelScan(filled_table.dynamodb, filled_table.name, segments=2, page_size=7)

    items = scanned(scan, 0) + scanned(scan, 1)

    assert sorted(item["book_id"]["S"] for item in items) == [
        book(n)["book_id"] for n in range(ITEMS)
    ]
    seven = next(item for item in items if item["book_id"]["S"] == "book-00007")
    assert seven["cover"] == {"B": base64.b64encode(book(7)["cover"]).decode()}
    assert seven["price"] == {"N": str(book(7)["price"])}  # every digit, as sent


def test_other_calls_on_the_same_client_are_parsed_as_usual(filled_table: Table) -> None:
    scan = ParallelScan(filled_table.dynamodb, filled_table.name, segments=1)
    scanned(scan, 0)

    (item,) = filled_table.dynamodb.scan(TableName=filled_table.name, Limit=1)["Items"]
    number = int(item["book_id"]["S"].removeprefix("book-"))

    assert item["cover"]["B"] == book(number)["cover"]  # bytes, as botocore gives them


def test_a_page_key_resumes_the_segment_where_it_stopped(filled_table: Table) -> None:
    scan = ParallelScan(filled_table.dynamodb, filled_table.name, segments=1, page_size=9)
    pages = scan.pages(0)
    first, key = next(pages)
    pages.close()  # a caller stopping early: the page read ahead is dropped

    # The checkpoint round trip the backfill makes, then the rest of the segment.
    rest = scanned(scan, 0, decode_key(encode_key(key)))

    ids = [item["book_id"]["S"] for item in first + rest]
    assert sorted(ids) == sorted(book(n)["book_id"] for n in range(ITEMS))
    assert len(ids) == ITEMS

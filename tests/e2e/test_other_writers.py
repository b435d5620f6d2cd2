"""End to end: items written to the table by other writers than the API (here boto3) reach the
index through the deployed stream, event source mapping and function, losslessly.

DynamoDB is schemaless: such items carry attributes the API does not know, numbers of up to 38
significant digits, nested maps and lists, sets, binary. The documents must hold exactly those
values (numbers as exact JSON tokens, sets as sorted arrays, binary as base64), and the exact
number must also be what the index matches on.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest

from tests.support.aws import BooksTable
from tests.support.opensearch import (
    Document,
    SearchIndex,
    wait_until_not_searchable,
    wait_until_searchable,
    wait_until_searchable_as,
)

pytestmark = pytest.mark.deployed

COVER = b"\x89PNG\r\n\x1a\n\x00\xff"  # binary, not valid UTF-8
N38 = "12345678901234567890123456789012345678"  # 38 significant digits: more than a double
FRACTION38 = "-0.12345678901234567890123456789012345678"
TINY = "1E-130"  # DynamoDB's smallest exponent

PutItem = Callable[[Mapping[str, Any]], str]


@pytest.fixture()
def put_items(books_table: BooksTable) -> Iterator[PutItem]:
    """Put typed items straight into the table; whatever is left is deleted afterwards, so the
    API's list (which other suites page through) sees only well-formed books."""
    written: list[str] = []

    def put(item: Mapping[str, Any]) -> str:
        books_table.dynamodb.put_item(TableName=books_table.name, Item=dict(item))
        written.append(item["book_id"]["S"])
        return str(item["book_id"]["S"])

    yield put
    books_table.delete(sorted(set(written)))


def direct_item(marker: str, name: str, **attributes: Any) -> dict[str, Any]:
    """A typed item titled by ``name``, as boto3 writes it, with extra typed ``attributes``."""
    return {
        "book_id": {"S": f"direct-{marker}-{name}"},
        "title": {"S": f"{name.title()} {marker}"},
        "author": {"S": "boto3"},
        **attributes,
    }


def rich_item(book_id: str, marker: str) -> dict[str, Any]:
    """An item with every DynamoDB type and attributes the API does not know."""
    return {
        "book_id": {"S": book_id},
        "title": {"S": f"Written directly {marker}"},
        "author": {"S": "boto3"},
        "marker": {"S": marker},
        "n38": {"N": N38},
        "fraction38": {"N": FRACTION38},
        "tiny": {"N": TINY},
        "price": {"N": "12"},
        "ratings": {"NS": ["5", "4.5", "-1", "9" * 38]},
        "formats": {"SS": ["paperback", "ebook", "audio"]},
        "in_print": {"BOOL": True},
        "notes": {"NULL": True},
        "shelf": {
            "M": {
                "room": {"S": "B"},
                "position": {"M": {"row": {"N": "3"}, "col": {"N": "-1"}}},
                "labels": {"L": [{"S": "new"}, {"S": "signed"}, {"NULL": True}]},
                "weights": {"L": [{"N": "1.5"}, {"N": N38}]},
            }
        },
        "history": {"L": [{"M": {"event": {"S": "printed"}, "run": {"N": N38}}}, {"L": []}]},
    }


def rich_document(book_id: str, marker: str) -> Document:
    """The plain document ``rich_item`` must become, written out by hand."""
    return {
        "book_id": book_id,
        "title": f"Written directly {marker}",
        "author": "boto3",
        "marker": marker,
        "n38": Decimal(N38),
        "fraction38": Decimal(FRACTION38),
        "tiny": Decimal(TINY),
        "price": 12,
        "ratings": [-1, Decimal("4.5"), 5, Decimal("9" * 38)],
        "formats": ["audio", "ebook", "paperback"],
        "in_print": True,
        "notes": None,
        "shelf": {
            "room": "B",
            "position": {"row": 3, "col": -1},
            "labels": ["new", "signed", None],
            "weights": [Decimal("1.5"), Decimal(N38)],
        },
        "history": [{"event": "printed", "run": Decimal(N38)}, []],
    }


def test_items_written_directly_reach_the_index_losslessly(
    put_items: PutItem, search_index: SearchIndex, marker: str
) -> None:
    rich_id, decimal_id = f"direct-{marker}-rich", f"direct-{marker}-decimal"
    decimal_item = {
        "book_id": {"S": decimal_id},
        "title": {"S": f"Priced exactly {marker}"},
        "author": {"S": "boto3"},
        "marker": {"S": marker},
        "price": {"N": "12.75"},  # the same attribute, an integer in the other item
    }

    put_items(rich_item(rich_id, marker))
    put_items(decimal_item)

    wait_until_searchable_as(
        search_index,
        {
            rich_id: rich_document(rich_id, marker),
            decimal_id: {
                "book_id": decimal_id,
                "title": f"Priced exactly {marker}",
                "author": "boto3",
                "marker": marker,
                "price": Decimal("12.75"),
            },
        },
    )
    # The stored source holds the digits as JSON number tokens, not through a float.
    raw = search_index.stored_text(rich_id) or ""
    for token in (f":{N38}", f":{FRACTION38}", f":{TINY}", "9" * 38):
        assert token in raw, f"{token} not in {raw}"
    # The index matches the exact number, never a rounded neighbour ...
    mine = {"term": {"marker": marker}}
    exact = {"bool": {"filter": [mine, {"term": {"n38": N38}}]}}
    neighbour = {"bool": {"filter": [mine, {"term": {"n38": N38[:-1] + "9"}}]}}
    assert search_index.search_ids(exact) == [rich_id]
    assert search_index.search_ids(neighbour) == []
    # ... and 12.75 after an integer in the same attribute was not truncated to 12.
    above = {"bool": {"filter": [mine, {"range": {"price.num": {"gt": 12.5}}}]}}
    assert search_index.search_ids(above) == [decimal_id]
    assert search_index.search_ids({"bool": {"filter": [mine, {"term": {"price": "12.75"}}]}}) == [
        decimal_id
    ]


def test_items_modified_and_deleted_directly_follow_in_the_index(
    put_items: PutItem, books_table: BooksTable, search_index: SearchIndex, marker: str
) -> None:
    book_id = put_items(rich_item(f"direct-{marker}-changing", marker))
    wait_until_searchable_as(search_index, {book_id: rich_document(book_id, marker)})

    books_table.dynamodb.update_item(
        TableName=books_table.name,
        Key={"book_id": {"S": book_id}},
        UpdateExpression="SET shelf.room = :room, edition = :edition ADD ratings :more "
        "REMOVE formats",
        ExpressionAttributeValues={
            ":room": {"S": "C"},
            ":edition": {"N": FRACTION38[1:]},
            ":more": {"NS": ["0.5"]},
        },
    )

    changed = rich_document(book_id, marker)
    del changed["formats"]
    changed["shelf"]["room"] = "C"
    changed["edition"] = Decimal(FRACTION38[1:])
    changed["ratings"] = [-1, Decimal("0.5"), Decimal("4.5"), 5, Decimal("9" * 38)]
    wait_until_searchable_as(search_index, {book_id: changed})

    books_table.delete([book_id])

    wait_until_not_searchable(search_index, [book_id])
    tombstone = search_index.stored(book_id)
    assert tombstone is not None and tombstone["_sync"]["deleted"] is True


def test_binary_values_reach_the_index_as_base64_of_their_bytes(
    put_items: PutItem, search_index: SearchIndex, marker: str
) -> None:
    book_id = put_items(
        direct_item(
            marker,
            "binary",
            cover={"B": COVER},
            thumbnails={"BS": [b"\x01", b"\xff\x00"]},
        )
    )

    document = wait_until_searchable(search_index, book_id)

    assert document["cover"] == base64.b64encode(COVER).decode()
    assert document["thumbnails"] == sorted(["AQ==", "/wA="])


def test_a_list_of_mixed_types_is_indexed(
    put_items: PutItem, search_index: SearchIndex, marker: str
) -> None:
    mixed = {f"mixed_{marker}": {"L": [{"S": "one"}, {"N": "2"}, {"BOOL": True}]}}
    mixed_id = put_items(direct_item(marker, "mixed", **mixed))
    # Written after the mixed item: once it is searchable, the function is past the mixed one.
    sentinel_id = put_items(direct_item(marker, "sentinel"))

    wait_until_searchable(search_index, sentinel_id)

    stored = search_index.stored(mixed_id)
    assert stored is not None, f"{mixed_id} was not indexed (see the dead-letter queue)"
    assert stored[f"mixed_{marker}"] == ["one", 2, True]

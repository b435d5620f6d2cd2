"""Paging through the API past a book whose id is as long as DynamoDB allows (2048 bytes):
written straight into the table (the API makes short ids, other writers need not), found by
search, and its page's next_token accepted by the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.api import BooksApi
from tests.support.aws import BooksTable
from tests.support.polling import eventually

pytestmark = pytest.mark.deployed


@pytest.fixture
def long_ids(books_table: BooksTable, marker: str) -> Iterator[list[str]]:
    # Quotes and 2-byte letters: the characters that grew most in the old token's JSON.
    ids = ['"' * 2047 + "a", "\u00e9" * 1023 + "bc"]
    assert all(len(book_id.encode()) == 2048 for book_id in ids)
    for book_id in ids:
        item = {"book_id": {"S": book_id}, "title": {"S": "Long"}, "author": {"S": "Writer"}}
        item["tags"] = {"L": [{"S": marker}]}
        books_table.dynamodb.put_item(TableName=books_table.name, Item=item)
    yield ids
    books_table.delete(ids)


def test_a_page_ending_on_the_longest_id_has_a_next_token_the_api_accepts(
    books_api: BooksApi, long_ids: list[str], marker: str
):
    def first_page() -> dict:
        response = books_api.query("search", [("tag", marker), ("size", 1)])
        assert response.status_code == 200, response.text
        return response.json()

    page = eventually(first_page, lambda p: p["total"] == 2, "both long-id books searchable", 60)
    assert page["next_token"] is not None

    response = books_api.query(
        "search", [("tag", marker), ("size", 1), ("next_token", page["next_token"])]
    )

    assert response.status_code == 200, response.text
    seen = [page["items"][0]["book_id"], response.json()["items"][0]["book_id"]]
    assert sorted(seen) == sorted(long_ids)

"""The deployed books API, driven over HTTP, with DynamoDB read directly to see what it wrote.

API Gateway integrates each operation with DynamoDB through VTL mapping templates
(infra/modules/api/openapi.yaml), so these tests are the templates' only executable spec:
status codes, plain-JSON bodies, JSON-schema validation (400 and nothing written), strings that
must reach DynamoDB verbatim whatever they contain, 404s, and paging with a continuation token
that cannot be tampered with.

Every book a test writes carries a fresh marker, so tests stay independent of whatever else is
in the table (other suites write to it too) and "nothing was written" is checkable.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests

from ddb_opensearch_sync.search.consistency import WRITE_ATTRIBUTE, parse_sync_token
from tests.support.api import TIMEOUT, BooksApi
from tests.support.aws import BooksTable

pytestmark = pytest.mark.deployed


NASTY_STRINGS = {
    "double quote": 'say "hi"',
    "backslash": "back\\slash \\n \\u0041",
    "single quote": "it's O'Reilly's",
    "newlines": "line 1\nline 2\r\nline 3\ttab",
    "dollar": "costs $5, $input.json('$') and $context.requestId",
    "velocity directive": '#set($x = "y") #if(true)boom#end ## comment',
    "json injection": '"}, "x": {"S":"y',
    "key injection": '"}}, "book_id": {"S": "other"}, "z": {"S": "',
    "unicode": "Ærøskøbing ✓ 漢字 🙂",
    "blank inside": "  padded  ",
}


# ---------------------------------------------------------------------------------------------
# fixtures and helpers
# ---------------------------------------------------------------------------------------------


class Books(BooksApi):
    """The API under test, plus direct reads of its table."""

    def __init__(self, api_url: str, table: BooksTable) -> None:
        super().__init__(api_url)
        self.table = table

    def stored(self, book_id: str) -> dict[str, Any] | None:
        """The item, its write stamp aside (checked on its own: it changes with every write)."""
        item = self.table.item(book_id)
        if item is not None:
            item.pop(WRITE_ATTRIBUTE, None)
        return item

    def stamp(self, book_id: str) -> str | None:
        item = self.table.item(book_id)
        return None if item is None else item.get(WRITE_ATTRIBUTE, {}).get("S")

    def stored_with(self, marker: str) -> list[dict[str, Any]]:
        """Every item in the table whose JSON mentions the marker."""
        return self.table.mentioning(marker)


@pytest.fixture()
def books(api_url: str, books_table: BooksTable) -> Books:
    return Books(api_url, books_table)


def typed(book_id: str, book: dict[str, Any]) -> dict[str, Any]:
    """The DynamoDB item the API must store for a valid book body: these attributes and no more."""
    item: dict[str, Any] = {"book_id": {"S": book_id}}
    for name, value in book.items():
        if name == "year":
            item[name] = {"N": str(value)}
        elif name == "tags":
            item[name] = {"L": [{"S": tag} for tag in value]}
        else:
            item[name] = {"S": value}
    return item


def full_book(marker: str) -> dict[str, Any]:
    return {
        "title": f"The Left Hand of Darkness {marker}",
        "author": "Ursula K. Le Guin",
        "year": 1969,
        "isbn": "978-0-441-47812-5",
        "tags": ["science fiction", "classic", marker],
        "summary": f"An envoy on the planet Gethen. {marker}",
    }


# ---------------------------------------------------------------------------------------------
# each operation
# ---------------------------------------------------------------------------------------------


def test_create_stores_exactly_the_book_under_a_server_generated_id(
    books: Books, marker: str
) -> None:
    book = full_book(marker)

    response = books.create(book)

    assert response.status_code == 201, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    book_id = response.json()["book_id"]
    assert set(response.json()) == {"book_id", "sync_token"}
    assert books.stored(book_id) == typed(book_id, book)


def test_create_with_required_fields_only_stores_no_optional_attribute(
    books: Books, marker: str
) -> None:
    book = {"title": marker, "author": "Anonymous"}

    book_id = books.create_ok(book)

    assert books.stored(book_id) == typed(book_id, book)


def test_create_twice_makes_two_books(books: Books, marker: str) -> None:
    book = {"title": marker, "author": "Twin"}

    first, second = books.create_ok(book), books.create_ok(book)

    assert first != second
    assert {item["book_id"]["S"] for item in books.stored_with(marker)} == {first, second}


def test_create_keeps_edge_values_of_optional_fields(books: Books, marker: str) -> None:
    book = {"title": marker, "author": "Edge", "year": 0, "tags": []}

    book_id = books.create_ok(book)

    assert books.stored(book_id) == typed(book_id, book)
    assert books.get(book_id).json() == {"book_id": book_id, **book}


def test_get_returns_the_book_as_plain_json(books: Books, marker: str) -> None:
    book = full_book(marker)
    book_id = books.create_ok(book)

    response = books.get(book_id)

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"book_id": book_id, **book}


def test_every_write_answers_a_sync_token_naming_the_change_it_made(
    books: Books, marker: str
) -> None:
    created = books.create({"title": marker, "author": "First"}).json()
    book_id = created["book_id"]
    made = parse_sync_token(created["sync_token"])
    assert (made.kind, made.book_id, made.stamp) == ("w", book_id, books.stamp(book_id))

    replaced = parse_sync_token(
        books.replace(book_id, {"title": marker, "author": "Second"}).json()["sync_token"]
    )
    assert (replaced.kind, replaced.book_id, replaced.stamp) == ("w", book_id, books.stamp(book_id))
    assert replaced.stamp != made.stamp and replaced.epoch_ms >= made.epoch_ms

    deleted = parse_sync_token(books.delete(book_id).json()["sync_token"])
    assert (deleted.kind, deleted.book_id) == ("d", book_id)
    assert deleted.epoch_ms >= replaced.epoch_ms and deleted.request_id != replaced.request_id


def test_get_of_an_absent_id_is_404(books: Books) -> None:
    response = books.get(str(uuid.uuid4()))

    assert response.status_code == 404
    assert response.json() == {"message": "Book not found"}


def test_put_replaces_the_whole_book(books: Books, marker: str) -> None:
    book_id = books.create_ok(full_book(marker))
    replacement = {"title": f"Second edition {marker}", "author": "Le Guin", "year": 1976}

    response = books.replace(book_id, replacement)

    assert response.status_code == 200, response.text
    assert set(response.json()) == {"book_id", "sync_token"}
    assert response.json()["book_id"] == book_id
    # Optional attributes the replacement lacks are gone: a full replace, not a merge.
    assert books.stored(book_id) == typed(book_id, replacement)
    assert books.get(book_id).json() == {"book_id": book_id, **replacement}


def test_put_of_an_absent_id_is_404_and_creates_nothing(books: Books, marker: str) -> None:
    absent = str(uuid.uuid4())

    response = books.replace(absent, {"title": marker, "author": "Nobody"})

    assert response.status_code == 404
    assert response.json() == {"message": "Book not found"}
    assert books.stored(absent) is None
    assert books.stored_with(marker) == []


def test_delete_removes_the_book_and_a_second_delete_is_404(books: Books, marker: str) -> None:
    book_id = books.create_ok({"title": marker, "author": "Gone"})

    first = books.delete(book_id)
    second = books.delete(book_id)

    assert first.status_code == 200
    assert first.json()["book_id"] == book_id
    assert books.stored(book_id) is None
    assert books.get(book_id).status_code == 404
    assert second.status_code == 404
    assert second.json() == {"message": "Book not found"}


# ---------------------------------------------------------------------------------------------
# validation: 400 and nothing written
# ---------------------------------------------------------------------------------------------

INVALID_BODIES = {
    "missing title": {"author": "{marker}"},
    "missing author": {"title": "{marker}"},
    "empty title": {"title": "", "author": "{marker}"},
    "empty author": {"title": "{marker}", "author": ""},
    "title not a string": {"title": 42, "author": "{marker}"},
    "title null": {"title": None, "author": "{marker}"},
    "year a string": {"title": "{marker}", "author": "a", "year": "1999"},
    "year a fraction": {"title": "{marker}", "author": "a", "year": 1999.5},
    "year written as a float": {"title": "{marker}", "author": "a", "year": 1999.0},
    "year out of range": {"title": "{marker}", "author": "a", "year": 123456},
    "isbn a number": {"title": "{marker}", "author": "a", "isbn": 9780441478125},
    "empty isbn": {"title": "{marker}", "author": "a", "isbn": ""},
    "tags a string": {"title": "{marker}", "author": "a", "tags": "sf"},
    "tags of numbers": {"title": "{marker}", "author": "a", "tags": [1, 2]},
    "an empty tag": {"title": "{marker}", "author": "a", "tags": ["sf", ""]},
    "empty summary": {"title": "{marker}", "author": "a", "summary": ""},
    "unknown field": {"title": "{marker}", "author": "a", "publisher": "Ace"},
    "injected key field": {"title": "{marker}", "author": "a", "book_id": "chosen"},
    "an array": [{"title": "{marker}", "author": "a"}],
    "a string": "{marker}",
    "an empty object": {},
}
MALFORMED_BODIES = {
    "truncated JSON": '{"title": "{marker}", "author": "a"',
    "not JSON": "title={marker}&author=a",
    "empty body": "",
}


def fill(body: Any, marker: str) -> Any:
    return json.loads(json.dumps(body).replace("{marker}", marker))


def check_rejected(response: requests.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert isinstance(response.json()["message"], str)


@pytest.mark.parametrize("body", INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
def test_create_rejects_an_invalid_book_and_writes_nothing(
    books: Books, marker: str, body: Any
) -> None:
    response = books.create(fill(body, marker))

    check_rejected(response)
    assert books.stored_with(marker) == []


@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
def test_create_rejects_a_malformed_body_and_writes_nothing(
    books: Books, marker: str, body: str
) -> None:
    response = books.create(body.replace("{marker}", marker))

    check_rejected(response)
    assert books.stored_with(marker) == []


def test_create_rejects_a_body_that_is_not_json_by_content_type(books: Books, marker: str) -> None:
    body = json.dumps({"title": marker, "author": "a"})

    response = books.http.post(
        books.url, data=body, headers={"Content-Type": "text/plain"}, timeout=TIMEOUT
    )

    assert response.status_code in (400, 415), response.text
    assert books.stored_with(marker) == []


@pytest.mark.parametrize("body", INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
def test_put_rejects_an_invalid_book_and_leaves_the_stored_one(
    books: Books, marker: str, body: Any
) -> None:
    original = {"title": f"original {marker}", "author": "Keeper"}
    book_id = books.create_ok(original)

    response = books.replace(book_id, fill(body, f"replacement {marker}"))

    check_rejected(response)
    assert books.stored(book_id) == typed(book_id, original)


# ---------------------------------------------------------------------------------------------
# user strings reach DynamoDB verbatim and never add or change other attributes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", NASTY_STRINGS.values(), ids=NASTY_STRINGS.keys())
def test_a_title_is_stored_and_returned_verbatim(books: Books, marker: str, text: str) -> None:
    book = {"title": f"{text} {marker}", "author": "Escaper"}

    book_id = books.create_ok(book)

    assert books.stored(book_id) == typed(book_id, book)
    assert books.get(book_id).json() == {"book_id": book_id, **book}


@pytest.mark.parametrize("text", NASTY_STRINGS.values(), ids=NASTY_STRINGS.keys())
def test_every_string_field_is_stored_verbatim_on_create_and_replace(
    books: Books, marker: str, text: str
) -> None:
    book = {
        "title": f"{text} {marker}",
        "author": text,
        "isbn": text[:32],
        "tags": [text, marker],
        "summary": text,
    }

    book_id = books.create_ok(book)
    assert books.stored(book_id) == typed(book_id, book)

    replacement = {**book, "title": f"{marker} {text}", "year": 2001}
    assert books.replace(book_id, replacement).status_code == 200
    assert books.stored(book_id) == typed(book_id, replacement)
    assert books.get(book_id).json() == {"book_id": book_id, **replacement}


# ---------------------------------------------------------------------------------------------
# ids in the path: validated before use
# ---------------------------------------------------------------------------------------------

BAD_IDS = {
    "quote": 'x"y',
    "json injection": '"}, "TableName": "other',
    "space": "a b",
    "too long": "a" * 129,
}


@pytest.mark.parametrize("bad_id", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_an_invalid_id_is_400_for_every_item_operation(
    books: Books, marker: str, bad_id: str
) -> None:
    quoted = requests.utils.quote(bad_id, safe="")

    got = books.get(quoted)
    replaced = books.replace(quoted, {"title": marker, "author": "a"})
    deleted = books.delete(quoted)

    for response in (got, replaced, deleted):
        assert response.status_code == 400, response.text
        assert response.json() == {"message": "Invalid book id"}
    assert books.stored_with(marker) == []


# ---------------------------------------------------------------------------------------------
# paging
# ---------------------------------------------------------------------------------------------


def all_pages(books: Books, limit: int) -> list[dict[str, Any]]:
    """Every page of the list, following next_token to the end."""
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        response = books.list(**params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_token"}
        pages.append(page)
        if page["next_token"] is None:
            return pages
        assert len(pages) < 10_000, "the list does not end"
        params = {"limit": limit, "next_token": page["next_token"]}


def test_paging_visits_every_book_once_in_pages_of_at_most_limit(books: Books, marker: str) -> None:
    created = {}
    for n in range(5):
        book = {"title": f"page {n} {marker}", "author": "Pager", "tags": [marker]}
        created[books.create_ok(book)] = book

    pages = all_pages(books, limit=2)

    assert len(pages) >= 3
    assert all(len(page["items"]) <= 2 for page in pages)
    listed = [item for page in pages for item in page["items"]]
    ids = [item["book_id"] for item in listed]
    assert len(ids) == len(set(ids)), "a book was listed twice"
    mine = {item["book_id"]: item for item in listed if item["book_id"] in created}
    assert mine == {book_id: {"book_id": book_id, **book} for book_id, book in created.items()}


def test_list_defaults_to_a_bounded_page(books: Books, marker: str) -> None:
    books.create_ok({"title": marker, "author": "Lister"})

    response = books.list()

    assert response.status_code == 200, response.text
    page = response.json()
    assert 1 <= len(page["items"]) <= 20
    assert all(set(item) >= {"book_id", "title", "author"} for item in page["items"])


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "1e2", " 5"])
def test_an_invalid_limit_is_400(books: Books, limit: str) -> None:
    response = books.list(limit=limit)

    check_rejected(response)


TAMPERED_TOKENS = {
    "json injection": '"}, "TableName": "other", "x": {"S": "',
    "key injection": 'a"}, "title": {"S": "b',
    "quote": 'abc"',
    "backslash": "abc\\",
    "space": "abc def",
    "too long": "a" * 129,
    "velocity": "$context.requestId",
}


@pytest.mark.parametrize("token", TAMPERED_TOKENS.values(), ids=TAMPERED_TOKENS.keys())
def test_a_tampered_continuation_token_is_400(books: Books, marker: str, token: str) -> None:
    books.create_ok({"title": marker, "author": "Token"})

    response = books.list(limit=1, next_token=token)

    check_rejected(response)


def test_a_well_formed_token_of_an_absent_book_pages_on_safely(books: Books) -> None:
    # Tokens are only checked for shape; one that names no stored book still pages from there.
    response = books.list(limit=5, next_token=str(uuid.uuid4()))

    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) <= 5

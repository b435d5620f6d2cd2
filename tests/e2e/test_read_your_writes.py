"""Read your own writes through the deployed API: every write answers with a sync_token, and a
search or suggestion made at once with ``consistent_with`` shows the change, every time, with
no sleeping or retrying by the client.

Each search is made right after the write's response, long before the stream and the index's
refresh have made the change searchable on their own (about a second here).
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest

from tests.support.api import BooksApi, Params
from tests.support.polling import eventually

pytestmark = pytest.mark.deployed

ROUNDS = 8


class Writes:
    """The API's writes, each returning the write's sync_token; searches with tokens."""

    def __init__(self, books: BooksApi) -> None:
        self.books = books

    def _token(self, response: Any, status: int) -> str:
        assert response.status_code == status, response.text
        token = response.json()["sync_token"]
        assert isinstance(token, str) and token
        return token

    def create(self, book: dict[str, Any]) -> tuple[str, str]:
        response = self.books.create(book)
        return response.json().get("book_id"), self._token(response, 201)

    def replace(self, book_id: str, book: dict[str, Any]) -> str:
        return self._token(self.books.replace(book_id, book), 200)

    def delete(self, book_id: str) -> str:
        return self._token(self.books.delete(book_id), 200)

    def search(self, params: Params, *tokens: str) -> dict[str, Any]:
        response = self.books.query("search", [*params, *(("consistent_with", t) for t in tokens)])
        assert response.status_code == 200, response.text
        return response.json()

    def suggest(self, prefix: str, *tokens: str) -> dict[str, Any]:
        params: Params = [("prefix", prefix), *(("consistent_with", t) for t in tokens)]
        response = self.books.query("suggest", params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def writes(books_api: BooksApi) -> Writes:
    return Writes(books_api)


def forge(payload: str) -> str:
    """A token made up by a client, in the API's encoding."""
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def ids(page: dict[str, Any]) -> list[str]:
    return [item["book_id"] for item in page["items"]]


def test_create_replace_delete_then_an_immediate_search_with_the_token_reflects_it(
    writes: Writes, marker: str
):
    # The client passes the tokens of its own recent writes, as an app would: the earlier
    # rounds' deletes too (their books carry the same tag and need not have reached the index
    # yet); at most ROUNDS tokens, within the API's limit.
    earlier_deletes: list[str] = []
    for _ in range(ROUNDS):
        # Words of their own per round, more than a typo apart from every other round's.
        first = f"{marker}alpha{secrets.token_hex(4)}"
        second = f"{marker}omega{secrets.token_hex(4)}"
        book = {"title": f"Round {first}", "author": "Tester", "tags": [marker], "year": 1970}

        # created: found at once, counted, its facets too
        book_id, created = writes.create(book)
        page = writes.search([("q", first), ("tag", marker)], created, *earlier_deletes)
        assert (ids(page), page["total"], page["consistent"]) == ([book_id], 1, True), page
        assert page["items"][0]["title"] == f"Round {first}"
        assert {"value": marker, "count": 1} in page["facets"]["tags"]
        assert page["facets"]["decades"] == [{"decade": 1970, "count": 1}]

        # replaced: found under its new words with its new content, not under the old ones
        replaced = writes.replace(book_id, {**book, "title": f"Round {second}", "year": 1980})
        page = writes.search([("q", second), ("tag", marker)], replaced, *earlier_deletes)
        assert (ids(page), page["consistent"]) == ([book_id], True), page
        assert (page["items"][0]["title"], page["items"][0]["year"]) == (f"Round {second}", 1980)
        assert page["facets"]["decades"] == [{"decade": 1980, "count": 1}]
        page = writes.search([("q", first), ("tag", marker)], replaced, *earlier_deletes)
        assert (ids(page), page["total"], page["consistent"]) == ([], 0, True), page

        # deleted: gone at once, uncounted
        deleted = writes.delete(book_id)
        page = writes.search([("tag", marker)], deleted, *earlier_deletes)
        assert (ids(page), page["total"], page["consistent"]) == ([], 0, True), page
        assert page["facets"]["tags"] == []
        earlier_deletes.append(deleted)


def test_a_suggestion_reflects_a_created_book_at_once(writes: Writes, marker: str):
    title = f"Zyx{marker} Chronicles"

    book_id, token = writes.create({"title": title, "author": "Tester", "tags": [marker]})
    page = writes.suggest(f"zyx{marker}", token)

    assert page["suggestions"] == [{"title": title, "book_id": book_id, "author": "Tester"}]
    assert page["consistent"] is True
    writes.delete(book_id)


def test_a_merged_book_takes_its_place_among_the_others_and_on_the_right_page(
    writes: Writes, books_api: BooksApi, marker: str
):
    # GIVEN three searchable books, then a fourth written just now that ranks second
    word = f"{marker}p"
    for title in (f"{word} {word}", f"{word} alpha", f"{word} beta"):
        books_api.create_ok({"title": title, "author": "Tester", "tags": [marker]})
    settled = [("q", word), ("tag", marker)]
    eventually(lambda: writes.search(settled), lambda p: p["total"] == 3, "three books", 60)
    new_id, token = writes.create({"title": word, "author": "Tester", "tags": [marker]})

    # WHEN the pages are read with the token, two books a page
    first = writes.search([*settled, ("size", "2")], token)
    second = writes.search([*settled, ("size", "2"), ("next_token", first["next_token"])], token)
    # THEN the exact title ranks first, and the pages hold all four books once
    assert ids(first)[0] == new_id
    assert first["total"] == second["total"] == 4
    assert len(set(ids(first) + ids(second))) == 4
    assert second["next_token"] is None


def test_a_forged_token_reads_nothing_and_fails_nothing(writes: Writes, marker: str):
    # GIVEN a book that exists but does not match the search, and tokens made up for it
    other_id, _ = writes.create({"title": f"Other {marker}", "author": "Tester", "tags": ["x"]})
    claims_the_other = forge(f"1:w:1:forged:{other_id}")
    garbage = ["", "%%%", forge("1:w:1:r:../../_search"), "A" * 5000]

    # THEN naming it shows nothing the query does not match
    page = writes.search([("tag", marker)], claims_the_other)
    assert other_id not in ids(page)
    assert page["consistent"] is True
    # AND garbage is a 400 naming the parameter, never a 5xx
    for forged in garbage:
        response = writes.books.query("search", [("consistent_with", forged)])
        assert response.status_code == 400, (forged[:20], response.text)
        assert "consistent_with" in response.json()["message"]
    writes.delete(other_id)


def test_a_change_that_never_reaches_the_index_is_reported_pending(writes: Writes, marker: str):
    # GIVEN a well-formed token of a write the index will never see (no such book)
    never = forge(f"1:w:1:none:{marker}-missing")

    page = writes.search([("tag", marker)], never)

    assert (page["consistent"], page["pending"]) == (False, [never])

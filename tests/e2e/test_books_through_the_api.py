"""End to end: books written through the REST API reach the search index, change and disappear.

The whole deployed chain runs: API Gateway (VTL) -> DynamoDB -> stream -> event source
mapping -> sync function -> OpenSearch. Every wait polls with a deadline and fails showing what
was expected and what was last seen. The index is read through the alias, as a search client
would read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tests.support.api import BooksApi
from tests.support.aws import BooksTable
from tests.support.opensearch import (
    Document,
    SearchIndex,
    wait_until_not_searchable,
    wait_until_searchable_as,
    without_sync,
)

pytestmark = pytest.mark.deployed


def full_book(marker: str) -> Document:
    """A book with every optional field."""
    return {
        "title": f"The Left Hand of Darkness {marker}",
        "author": f"Ursula K. Le Guin {marker}",
        "year": 1969,
        "isbn": "978-0-441-47812-5",
        "tags": ["science fiction", "classic", marker],
        "summary": f"An envoy comes to the winter planet Gethen. {marker}",
    }


def create_and_wait(api: BooksApi, index: SearchIndex, book: Document) -> tuple[str, Document]:
    book_id = api.create_ok(book)
    returned = api.get_ok(book_id)
    wait_until_searchable_as(index, {book_id: returned})
    return book_id, returned


# ---------------------------------------------------------------------------------------------
# create, search, replace, delete
# ---------------------------------------------------------------------------------------------


def test_a_created_book_is_indexed_as_the_api_returns_it(
    books_api: BooksApi, search_index: SearchIndex, marker: str
) -> None:
    book = full_book(marker)

    book_id = books_api.create_ok(book)

    returned = books_api.get_ok(book_id)
    assert returned == {"book_id": book_id, **book}
    wait_until_searchable_as(search_index, {book_id: returned})
    stored = search_index.stored(book_id)
    assert stored is not None
    assert stored["_sync"]["deleted"] is False
    assert stored["_sync"]["event"] == "INSERT"


def test_a_search_by_title_author_or_tag_finds_the_book(
    books_api: BooksApi, search_index: SearchIndex, marker: str
) -> None:
    book_id, _ = create_and_wait(books_api, search_index, full_book(marker))

    # The marker is one token; "and" makes every word of the query count.
    by_title = {"match": {"title": {"query": f"darkness left {marker}", "operator": "and"}}}
    by_author = {"match": {"author": {"query": f"le guin {marker}", "operator": "and"}}}
    by_tag = {"term": {"tags": marker}}
    by_tag_words = {
        "bool": {"filter": [{"match": {"tags.text": "fiction"}}, {"term": {"tags": marker}}]}
    }
    full_text = {
        "multi_match": {
            "query": f"winter planet {marker}",
            "operator": "and",
            "fields": ["title", "author", "summary", "tags.text"],
        }
    }

    for query in (by_title, by_author, by_tag, by_tag_words, full_text):
        assert search_index.search_ids(query) == [book_id], query


def test_a_replaced_book_is_reindexed_whole(
    books_api: BooksApi, search_index: SearchIndex, marker: str
) -> None:
    book_id, _ = create_and_wait(books_api, search_index, full_book(marker))
    replacement = {"title": f"Second Edition {marker}", "author": "Le Guin", "year": 1976}

    books_api.replace_ok(book_id, replacement)

    returned = books_api.get_ok(book_id)
    assert returned == {"book_id": book_id, **replacement}
    # A full replace: isbn, tags and summary are gone from the document too.
    wait_until_searchable_as(search_index, {book_id: returned})
    old_title = {"match": {"title": {"query": f"darkness {marker}", "operator": "and"}}}
    assert search_index.search_ids(old_title) == []
    assert search_index.search_ids({"term": {"tags": marker}}) == []
    stored = search_index.stored(book_id)
    assert stored is not None and stored["_sync"]["event"] == "MODIFY"


def test_a_deleted_book_disappears_from_search_and_leaves_a_tombstone(
    books_api: BooksApi, search_index: SearchIndex, marker: str
) -> None:
    book_id, _ = create_and_wait(books_api, search_index, full_book(marker))

    books_api.delete_ok(book_id)

    assert books_api.get(book_id).status_code == 404
    wait_until_not_searchable(search_index, [book_id])
    assert search_index.search_ids({"term": {"tags": marker}}) == []
    # A GET by id ignores the alias filter: it finds the tombstone, keys only.
    tombstone = search_index.stored(book_id)
    assert tombstone is not None
    assert without_sync(tombstone) == {"book_id": book_id}
    assert tombstone["_sync"]["deleted"] is True
    assert tombstone["_sync"]["event"] == "REMOVE"


# ---------------------------------------------------------------------------------------------
# strings that try to break the VTL template reach the index verbatim
# ---------------------------------------------------------------------------------------------

AWKWARD_STRINGS = {
    "double quotes": 'say "hi" and ""',
    "backslashes": "back\\slash \\n \\u0041 \\",
    "single quotes": "it's O'Reilly's",
    "newlines and tabs": "line 1\nline 2\r\nline 3\ttab",
    "dollar references": "costs $5, $input.json('$'), $context.requestId, ${table_name}",
    "velocity directives": '#set($x = "y") #if(true)boom#end #foreach($i in [1])x#end ## note',
    "json injection": '"}, "x": {"S":"y',
    "key injection": '"}}, "book_id": {"S": "other"}, "z": {"S": "',
    "unicode": "Ærøskøbing ✓ 漢字 🙂 \u200b\u202e",
    "markup": "<script>alert('x')</script> &amp; ]]>",
}


def awkward_book(text: str, marker: str) -> Document:
    """Every string field holds ``text``; the title also the marker (titles stay distinct)."""
    return {
        "title": f"{text} {marker}",
        "author": text,
        "year": 2001,
        "isbn": text[:32],
        "tags": [text, marker],
        "summary": f"{text}\n{text}",
    }


def test_strings_that_try_to_break_the_template_reach_the_index_verbatim(
    books_api: BooksApi, search_index: SearchIndex, marker: str
) -> None:
    books = {name: awkward_book(text, marker) for name, text in AWKWARD_STRINGS.items()}

    ids = {name: books_api.create_ok(book) for name, book in books.items()}

    expected = {ids[name]: {"book_id": ids[name], **book} for name, book in books.items()}
    returned = {book_id: books_api.get_ok(book_id) for book_id in expected}
    assert returned == expected
    wait_until_searchable_as(search_index, expected)
    for name, book in books.items():
        exact = {"term": {"title.keyword": book["title"]}}
        assert search_index.search_ids(exact) == [ids[name]], name
    assert sorted(search_index.search({"term": {"tags": marker}})) == sorted(expected)


# ---------------------------------------------------------------------------------------------
# validation failures: 400 with a reason, nothing written, nothing indexed
# ---------------------------------------------------------------------------------------------

INVALID_BODIES: dict[str, Any] = {
    "missing title": {"author": "{marker}"},
    "empty author": {"title": "{marker}", "author": ""},
    "year a fraction": {"title": "{marker}", "author": "a", "year": 1999.5},
    "year a string": {"title": "{marker}", "author": "a", "year": "1999"},
    "tags of numbers": {"title": "{marker}", "author": "a", "tags": [1, 2]},
    "unknown field": {"title": "{marker}", "author": "a", "publisher": "{marker}"},
    "book_id chosen by the client": {"title": "{marker}", "author": "a", "book_id": "{marker}"},
    "an array": [{"title": "{marker}", "author": "a"}],
    "truncated JSON": '{"title": "{marker}", "author": "a"',
}


def filled(body: Any, marker: str) -> Any:
    if isinstance(body, str):
        return body.replace("{marker}", marker)
    if isinstance(body, dict):
        return {key: filled(value, marker) for key, value in body.items()}
    if isinstance(body, list):
        return [filled(value, marker) for value in body]
    return body


def rejections(responses: Mapping[str, Any]) -> dict[str, tuple[int, str]]:
    """Each case whose response is not a 400 with a JSON reason: (status, body)."""
    wrong: dict[str, tuple[int, str]] = {}
    for case, response in responses.items():
        try:
            reason = response.json().get("message")
        except ValueError:
            reason = None
        if response.status_code != 400 or not isinstance(reason, str) or not reason:
            wrong[case] = (response.status_code, response.text)
    return wrong


def index_mentions(index: SearchIndex, marker: str) -> list[str]:
    """Searchable documents that mention the marker in any field."""
    return sorted(index.search({"query_string": {"query": marker}}))


def test_invalid_books_are_rejected_and_nothing_is_written_or_indexed(
    books_api: BooksApi, search_index: SearchIndex, books_table: BooksTable, marker: str
) -> None:
    responses = {
        case: books_api.create(filled(body, marker)) for case, body in INVALID_BODIES.items()
    }

    assert rejections(responses) == {}, "expected 400 with a message for every invalid body"
    assert books_table.mentioning(marker) == []
    # A valid book written after the rejected ones: once the function has indexed it, it has
    # read the stream past the point where any of them would have been.
    sentinel_id, _ = create_and_wait(books_api, search_index, {"title": marker, "author": "ok"})
    assert index_mentions(search_index, marker) == [sentinel_id]


def test_an_invalid_replacement_leaves_the_indexed_book_untouched(
    books_api: BooksApi, search_index: SearchIndex, marker: str
) -> None:
    book_id, original = create_and_wait(books_api, search_index, full_book(marker))
    before = search_index.stored(book_id)
    replacements = {
        case: books_api.replace(book_id, filled(body, f"changed {marker}"))
        for case, body in INVALID_BODIES.items()
    }

    assert rejections(replacements) == {}, "expected 400 with a message for every invalid body"
    assert books_api.get_ok(book_id) == original
    create_and_wait(books_api, search_index, {"title": f"sentinel {marker}", "author": "ok"})
    # The same sequence number: no change of this item reached the index.
    assert search_index.stored(book_id) == before

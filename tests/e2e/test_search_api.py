"""Search through the deployed API: books written with POST /books, found with GET /books/search
and GET /books/suggest, after the stream and the sync function have carried them to the index.

Every test tags its books with a fresh marker and filters or searches on it, so other suites'
books (in the same table and index) never change what a test sees. Waiting is polling with a
deadline (`tests.support.polling.eventually`): the index lags the table by a second or so.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.support.api import BooksApi, Params
from tests.support.aws import Client
from tests.support.polling import eventually

pytestmark = pytest.mark.deployed

BOOK_FIELDS = {"book_id", "title", "author", "year", "isbn", "tags", "summary"}


class Api:
    """The books API: writes through POST/DELETE, reads through search and suggest."""

    def __init__(self, books: BooksApi) -> None:
        self.books = books

    def create(self, book: dict[str, Any]) -> str:
        return self.books.create_ok(book)

    def delete(self, book_id: str) -> None:
        self.books.delete_ok(book_id)

    def get(self, path: str, params: Params) -> requests.Response:
        return self.books.query(path, params)

    def search(self, params: Params) -> dict[str, Any]:
        response = self.get("search", params)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        return response.json()

    def suggest(self, prefix: str, size: int = 10) -> list[str]:
        response = self.get("suggest", [("prefix", prefix), ("size", size)])
        assert response.status_code == 200, response.text
        return [suggestion["title"] for suggestion in response.json()["suggestions"]]

    def search_until(self, params: Params, count: int, what: str) -> dict[str, Any]:
        """Search until exactly ``count`` books match (the sync has caught up)."""
        return eventually(
            lambda: self.search(params), lambda page: page["total"] == count, what, timeout=60
        )


@pytest.fixture(scope="module")
def api(books_api: BooksApi) -> Api:
    return Api(books_api)


def ids(page: dict[str, Any]) -> list[str]:
    return [item["book_id"] for item in page["items"]]


def book(marker: str, title: str, **fields: Any) -> dict[str, Any]:
    tags = [marker, *fields.pop("tags", [])]
    return {"title": title, "author": fields.pop("author", "Anonymous"), "tags": tags, **fields}


# ---------------------------------------------------------------------------------------------
# relevance
# ---------------------------------------------------------------------------------------------


def test_the_exact_title_comes_first_then_the_phrase_then_scattered_words(api: Api, marker: str):
    scattered = api.create(book(marker, "Harbour of the Quiet Souls"))
    phrase = api.create(book(marker, "Beyond the Quiet Harbour"))
    exact = api.create(book(marker, "The Quiet Harbour"))
    params: Params = [("q", "the quiet harbour"), ("tag", marker)]

    page = api.search_until(params, 3, "the three harbour books")

    assert ids(page) == [exact, phrase, scattered]
    assert page["items"][0]["score"] > page["items"][1]["score"] > page["items"][2]["score"]
    assert page["items"][0]["highlights"]["title"] == [
        "<em>The</em> <em>Quiet</em> <em>Harbour</em>"
    ]


def test_a_misspelt_word_still_finds_the_book(api: Api, marker: str):
    book_id = api.create(
        book(marker, "Cartographers of the Deep", summary=f"Maps of the abyssal plain. {marker}")
    )
    misspelt_marker = marker[:8] + "x" + marker[9:]  # one letter wrong ("x" is not hex)

    found = api.search_until([("q", misspelt_marker)], 1, "the book by a misspelt word")

    assert ids(found) == [book_id]
    assert ids(api.search([("q", "Cartografers"), ("tag", marker)])) == [book_id]
    assert ids(api.search([("q", "the deep cartographres"), ("tag", marker)])) == [book_id]


def test_a_phrase_in_the_summary_outranks_the_same_words_apart(api: Api, marker: str):
    apart = api.create(book(marker, "Tides", summary="Silver came late; the lining held."))
    together = api.create(book(marker, "Clouds", summary="Every cloud has a silver lining."))

    page = api.search_until([("q", "silver lining"), ("tag", marker)], 2, "both silver books")

    assert ids(page) == [together, apart]


# ---------------------------------------------------------------------------------------------
# filters and facets
# ---------------------------------------------------------------------------------------------

LIBRARY = [
    ("Dune", "Frank Herbert", 1965, ["sf", "classic"]),
    ("Dune Messiah", "Frank Herbert", 1969, ["sf"]),
    ("The Dispossessed", "Ursula K. Le Guin", 1974, ["sf", "classic"]),
    ("Earthsea", "Ursula K. Le Guin", 1968, ["fantasy"]),
    ("Gormenghast", "Mervyn Peake", 1950, ["fantasy", "classic"]),
    ("Piranesi", "Susanna Clarke", 2020, ["fantasy"]),
]


@pytest.fixture()
def library(api: Api, marker: str) -> dict[str, dict[str, Any]]:
    """LIBRARY written through the API and indexed; by book id."""
    books = {}
    for title, author, year, tags in LIBRARY:
        written = book(marker, title, author=author, year=year, tags=tags)
        books[api.create(written)] = written
    api.search_until([("tag", marker), ("size", 50)], len(LIBRARY), "the library")
    return books


def test_facets_count_the_data_and_each_filter_keeps_what_its_facet_counts(
    api: Api, marker: str, library: dict[str, dict[str, Any]]
):
    page = api.search([("tag", marker), ("size", 50)])

    facets = page["facets"]
    expected_tags = Counter(tag for b in library.values() for tag in b["tags"])
    expected_authors = Counter(b["author"] for b in library.values())
    expected_decades = Counter(b["year"] // 10 * 10 for b in library.values())
    assert {f["value"]: f["count"] for f in facets["tags"]} == expected_tags
    assert {f["value"]: f["count"] for f in facets["authors"]} == expected_authors
    assert {f["decade"]: f["count"] for f in facets["decades"]} == expected_decades
    assert [f["decade"] for f in facets["decades"]] == sorted(expected_decades)

    for facet in facets["authors"]:
        narrowed = api.search([("tag", marker), ("author", facet["value"]), ("size", 50)])
        assert narrowed["total"] == facet["count"]
        assert {item["author"] for item in narrowed["items"]} == {facet["value"]}
    for decade in facets["decades"]:
        years = [("year_from", decade["decade"]), ("year_to", decade["decade"] + 9)]
        narrowed = api.search([("tag", marker), *years, ("size", 50)])
        assert narrowed["total"] == decade["count"]


def test_repeated_tags_all_apply_and_facets_follow_the_query(
    api: Api, marker: str, library: dict[str, dict[str, Any]]
):
    page = api.search([("tag", marker), ("tag", "sf"), ("tag", "classic"), ("q", "dune")])

    assert [item["title"] for item in page["items"]] == ["Dune"]
    assert page["facets"]["authors"] == [{"value": "Frank Herbert", "count": 1}]
    assert page["facets"]["decades"] == [{"decade": 1960, "count": 1}]
    sf_from_1969 = api.search([("tag", marker), ("tag", "sf"), ("year_from", 1969)])
    assert sorted(item["title"] for item in sf_from_1969["items"]) == [
        "Dune Messiah",
        "The Dispossessed",
    ]


def test_an_empty_query_lists_every_book(api: Api, marker: str, library: dict[str, Any]):
    page = api.search([("q", ""), ("tag", marker), ("size", 50)])

    assert sorted(ids(page)) == sorted(library)
    assert page["next_token"] is None


# ---------------------------------------------------------------------------------------------
# the answer
# ---------------------------------------------------------------------------------------------


def test_hits_are_plain_books_with_score_and_escaped_highlights(api: Api, marker: str):
    written = book(
        marker,
        "The <b>Bold</b> & the Brave",
        author="Ann O'Nym",
        year=1999,
        isbn="978-0-00-000000-0",
        summary="A bold tale: <script>alert(1)</script>",
    )
    book_id = api.create(written)

    page = api.search_until([("q", "bold"), ("tag", marker)], 1, "the bold book")

    (item,) = page["items"]
    assert set(item) == BOOK_FIELDS | {"score", "highlights"}
    assert {k: item[k] for k in BOOK_FIELDS} == {"book_id": book_id, **written}
    assert item["highlights"] == {
        "title": ["The &lt;b&gt;<em>Bold</em>&lt;&#x2F;b&gt; &amp; the Brave"],
        "summary": ["A <em>bold</em> tale: &lt;script&gt;alert(1)&lt;&#x2F;script&gt;"],
    }


def test_a_deleted_book_is_no_longer_found(api: Api, marker: str):
    book_id = api.create(book(marker, "Ephemera"))
    api.search_until([("tag", marker)], 1, "the book to delete")

    api.delete(book_id)

    api.search_until([("tag", marker)], 0, "the deleted book to disappear")


# ---------------------------------------------------------------------------------------------
# paging
# ---------------------------------------------------------------------------------------------


def test_pages_visit_every_book_once_while_writes_continue(api: Api, marker: str):
    # Twelve books with different scores for the query (words in title, summary, or both).
    titles = ["Lantern", "Lantern Keeper", "Keeper", "Old Lantern Keeper"]
    summaries = ["", "A lantern.", "The keeper of the lantern."]
    originals = {
        api.create(book(marker, f"{title} {n}", summary=summary or f"Book {n}."))
        for n, (title, summary) in enumerate(itertools.product(titles, summaries))
    }
    params: Params = [("q", "lantern keeper"), ("tag", marker), ("size", 5)]
    api.search_until(params, len(originals), "the lantern books")

    seen: list[str] = []
    added: set[str] = set()
    token = None
    for page_number in range(20):  # 3 pages expected; the bound only stops a broken token
        page = api.search(params + ([("next_token", token)] if token else []))
        seen += ids(page)
        # Writes between pages, indexed before the next page is read: a new matching book and
        # an unrelated one, which moves every statistic a BM25 score would depend on.
        added.add(api.create(book(marker, f"Lantern Keeper late {page_number}")))
        api.create(book(f"other{marker}", f"Unrelated keeper {page_number}", summary="x " * 40))
        api.search_until([("tag", f"other{marker}")], page_number + 1, "the unrelated book")
        token = page["next_token"]
        if token is None:
            break

    assert len(seen) == len(set(seen)), "a book was listed twice"
    assert originals <= set(seen), "a book that existed throughout was skipped"
    assert set(seen) <= originals | added


def test_a_token_belongs_to_its_query(api: Api, marker: str, library: dict[str, Any]):
    first = api.search([("tag", marker), ("size", 2)])

    response = api.get("search", [("tag", "sf"), ("size", 2), ("next_token", first["next_token"])])

    assert response.status_code == 400
    assert "next_token" in response.json()["message"]


# ---------------------------------------------------------------------------------------------
# suggest
# ---------------------------------------------------------------------------------------------


def test_suggest_completes_a_title_as_it_is_typed(api: Api, marker: str):
    title = f"Quillon {marker} Voyages"
    api.create(book(marker, title))
    api.search_until([("tag", marker)], 1, "the book to suggest")

    assert title in api.suggest(f"quillon {marker[:8]}")
    assert title in api.suggest(f"Quillon {marker} voy")
    assert title not in api.suggest(f"quillon {marker}x")


# ---------------------------------------------------------------------------------------------
# validation and injection
# ---------------------------------------------------------------------------------------------

BAD_SEARCHES: dict[str, tuple[Params, str]] = {
    "size zero": ([("size", 0)], "size"),
    "size too big": ([("size", 51)], "size"),
    "size not a number": ([("size", "ten")], "size"),
    "year not a number": ([("year_from", "nineteen")], "year_from"),
    "years reversed": ([("year_from", 2000), ("year_to", 1990)], "year_from"),
    "unknown parameter": ([("tags", "sf")], "tags"),
    "q twice": ([("q", "a"), ("q", "b")], "q"),
    "empty author": ([("author", "")], "author"),
    "q too long": ([("q", "x" * 201)], "q"),
    "forged token": ([("next_token", "eyJ2IjoxfQ")], "next_token"),
}
BAD_SUGGESTS: dict[str, tuple[Params, str]] = {
    "no prefix": ([], "prefix"),
    "blank prefix": ([("prefix", "  ")], "prefix"),
    "size too big": ([("prefix", "a"), ("size", 11)], "size"),
}


@pytest.mark.parametrize(("params", "name"), BAD_SEARCHES.values(), ids=BAD_SEARCHES.keys())
def test_bad_search_parameters_are_400_with_a_reason(api: Api, params: Params, name: str):
    response = api.get("search", params)

    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(f"invalid parameter {name!r}: ")


@pytest.mark.parametrize(("params", "name"), BAD_SUGGESTS.values(), ids=BAD_SUGGESTS.keys())
def test_bad_suggest_parameters_are_400_with_a_reason(api: Api, params: Params, name: str):
    response = api.get("suggest", params)

    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(f"invalid parameter {name!r}: ")


INJECTIONS = ["title:*", ")(", "*", '"', "\\", "a AND b OR c", "title:(x) -y +z", "{}", "~2^3"]


def test_query_syntax_is_just_text(api: Api, marker: str):
    book_id = api.create(book(marker, "title:* )( AND OR", summary="Made of query syntax."))
    api.search_until([("tag", marker)], 1, "the syntax book")

    for text in INJECTIONS:
        for path, name in (("search", "q"), ("suggest", "prefix")):
            response = api.get(path, [(name, text)])
            assert response.status_code == 200, (text, response.text)
        filtered = api.get("search", [("author", text), ("tag", text)])
        assert filtered.status_code == 200 and filtered.json()["total"] == 0, text

    # "title:*" finds the book whose title has the word "title", not every book with a title.
    assert ids(api.search([("q", "title:*"), ("tag", marker)])) == [book_id]
    assert api.search([("q", ")("), ("tag", marker)])["total"] == 0


# ---------------------------------------------------------------------------------------------
# what the search function may do
# ---------------------------------------------------------------------------------------------


def es_statements(policy: dict[str, Any], principal: str | None = None) -> list[dict[str, Any]]:
    statements = policy["Statement"]
    return [
        s
        for s in (statements if isinstance(statements, list) else [statements])
        if any(str(a).startswith("es:") for a in _as_list(s["Action"]))
        and (principal is None or principal in _as_list(s.get("Principal", {}).get("AWS", [])))
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_search_function_may_only_read_the_index(
    aws_client: Callable[[str], Client], search_function_name: str
):
    function = aws_client("lambda").get_function_configuration(FunctionName=search_function_name)
    role_arn = function["Role"]
    iam = aws_client("iam")
    role = role_arn.rsplit("/", 1)[1]
    policies = [
        iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]
    ]
    domain = aws_client("opensearch").describe_domain_config(DomainName="bookstore-search")
    access = json.loads(domain["DomainConfig"]["AccessPolicies"]["Options"])

    for statements in [es_statements(p) for p in policies] + [es_statements(access, role_arn)]:
        (statement,) = statements
        assert sorted(_as_list(statement["Action"])) == ["es:ESHttpGet", "es:ESHttpPost"]
        # Searches, real-time reads of sync tokens' books, in-memory evaluation of one document
        # (read your writes): nothing that writes, nothing of another index.
        paths = sorted(
            r.split(":domain/bookstore-search/", 1)[1] for r in _as_list(statement["Resource"])
        )
        assert paths == ["_scripts/painless/_execute", "books/_mget", "books/_search"]

"""The search mapping on a real node: what setup-index creates, what it says about an index made
with an older mapping, and the ranking and paging properties the search API relies on.

Runs the pure query builder (`ddb_opensearch_sync.search`) against scratch indices made by
`setup_index`, so relevance is checked without the API in between (tests/e2e does that).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.mapping import (
    INDEX_GENERATION,
    alias_filter,
    concrete_index_name,
    mapping_digest,
    template_name,
)
from ddb_opensearch_sync.index.setup import IndexSetupError, setup_index
from ddb_opensearch_sync.ops import cli
from tests.support.names import unique
from tests.support.opensearch import dropped_afterwards
from tests.support.search import run_search, run_suggest

pytestmark = pytest.mark.stack

# The sync's mapping before search (generation 1), as deployed stacks still have it.
GENERATION_1_MAPPINGS = {
    "_meta": {"managed_by": "ddb-opensearch-sync", "generation": 1},
    "properties": {
        "book_id": {"type": "keyword"},
        "title": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
    },
}

BOOKS = [
    ("b01", "The Left Hand of Darkness", "Ursula K. Le Guin", 1969, ["sf", "classic"],
     "An envoy visits the planet Gethen."),
    ("b02", "Darkness at Noon", "Arthur Koestler", 1940, ["politics", "classic"],
     "The left hand of the party never knows."),
    ("b03", "The Dispossessed", "Ursula K. Le Guin", 1974, ["sf"],
     "Darkness, a left turn and a hand of cards."),
    ("b04", "Hand of Fate", "Anon", 2001, ["fantasy"], "Left behind in the darkness."),
    ("b05", "Ærøskøbing Tales", "Anon", 2001, [], "Stories from a small town."),
    ("b06", "title:* )( AND", "Anon", 1999, ["weird"], "A title made of query syntax."),
]  # fmt: skip


@pytest.fixture
def alias(opensearch_client: OpenSearch) -> Iterator[str]:
    """A fresh alias with nothing made for it yet (the tests run setup themselves)."""
    with dropped_afterwards(opensearch_client, unique("search")) as name:
        yield name


@pytest.fixture
def books(opensearch_client: OpenSearch, alias: str) -> str:
    """A current index with BOOKS and one tombstone, searchable."""
    setup_index(opensearch_client, alias)
    for book_id, title, author, year, tags, summary in BOOKS:
        document = {
            "book_id": book_id,
            "title": title,
            "author": author,
            "year": year,
            "tags": tags,
            "summary": summary,
            "_sync": {"seq": "1", "deleted": False, "event": "INSERT"},
        }
        opensearch_client.index(index=alias, id=book_id, body=document)
    tombstone = {"book_id": "b99", "title": "The Left Hand of Darkness", "_sync": {"deleted": True}}
    opensearch_client.index(index=alias, id="b99", body=tombstone)
    opensearch_client.indices.refresh(index=alias)
    return alias


def search(client: OpenSearch, alias: str, **params: Any) -> dict[str, Any]:
    values = {k: v if isinstance(v, list) else [str(v)] for k, v in params.items()}
    return dict(run_search(client, alias, values)[1])


def ids(page: dict[str, Any]) -> list[str]:
    return [item["book_id"] for item in page["items"]]


# ---------------------------------------------------------------------------------------------
# the mapping and setup-index
# ---------------------------------------------------------------------------------------------


def test_a_fresh_setup_has_the_search_mapping(opensearch_client: OpenSearch, alias: str):
    result = setup_index(opensearch_client, alias)

    index = concrete_index_name(alias)
    assert (result.index, result.outdated) == (f"{alias}-v{INDEX_GENERATION}", False)
    mapping = opensearch_client.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["_meta"]["mapping_digest"] == mapping_digest()
    title = mapping["properties"]["title"]
    assert title["similarity"] == "boolean"
    assert title["fields"]["suggest"]["type"] == "search_as_you_type"
    assert mapping["properties"]["tags"]["fields"]["text"]["analyzer"] == "book_text"


def test_an_index_with_an_older_mapping_is_reported_and_left_alone(
    opensearch_client: OpenSearch, alias: str
):
    # GIVEN the alias on an index made by the sync's first mapping
    old = f"{alias}-v1"
    opensearch_client.indices.create(
        index=old,
        body={"mappings": GENERATION_1_MAPPINGS, "aliases": {alias: {"filter": alias_filter()}}},
    )

    result = setup_index(opensearch_client, alias)

    assert (result.index, result.outdated, result.index_generation) == (old, True, 1)
    assert "reindex" in result.outdated_message()
    mapping = opensearch_client.indices.get_mapping(index=old)[old]["mappings"]
    assert mapping == GENERATION_1_MAPPINGS  # untouched
    # The template has the current mapping, ready for the reindex's new index.
    template = opensearch_client.indices.get_index_template(name=template_name(alias))
    meta = template["index_templates"][0]["index_template"]["template"]["mappings"]["_meta"]
    assert meta["mapping_digest"] == mapping_digest()


def test_the_cli_fails_on_an_outdated_index_unless_allowed(
    opensearch_client: OpenSearch, opensearch_url: str, alias: str, capsys
):
    opensearch_client.indices.create(
        index=f"{alias}-v1", body={"mappings": GENERATION_1_MAPPINGS, "aliases": {alias: {}}}
    )
    argv = ["setup-index", "--endpoint", opensearch_url, "--alias", alias]

    strict = cli.main(argv)
    strict_out = capsys.readouterr()
    allowed = cli.main([*argv, "--allow-outdated"])
    allowed_out = capsys.readouterr()

    assert strict == cli.ExitCode.DRIFT
    assert json.loads(strict_out.out)["outdated"] is True
    assert "error:" in strict_out.err and "outdated" in strict_out.err
    assert allowed == 0
    assert "warning:" in allowed_out.err


def test_an_unaliased_index_with_another_mapping_is_not_adopted(
    opensearch_client: OpenSearch, alias: str
):
    opensearch_client.indices.create(index=concrete_index_name(alias))

    with pytest.raises(IndexSetupError, match="not made with the current mapping"):
        setup_index(opensearch_client, alias)


# ---------------------------------------------------------------------------------------------
# relevance, filters, facets, paging, suggest
# ---------------------------------------------------------------------------------------------


def test_the_exact_title_comes_first(opensearch_client: OpenSearch, books: str):
    page = search(opensearch_client, books, q="the left hand of darkness")

    # b02, b03 and b04 have every word too, in other fields or another order.
    assert ids(page)[0] == "b01"
    assert {"b02", "b03", "b04"} <= set(ids(page))
    assert "b99" not in ids(page)  # a tombstone, never a hit
    assert page["items"][0]["highlights"]["title"] == [
        "<em>The</em> <em>Left</em> <em>Hand</em> <em>of</em> <em>Darkness</em>"
    ]


def test_a_phrase_ranks_above_the_same_words_scattered(opensearch_client: OpenSearch, books: str):
    page = search(opensearch_client, books, q="left hand")

    # b02 has "left hand" in its summary; b03 and b04 have both words, apart.
    assert ids(page).index("b02") < ids(page).index("b03")
    assert ids(page).index("b02") < ids(page).index("b04")


def test_typos_and_accents_still_find_the_book(opensearch_client: OpenSearch, books: str):
    assert ids(search(opensearch_client, books, q="Dispossesed"))[:1] == ["b03"]
    assert ids(search(opensearch_client, books, q="Le Guin Gethne"))[:1] == ["b01"]
    assert ids(search(opensearch_client, books, q="aeroskobing")) == ["b05"]


def test_query_syntax_is_just_text(opensearch_client: OpenSearch, books: str):
    assert ids(search(opensearch_client, books, q="title:* )( AND"))[:1] == ["b06"]
    assert ids(search(opensearch_client, books, q=")(")) == []


def test_filters_and_facets_agree(opensearch_client: OpenSearch, books: str):
    everything = search(opensearch_client, books, size=50)
    tags = {f["value"]: f["count"] for f in everything["facets"]["tags"]}

    for tag, count in tags.items():
        assert search(opensearch_client, books, tag=tag, size=50)["total"] == count
    assert tags == {"classic": 2, "sf": 2, "politics": 1, "fantasy": 1, "weird": 1}
    assert everything["total"] == len(BOOKS)
    le_guin = search(opensearch_client, books, author="Ursula K. Le Guin", tag=["sf", "classic"])
    assert ids(le_guin) == ["b01"]
    decades = search(opensearch_client, books, year_from=1960, year_to=1979)
    assert sorted(ids(decades)) == ["b01", "b03"]
    assert decades["facets"]["decades"] == [
        {"decade": 1960, "count": 1},
        {"decade": 1970, "count": 1},
    ]


def test_pages_visit_every_hit_once_while_other_books_are_written(
    opensearch_client: OpenSearch, books: str
):
    # Between pages, other books arrive: they do not match, but they change the statistics
    # BM25 would score with (document count, average length). With BM25, this very test
    # skips or repeats a hit; with the boolean similarity, scores stay put.
    query = "darkness left hand"
    page = search(opensearch_client, books, q=query, size=1)
    seen = ids(page)
    for extra in range(1, 10):
        if page["next_token"] is None:
            break
        body = {"book_id": f"x{extra}", "title": "filler", "summary": "quiet " * extra}
        opensearch_client.index(index=books, id=f"x{extra}", body=body, refresh=True)
        page = search(opensearch_client, books, q=query, size=1, next_token=page["next_token"])
        seen += ids(page)

    assert page["next_token"] is None
    assert sorted(seen) == ["b01", "b02", "b03", "b04"]


def test_suggest_completes_titles(opensearch_client: OpenSearch, books: str):
    def suggest(prefix: str) -> list[str]:
        _, page = run_suggest(opensearch_client, books, {"prefix": [prefix]})
        return [s["title"] for s in page["suggestions"]]

    assert suggest("the disp") == ["The Dispossessed"]
    assert suggest("darkn")[:1] == ["Darkness at Noon"]
    assert "The Left Hand of Darkness" in suggest("left ha")
    assert suggest("aero") == ["Ærøskøbing Tales"]

"""The search function's judgements checked against a real node rather than against what we
believe it does: the in-memory scores that place a book no refresh has exposed yet (read your
writes), the word count against the node's own tokenizer, and a query too large for the node."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError

from ddb_opensearch_sync.core.settings import Settings
from ddb_opensearch_sync.index.setup import setup_index
from ddb_opensearch_sync.search import handler as search_handler
from ddb_opensearch_sync.search.params import count_words, parse_search
from ddb_opensearch_sync.search.query import scoring_query, search_body
from tests.support.names import unique
from tests.support.opensearch import dropped_afterwards

pytestmark = pytest.mark.stack

BOOKS = {
    "r1": {"title": "Dune", "author": "Frank Herbert", "year": 1965, "tags": ["sf", "classic"],
           "summary": "A desert planet, spice and a prophecy."},
    "r2": {"title": "Dune Messiah", "author": "Frank Herbert", "year": 1969, "tags": ["sf"],
           "summary": "The desert planet again, twelve years on."},
    "r3": {"title": "The Desert", "author": "Anon", "tags": ["travel"],
           "summary": "Planet Earth's driest places."},
    "r4": {"title": "Planet of Exile", "author": "Ursula K. Le Guin", "year": 1966,
           "tags": ["sf"], "summary": "A desert of ice; Herbert is not in it."},
    "r5": {"title": "東京の砂漠", "author": "匿名", "tags": ["旅行"], "summary": "砂漠の惑星"},
}  # fmt: skip
QUERIES = [
    "",
    "dune",
    "Dune",
    "dune messiah",
    "desert planet",
    "planet desert",
    "the desert",
    "frank herbert sf",
    "herbrt",
    "mesiah dnue",
    "planet earth's",
    "ice",
    "砂漠",
    "東京 惑星",
    "nothing at all",
]


@pytest.fixture(scope="module")
def scored(opensearch_client: OpenSearch) -> Iterator[str]:
    with dropped_afterwards(opensearch_client, unique("ryw")) as alias:
        setup_index(opensearch_client, alias)
        for book_id, book in BOOKS.items():
            document = {"book_id": book_id, **book, "_sync": {"seq": "1", "deleted": False}}
            opensearch_client.index(index=alias, id=book_id, body=document)
        opensearch_client.indices.refresh(index=alias)
        yield alias


@pytest.mark.parametrize("q", QUERIES)
def test_a_book_scored_in_memory_scores_as_the_index_scores_it(
    opensearch_client: OpenSearch, scored: str, q: str
):
    # GIVEN the scores the index gives every book for q (0 or absent: no match)
    request = parse_search({"q": [q]} if q else {})
    response = opensearch_client.search(index=scored, body={**search_body(request), "size": 20})
    in_index = {hit["_id"]: hit["sort"][0] for hit in response["hits"]["hits"]}

    # WHEN each book is evaluated in memory, as a search with sync tokens does
    in_memory = {}
    for hit in opensearch_client.search(index=scored, body={"size": 20})["hits"]["hits"]:
        score = search_handler._score(
            opensearch_client, scored, hit["_source"], scoring_query(request)
        )
        if score is not None:
            in_memory[hit["_id"]] = score

    # THEN the same books match, with the same scores: a merged book ranks where it will
    assert in_memory == in_index


TEXTS = [
    "hello world",
    "東京都庁",
    "don't stop U.S.A.",
    "1,000.5 apples a,b foo_bar",
    "😀😀 a 🚀",
    "タワー東京 ひらがな",
    "한국어 텍스트",
    "Ærøskøbing naïve café",
    "-- ... !!! ()",
]


@pytest.mark.parametrize("text", TEXTS)
def test_words_are_counted_as_the_nodes_tokenizer_counts_them(
    opensearch_client: OpenSearch, scored: str, text: str
):
    analysed = opensearch_client.indices.analyze(
        index=scored, body={"analyzer": "book_text", "text": text}
    )

    assert count_words(text) == len(analysed["tokens"])


def test_an_emoji_sequence_is_counted_at_least_once(opensearch_client: OpenSearch, scored: str):
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    analysed = opensearch_client.indices.analyze(
        index=scored, body={"analyzer": "book_text", "text": family}
    )

    assert count_words(family) >= len(analysed["tokens"]) == 1


def node_error(client: OpenSearch, alias: str, query: dict) -> TransportError:
    with pytest.raises(TransportError) as raised:
        client.search(index=alias, body={"query": query})
    return raised.value


def test_a_query_too_large_for_the_node_is_the_clients_to_fix(
    opensearch_client: OpenSearch, scored: str, opensearch_url: str
):
    # GIVEN the node's own answer to a query of more clauses than it allows
    too_many = {"bool": {"should": [{"term": {"tags": f"t{i}"}} for i in range(1100)]}}
    error = node_error(opensearch_client, scored, too_many)

    assert error.status_code == 400
    assert search_handler._too_many_clauses(error)
    # AND the handler's answer to it: 400 naming the parameter, not 503
    settings = Settings(endpoint=opensearch_url, alias=scored)
    answer, _ = search_handler._run(({"query": too_many}, lambda *_: {}), settings)
    assert answer["statusCode"] == 400
    assert "too many words" in answer["body"]


def test_another_bad_query_quoting_the_words_is_not_taken_for_one(
    opensearch_client: OpenSearch, scored: str
):
    # GIVEN an error whose text quotes user input that reads like the too-many-clauses error
    quoting = {"range": {"year": {"gte": "too_many_nested_clauses"}}}
    error = node_error(opensearch_client, scored, quoting)

    assert "too_many_nested_clauses" in str(error.info)
    assert not search_handler._too_many_clauses(error)

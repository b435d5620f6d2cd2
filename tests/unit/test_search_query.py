"""The search API's pure parts: parameters, continuation tokens, request bodies, answers.

The OpenSearch answers in fixtures/opensearch_search_responses.json are real ones, captured from
the stack's node for `search_body`/`suggest_body` of the parameters stored beside them.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ddb_opensearch_sync.search import handler as search_handler
from ddb_opensearch_sync.search.params import (
    DEFAULT_SIZE,
    MAX_QUERY_WORDS,
    MAX_SIZE,
    InvalidParameterError,
    SearchRequest,
    SuggestRequest,
    parse_search,
    parse_suggest,
)
from ddb_opensearch_sync.search.query import (
    BOOK_FIELDS,
    EXACT_TITLE_BOOST,
    FUZZY_MAX_EXPANSIONS,
    PHRASE_BOOST,
    TEXT_FIELDS,
    TITLE_PHRASE_BOOST,
    search_body,
    search_page,
    suggest_body,
    suggest_page,
)
from ddb_opensearch_sync.search.token import (
    MAX_ID_BYTES,
    MAX_TOKEN_CHARS,
    Cursor,
    InvalidTokenError,
    decode_token,
    encode_token,
)

FIXTURES = json.loads(
    (Path(__file__).parent / "fixtures" / "opensearch_search_responses.json").read_text()
)
OPENAPI = yaml.safe_load(
    (Path(__file__).parents[2] / "infra" / "modules" / "api" / "openapi.yaml").read_text()
)
OPENAPI_NEXT_TOKEN_MAX = next(
    p["schema"]["maxLength"]
    for p in OPENAPI["paths"]["/books/search"]["get"]["parameters"]
    if p["name"] == "next_token"
)
INJECTIONS = ["title:*", ")(", '"', "\\", "*", "a AND b OR c", "title:(x) +y -z", "{}", "~1^2"]


def params(**values: str | list[str]) -> dict[str, list[str]]:
    return {name: value if isinstance(value, list) else [value] for name, value in values.items()}


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a JSON-like tree, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def keys_of(node: Any) -> set[str]:
    return {key for key, _ in walk(node)}


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# ---------------------------------------------------------------------------------------------
# search parameters
# ---------------------------------------------------------------------------------------------


def test_no_parameters_list_everything_one_default_page():
    assert parse_search(None) == SearchRequest(q="", size=DEFAULT_SIZE)
    assert parse_search({}) == parse_search(params(q="   "))


def test_every_parameter_is_parsed():
    request = parse_search(
        params(
            q="  left hand  ",
            author="Ursula K. Le Guin",
            tag=["sf", "classic", "sf"],
            year_from="-50",
            year_to="1969",
            size="50",
        )
    )

    assert request == SearchRequest(
        q="left hand",
        author="Ursula K. Le Guin",
        tags=("sf", "classic"),
        year_from=-50,
        year_to=1969,
        size=50,
    )


def test_filter_values_are_kept_verbatim():
    request = parse_search(params(author="  padded  ", tag=[" x ", "title:*"]))

    assert (request.author, request.tags) == ("  padded  ", (" x ", "title:*"))


INVALID_SEARCHES = {
    "size zero": (params(size="0"), "size"),
    "size too big": (params(size=str(MAX_SIZE + 1)), "size"),
    "size not a number": (params(size="ten"), "size"),
    "size a fraction": (params(size="1.5"), "size"),
    "size negative": (params(size="-1"), "size"),
    "size with a space": (params(size=" 5"), "size"),
    "size empty": (params(size=""), "size"),
    "year too big": (params(year_from="12345"), "year_from"),
    "year not a number": (params(year_to="19x9"), "year_to"),
    "year with a plus": (params(year_from="+1999"), "year_from"),
    "year below range": (params(year_to="-5001"), "year_to"),
    "years reversed": (params(year_from="2000", year_to="1999"), "year_from"),
    "unknown parameter": (params(tags="sf"), "tags"),
    "q twice": (params(q=["a", "b"]), "q"),
    "size twice": (params(size=["1", "2"]), "size"),
    "empty author": (params(author=""), "author"),
    "empty tag": (params(tag=["sf", ""]), "tag"),
    "too many tags": (params(tag=[f"t{i}" for i in range(11)]), "tag"),
    "author too long": (params(author="a" * 501), "author"),
    "q too long": (params(q="a" * 201), "q"),
    "q too many words": (params(q=" ".join(["w"] * (MAX_QUERY_WORDS + 1))), "q"),
    "q with a control character": (params(q="a\x00b"), "q"),
    "garbage token": (params(next_token="not a token!"), "next_token"),
    "empty token": (params(next_token=""), "next_token"),
}


@pytest.mark.parametrize(
    ("given_params", "parameter"), INVALID_SEARCHES.values(), ids=INVALID_SEARCHES.keys()
)
def test_invalid_search_parameters_are_rejected_with_the_parameter_named(
    given_params: dict[str, list[str]], parameter: str
):
    with pytest.raises(InvalidParameterError) as raised:
        parse_search(given_params)

    assert raised.value.parameter == parameter
    assert str(raised.value).startswith(f"invalid parameter {parameter!r}: ")
    assert raised.value.reason


def test_ten_words_and_tabs_are_fine():
    request = parse_search(params(q="\t".join(["word"] * MAX_QUERY_WORDS)))

    assert request.q.count("word") == MAX_QUERY_WORDS


# ---------------------------------------------------------------------------------------------
# suggest parameters
# ---------------------------------------------------------------------------------------------


def test_suggest_takes_a_prefix_and_a_size():
    assert parse_suggest(params(prefix=" the ho ")) == SuggestRequest(prefix="the ho", size=5)
    assert parse_suggest(params(prefix="x", size="10")).size == 10


@pytest.mark.parametrize(
    ("given_params", "parameter"),
    [
        (params(), "prefix"),
        (params(prefix="   "), "prefix"),
        (params(prefix="a" * 101), "prefix"),
        (params(prefix="a", size="11"), "size"),
        (params(prefix="a", q="b"), "q"),
        (params(prefix=["a", "b"]), "prefix"),
    ],
)
def test_invalid_suggest_parameters_are_rejected(given_params, parameter):
    with pytest.raises(InvalidParameterError) as raised:
        parse_suggest(given_params)

    assert raised.value.parameter == parameter


# ---------------------------------------------------------------------------------------------
# continuation tokens
# ---------------------------------------------------------------------------------------------


def test_a_token_round_trips_and_survives_a_new_page_size():
    first = parse_search(params(q="darkness", tag="sf", size="2"))
    token = encode_token(Cursor(1.6666666, "b-3"), first.fingerprint())

    later = parse_search(params(q="darkness", tag="sf", size="7", next_token=token))

    assert later.after == Cursor(1.6666666, "b-3")
    assert later.size == 7
    assert search_body(later)["search_after"] == [1.6666666, "b-3"]


@pytest.mark.parametrize(
    "changed",
    [
        params(q="light"),
        params(q="darkness", tag="classic"),
        params(q="darkness", tag=["sf", "classic"]),
        params(q="darkness", tag="sf", author="x"),
        params(q="darkness", tag="sf", year_from="1900"),
    ],
)
def test_a_token_is_refused_for_another_query(changed: dict[str, list[str]]):
    token = encode_token(
        Cursor(2.0, "b-1"), parse_search(params(q="darkness", tag="sf")).fingerprint()
    )

    with pytest.raises(InvalidParameterError, match="another query"):
        parse_search({**changed, "next_token": [token]})


def test_the_order_of_repeated_tags_does_not_matter_to_a_token():
    token = encode_token(Cursor(2.0, "b-1"), parse_search(params(tag=["a", "b"])).fingerprint())

    assert parse_search(params(tag=["b", "a"], next_token=token)).after == Cursor(2.0, "b-1")


FINGERPRINT = "0123456789abcdef"
VALID = {"v": 1, "f": FINGERPRINT, "a": [1.5, "b-1"]}
HUGE = "1" + "0" * 400  # an integer no float can hold: float() raised OverflowError


def v2(version: int = 2, score: float = 1.5, book_id: bytes = b"b-1") -> str:
    raw = struct.pack(">B8sd", version, bytes.fromhex(FINGERPRINT), score) + book_id
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


TAMPERED = {
    "padding": encode_token(Cursor(1.5, "b-1"), FINGERPRINT) + "==",
    "standard base64 alphabet": base64.b64encode(b'{"v":1,"f":"x","a":[1,"?>?"]}').decode(),
    "not base64": "!!!!",
    "not JSON": b64("v=1"),
    "not an object": b64("[1]"),
    "a key missing": b64(json.dumps({"v": 1, "a": [1.5, "b-1"]})),
    "an extra key": b64(json.dumps({**VALID, "q": "title:*"})),
    "a duplicate key": b64(f'{{"v":1,"f":"{FINGERPRINT}","a":[1.5,"b-1"],"a":[9,"z"]}}'),
    "another version": b64(json.dumps({**VALID, "v": 2})),
    "version true": b64(json.dumps({**VALID, "v": True})),
    "score NaN": b64(f'{{"v":1,"f":"{FINGERPRINT}","a":[NaN,"b-1"]}}'),
    "score Infinity": b64(f'{{"v":1,"f":"{FINGERPRINT}","a":[Infinity,"b-1"]}}'),
    "score overflowing": b64(f'{{"v":1,"f":"{FINGERPRINT}","a":[1e999,"b-1"]}}'),
    "score a string": b64(json.dumps({**VALID, "a": ["1.5", "b-1"]})),
    "score a boolean": b64(json.dumps({**VALID, "a": [True, "b-1"]})),
    "id a number": b64(json.dumps({**VALID, "a": [1.5, 7]})),
    "id empty": b64(json.dumps({**VALID, "a": [1.5, ""]})),
    "id too long": b64(json.dumps({**VALID, "a": [1.5, "x" * 1025]})),
    "three sort values": b64(json.dumps({**VALID, "a": [1.5, "b-1", "c"]})),
    "an object as id": b64(json.dumps({**VALID, "a": [1.5, {"query_string": "x"}]})),
    "deeply nested": b64('{"v":1,"f":"x","a":' + "[" * 1000 + "]" * 1000 + "}"),
    "too long": "A" * (MAX_TOKEN_CHARS + 1),
    "version 1 (JSON)": b64(json.dumps(VALID, separators=(",", ":"))),
    "score a huge integer (version 1)": b64(f'{{"v":1,"f":"{FINGERPRINT}","a":[{HUGE},"b-1"]}}'),
    "version 3": v2(version=3),
    "v2 score NaN": v2(score=math.nan),
    "v2 score infinite": v2(score=-math.inf),
    "v2 no id": v2(book_id=b""),
    "v2 id not UTF-8": v2(book_id=b"\xff\xfe"),
    "v2 id over DynamoDB's limit": v2(book_id=b"x" * 2049),
    "v2 cut short": v2()[:12],
}


@pytest.mark.parametrize("token", TAMPERED.values(), ids=TAMPERED.keys())
def test_a_tampered_token_is_refused(token: str):
    with pytest.raises(InvalidTokenError):
        decode_token(token, FINGERPRINT)


def test_the_untampered_token_of_those_cases_is_accepted():
    assert decode_token(v2(), FINGERPRINT) == Cursor(1.5, "b-1")


def test_a_token_with_a_huge_number_is_a_400_not_a_crash():
    token = b64(f'{{"v":1,"f":"{FINGERPRINT}","a":[{HUGE},"b-1"]}}')

    response = search_handler.answer(proxy_event("/books/search", next_token=[token]))

    assert response["statusCode"] == 400
    assert "next_token" in json.loads(response["body"])["message"]


@pytest.mark.parametrize(
    "book_id",
    ["\u00e9" * 1024, '"' * 2048, "\x01" * 2048, "\U0001f600" * 512],
    ids=["2-byte letters", "quotes", "control characters", "emoji"],
)
def test_the_longest_ids_make_tokens_the_api_accepts(book_id: str):
    # GIVEN ids of DynamoDB's maximum key size (2048 bytes), of the characters that grow most
    # when escaped
    assert len(book_id.encode()) == MAX_ID_BYTES
    token = encode_token(Cursor(1.5, book_id), FINGERPRINT)

    # THEN the token is within the API's limit for next_token, and it reads back
    assert len(token) <= MAX_TOKEN_CHARS <= OPENAPI_NEXT_TOKEN_MAX
    assert decode_token(token, FINGERPRINT) == Cursor(1.5, book_id)


@given(st.text(max_size=300))
def test_any_text_as_a_token_is_either_valid_or_refused_cleanly(token: str):
    with contextlib.suppress(InvalidTokenError):
        decode_token(token, FINGERPRINT)


@given(st.floats(allow_nan=False, allow_infinity=False), st.text(min_size=1, max_size=200))
def test_every_cursor_round_trips(score: float, book_id: str):
    assert decode_token(encode_token(Cursor(score, book_id), FINGERPRINT), FINGERPRINT) == Cursor(
        score, book_id
    )


# ---------------------------------------------------------------------------------------------
# search request bodies
# ---------------------------------------------------------------------------------------------


def test_an_empty_query_lists_every_live_book_in_id_order():
    body = search_body(parse_search(None))

    assert body["query"]["bool"]["must"] == [{"match_all": {}}]
    assert "should" not in body["query"]["bool"]
    assert body["sort"] == [{"_score": {"order": "desc"}}, {"book_id": {"order": "asc"}}]
    assert body["size"] == DEFAULT_SIZE + 1
    assert body["track_total_hits"] is True
    assert "highlight" not in body and "search_after" not in body
    # Tombstones stay hidden even when searching an index rather than the alias.
    assert {"bool": {"must_not": [{"term": {"_sync.deleted": True}}]}} in body["query"]["bool"][
        "filter"
    ]


def test_hits_carry_the_book_fields_only():
    body = search_body(parse_search(params(q="x")))

    assert body["_source"] == {"includes": list(BOOK_FIELDS)}
    assert "_sync" not in BOOK_FIELDS


def test_full_text_is_fuzzy_over_weighted_fields_and_ranked_by_exact_title_then_phrases():
    bool_query = search_body(parse_search(params(q="left hand")))["query"]["bool"]

    (matches,) = bool_query["must"]
    assert matches["multi_match"]["query"] == "left hand"
    assert matches["multi_match"]["fuzziness"] == "AUTO"
    assert matches["multi_match"]["fields"] == ["title^3", "author^2", "summary", "tags.text"]
    exact, title_phrase, other_phrase, all_words = bool_query["should"]
    assert exact["term"]["title.keyword"]["value"] == "left hand"
    assert exact["term"]["title.keyword"]["case_insensitive"] is True
    assert title_phrase["match_phrase"]["title"]["query"] == "left hand"
    assert other_phrase["multi_match"]["type"] == "phrase"
    assert all_words["multi_match"] | {"query": None} == {
        "query": None,
        "type": "cross_fields",
        "fields": list(TEXT_FIELDS),
        "operator": "and",
    }


def test_ranking_tiers_outweigh_everything_below_them():
    # With boolean similarity a clause scores its boost; each word adds at most its best
    # field's weight (3) in each of the two word clauses.
    words = MAX_QUERY_WORDS * max(float(f.partition("^")[2] or 1) for f in TEXT_FIELDS) * 2

    assert words < PHRASE_BOOST
    assert PHRASE_BOOST + words < TITLE_PHRASE_BOOST
    assert TITLE_PHRASE_BOOST + PHRASE_BOOST + words < EXACT_TITLE_BOOST


def test_the_longest_query_stays_under_opensearchs_clause_limit():
    fuzzy = MAX_QUERY_WORDS * len(TEXT_FIELDS) * FUZZY_MAX_EXPANSIONS
    exact = 3 * MAX_QUERY_WORDS * len(TEXT_FIELDS) + 1  # phrases, all words, exact title

    assert fuzzy + exact < 1024


def test_filters_are_exact_terms_and_an_inclusive_year_range():
    request = parse_search(params(author="Le Guin", tag=["sf", "classic"], year_from="1960"))

    filters = search_body(request)["query"]["bool"]["filter"]

    assert {"term": {"author.keyword": "Le Guin"}} in filters
    assert {"term": {"tags": "sf"}} in filters
    assert {"term": {"tags": "classic"}} in filters
    assert {"range": {"year": {"gte": 1960}}} in filters
    both = search_body(parse_search(params(year_from="1960", year_to="1969")))
    assert {"range": {"year": {"gte": 1960, "lte": 1969}}} in both["query"]["bool"]["filter"]


def test_facets_and_highlights_are_asked_for():
    body = search_body(parse_search(params(q="x")))

    assert body["aggs"]["tags"]["terms"]["field"] == "tags"
    assert body["aggs"]["authors"]["terms"]["field"] == "author.keyword"
    assert body["aggs"]["decades"]["histogram"] == {
        "field": "year",
        "interval": 10,
        "min_doc_count": 1,
    }
    assert body["highlight"]["encoder"] == "html"
    assert set(body["highlight"]["fields"]) == {"title", "summary"}


@pytest.mark.parametrize("text", INJECTIONS)
def test_user_text_is_only_ever_a_value_of_text_or_term_queries(text: str):
    request = parse_search(params(q=text, author=text, tag=text))
    body = search_body(request)

    assert not keys_of(body) & {"query_string", "simple_query_string", "script", "regexp"}
    holders = {key for key, value in walk(body) if value == text.strip()}
    assert holders <= {"query", "value", "author.keyword", "tags"}


@given(st.text(max_size=200))
def test_no_text_makes_a_query_string_query(text: str):
    try:
        request = parse_search(params(q=text))
    except InvalidParameterError:
        return

    for body in (search_body(request), suggest_body(SuggestRequest(prefix=text or "x"))):
        assert not keys_of(body) & {"query_string", "simple_query_string", "script"}
        assert json.loads(json.dumps(body)) == body  # plain JSON, user text as data


# ---------------------------------------------------------------------------------------------
# search answers
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def search_case() -> tuple[SearchRequest, dict[str, Any]]:
    case = copy.deepcopy(FIXTURES["search"])
    return parse_search(case["params"]), case["response"]


def test_a_page_holds_size_books_and_a_token_to_the_next(search_case):
    request, response = search_case

    page = search_page(response, request)

    assert request.size == 2 and len(response["hits"]["hits"]) == 3
    assert [item["book_id"] for item in page["items"]] == ["b-1", "b-2"]
    assert page["total"] == 3
    cursor = decode_token(page["next_token"], request.fingerprint())
    assert cursor == Cursor.from_sort(response["hits"]["hits"][1]["sort"])


def test_the_last_page_has_no_token(search_case):
    request, response = search_case
    response["hits"]["hits"] = response["hits"]["hits"][:2]

    assert search_page(response, request)["next_token"] is None


def test_items_are_plain_books_with_score_and_html_highlights(search_case):
    request, response = search_case
    response["hits"]["hits"][1]["_source"]["_sync"] = {"seq": "1", "deleted": False}

    first, second = search_page(response, request)["items"]

    assert first == {
        "book_id": "b-1",
        "title": "The Left Hand of Darkness",
        "author": "Ursula K. Le Guin",
        "year": 1969,
        "isbn": "isbn-b-1",
        "tags": ["sf", "classic"],
        "summary": "An envoy on the planet Gethen, where <people> have no fixed sex.",
        "score": 18.0,
        "highlights": {"title": ["The <em>Left</em> <em>Hand</em> of <em>Darkness</em>"]},
    }
    assert "_sync" not in second
    assert second["highlights"]["summary"] == [
        "The <em>left</em> <em>hand</em> of the &quot;party&quot; &amp; &lt;its&gt; rules."
    ]


def test_facets_count_values_and_decades(search_case):
    request, response = search_case

    facets = search_page(response, request)["facets"]

    assert facets == {
        "tags": [
            {"value": "classic", "count": 2},
            {"value": "sf", "count": 2},
            {"value": "politics", "count": 1},
        ],
        "authors": [
            {"value": "Ursula K. Le Guin", "count": 2},
            {"value": "Arthur Koestler", "count": 1},
        ],
        "decades": [
            {"decade": 1940, "count": 1},
            {"decade": 1960, "count": 1},
            {"decade": 1970, "count": 1},
        ],
    }


def test_an_empty_answer_is_an_empty_page():
    response = {"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}}

    assert search_page(response, parse_search(None)) == {
        "total": 0,
        "items": [],
        "facets": {"tags": [], "authors": [], "decades": []},
        "next_token": None,
    }


# ---------------------------------------------------------------------------------------------
# suggest
# ---------------------------------------------------------------------------------------------


def test_suggest_completes_the_last_word_on_the_title_shingles_one_per_title():
    body = suggest_body(SuggestRequest(prefix="the ho", size=3))

    (match,) = body["query"]["bool"]["must"]
    assert match["multi_match"]["type"] == "bool_prefix"
    assert match["multi_match"]["query"] == "the ho"
    assert match["multi_match"]["fields"] == [
        "title.suggest",
        "title.suggest._2gram",
        "title.suggest._3gram",
    ]
    assert body["collapse"] == {"field": "title.keyword"}
    assert body["size"] == 3


def test_suggestions_are_titles_with_their_book():
    case = FIXTURES["suggest"]
    request = parse_suggest(case["params"])

    page = suggest_page(case["response"], request)

    assert page == {
        "prefix": "the d",
        "suggestions": [
            {"title": "The Dispossessed", "book_id": "b-3", "author": "Ursula K. Le Guin"},
            {
                "title": "The Left Hand of Darkness",
                "book_id": "b-1",
                "author": "Ursula K. Le Guin",
            },
        ],
    }


# ---------------------------------------------------------------------------------------------
# the handler's pure edges (no OpenSearch reached)
# ---------------------------------------------------------------------------------------------


class Context:
    """The fields of a Lambda context the handler's logger reads."""

    function_name = "search"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:search"
    memory_limit_in_mb = 256
    aws_request_id = "request-1"


def proxy_event(resource: str, method: str = "GET", **query: list[str]) -> dict[str, Any]:
    return {
        "resource": resource,
        "httpMethod": method,
        "multiValueQueryStringParameters": query or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
    }


def test_query_parameters_keep_repeated_values():
    event = proxy_event("/books/search", tag=["a", "b"], q=["x"])

    assert search_handler.query_parameters(event) == {"tag": ["a", "b"], "q": ["x"]}
    assert search_handler.query_parameters({"queryStringParameters": {"q": "x"}}) == {"q": ["x"]}
    assert search_handler.query_parameters({}) == {}


def test_the_handler_answers_400_with_a_reason_before_calling_opensearch():
    response = search_handler.handler(proxy_event("/books/search", size=["0"]), Context())

    assert response["statusCode"] == 400
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == {
        "message": "invalid parameter 'size': must be an integer from 1 to 50"
    }


def test_the_handler_serves_only_its_two_routes():
    response = search_handler.handler(proxy_event("/books/search", method="POST"), Context())

    assert response["statusCode"] == 404


def test_too_many_clauses_is_the_clients_to_fix_other_failures_are_not():
    from opensearchpy.exceptions import RequestError

    too_many = RequestError(
        400,
        "search_phase_execution_exception",
        {"error": {"root_cause": [{"type": "too_many_nested_clauses", "reason": "1025 > 1024"}]}},
    )
    other = RequestError(400, "parsing_exception", {"error": {"type": "parsing_exception"}})

    assert search_handler._too_many_clauses(too_many)
    assert not search_handler._too_many_clauses(other)

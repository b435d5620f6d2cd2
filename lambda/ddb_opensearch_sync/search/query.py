"""Requests -> OpenSearch request bodies; OpenSearch responses -> the API's JSON. Pure.

User text only ever appears as the value of ``multi_match``, ``match_phrase`` and ``term``
queries, which analyse it (or compare it) as text: there is no ``query_string`` or
``simple_query_string`` here, so ``title:*``, ``)(`` or ``AND`` mean nothing special.

Ranking. The text fields are scored with the ``boolean`` similarity (see
`ddb_opensearch_sync.core.mapping`): each matching clause adds its boost, whatever else the index
holds, so scores stay put while other documents change and ``search_after`` pages exactly. The
boosts are tiers, each worth more than everything below it can add up to (with at most
`params.MAX_QUERY_WORDS` words, a word scoring at most its best field's boost, 3):

====================================  ======  ==============================================
clause                                boost   what it rewards
====================================  ======  ==============================================
``title.keyword`` equals q            1000    the exact title (case-insensitive) first
``match_phrase`` on title              200    the words together, in order, in the title
phrase on author, summary, tags        100    ... or in another field
every word, across fields (``and``)    <= 30  books that have all the words
any word, fuzzy, best field            <= 30  the match itself (typos: fuzziness AUTO)
====================================  ======  ==============================================

Field weights inside the word clauses: title 3, author 2, summary and tags 1. A fuzzy match
(fuzziness AUTO: one edit for words of 3-5 letters, two beyond; the first letter as typed)
scores less than an exact one, since Lucene boosts an expansion by its edit distance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.mapping import alias_filter
from ..core.records import SYNC_FIELD
from .params import SearchRequest, SuggestRequest, words
from .token import Cursor, encode_token
from .types import DecadeCount, FacetCount, Facets, Highlights, SearchHit, SearchPage, SuggestPage

__all__ = [
    "BOOK_FIELDS",
    "FACET_SIZE",
    "FUZZY_MAX_EXPANSIONS",
    "scoring_query",
    "search_body",
    "search_page",
    "searchable_books",
    "suggest_body",
    "suggest_page",
    "suggest_query",
]

BOOK_FIELDS = ("book_id", "title", "author", "year", "isbn", "tags", "summary")
"""What a hit shows: the book as the API stores it (never ``_sync`` nor other attributes)."""
TEXT_FIELDS = ("title^3", "author^2", "summary", "tags.text")
PHRASE_FIELDS = ("author", "summary", "tags.text")
SUGGEST_FIELDS = ("title.suggest", "title.suggest._2gram", "title.suggest._3gram")
SUGGEST_SOURCE = ("book_id", "title", "author")

EXACT_TITLE_BOOST = 1000.0
TITLE_PHRASE_BOOST = 200.0
PHRASE_BOOST = 100.0
FUZZY_MAX_EXPANSIONS = 20
"""Terms one fuzzy word may expand to, per field: bounds the query's clause count."""
FACET_SIZE = 20
SUMMARY_FRAGMENT_CHARS = 150
SUMMARY_FRAGMENTS = 3

# Score first, then the book id: a total order, so search_after never skips nor repeats a
# tie. book_id is the table's key: every document has it.
SORT: list[dict[str, Any]] = [{"_score": {"order": "desc"}}, {"book_id": {"order": "asc"}}]
SUGGEST_SORT: list[dict[str, Any]] = [
    {"_score": {"order": "desc"}},
    {"title.keyword": {"order": "asc"}},
    {"book_id": {"order": "asc"}},
]
_FACET_ORDER = [{"_count": "desc"}, {"_key": "asc"}]  # deterministic among equal counts


# --- search ----------------------------------------------------------------------------------


def _filters(request: SearchRequest) -> list[dict[str, Any]]:
    # The alias already hides tombstones; saying it again keeps search right on any index.
    filters: list[dict[str, Any]] = [alias_filter()]
    # Exact values, as the facets list them: a filter keeps exactly the books its facet counts.
    if request.author is not None:
        filters.append({"term": {"author.keyword": request.author}})
    filters += [{"term": {"tags": tag}} for tag in request.tags]
    if request.year_from is not None or request.year_to is not None:
        years = {"gte": request.year_from, "lte": request.year_to}
        filters.append({"range": {"year": {k: v for k, v in years.items() if v is not None}}})
    return filters


def _text_clauses(q: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The clause a book must match, and the clauses that rank it (see the module docstring)."""
    matches = {
        "multi_match": {
            "query": q,
            "type": "best_fields",
            "fields": list(TEXT_FIELDS),
            "operator": "or",
            "fuzziness": "AUTO",
            # Typos rarely hit a word's first letter; keeping it fixed stops "hand" from
            # matching "and" and cuts the expansions to look at.
            "prefix_length": 1,
            "max_expansions": FUZZY_MAX_EXPANSIONS,
            # Boost-only scoring of expansions, in keeping with the boolean similarity.
            "fuzzy_rewrite": f"top_terms_boost_{FUZZY_MAX_EXPANSIONS}",
        }
    }
    ranks = [
        {
            "term": {
                "title.keyword": {"value": q, "case_insensitive": True, "boost": EXACT_TITLE_BOOST}
            }
        },
        {"match_phrase": {"title": {"query": q, "boost": TITLE_PHRASE_BOOST}}},
        {
            "multi_match": {
                "query": q,
                "type": "phrase",
                "fields": list(PHRASE_FIELDS),
                "boost": PHRASE_BOOST,
            }
        },
        {
            "multi_match": {
                "query": q,
                "type": "cross_fields",
                "fields": list(TEXT_FIELDS),
                "operator": "and",
            }
        },
    ]
    return matches, ranks


def _query(request: SearchRequest) -> dict[str, Any]:
    query: dict[str, Any] = {"filter": _filters(request)}
    if request.q:
        matches, ranks = _text_clauses(request.q)
        query["must"], query["should"] = [matches], ranks
    else:
        query["must"] = [{"match_all": {}}]  # every book scores 1: listed in book_id order
    return {"bool": query}


def _facet_aggregations() -> dict[str, Any]:
    return {
        "tags": {"terms": {"field": "tags", "size": FACET_SIZE, "order": _FACET_ORDER}},
        "authors": {
            "terms": {"field": "author.keyword", "size": FACET_SIZE, "order": _FACET_ORDER}
        },
        "decades": {"histogram": {"field": "year", "interval": 10, "min_doc_count": 1}},
    }


def _highlight() -> dict[str, Any]:
    return {
        # Escape the book's text, then mark matches: the fragments are safe HTML.
        "encoder": "html",
        "pre_tags": ["<em>"],
        "post_tags": ["</em>"],
        "fields": {
            "title": {"number_of_fragments": 0},
            "summary": {
                "fragment_size": SUMMARY_FRAGMENT_CHARS,
                "number_of_fragments": SUMMARY_FRAGMENTS,
            },
        },
    }


def _constant(clause: dict[str, Any], boost: float) -> dict[str, Any]:
    return {"constant_score": {"filter": clause, "boost": boost}}


def _weighted(field: str) -> tuple[str, float]:
    name, _, weight = field.partition("^")
    return name, float(weight or 1)


def _all_words(q: str) -> list[dict[str, Any]]:
    """``cross_fields`` with ``and`` as the boolean similarity scores it: every word must be
    in some field, and adds the weight of the best field it is in."""
    found = words(q)
    if not found:
        return []  # nothing to search for: the clause matches nothing, as in the index
    per_word = [
        {
            "dis_max": {
                "queries": [
                    _constant({"match": {name: {"query": word}}}, weight)
                    for name, weight in map(_weighted, TEXT_FIELDS)
                ]
            }
        }
        for word in found
    ]
    return [{"bool": {"must": per_word}}]


def scoring_query(request: SearchRequest) -> dict[str, Any]:
    """`search_body`'s query in a form that scores the same under any similarity.

    The Painless execute API evaluates a query against one document in memory with Lucene's
    default similarity (BM25), not the index's ``boolean`` one (`consistency` uses it to
    place a book no refresh has exposed yet). The exact-title and fuzzy clauses score by
    boosts alone already; the phrase clauses and the all-words clause are restated here
    with ``constant_score``, which is what the boolean similarity makes of them (a phrase
    scores its boost; a word its best field's weight). A word is split as `params.words`
    splits it, which agrees with the index's tokenizer except for rare punctuation.
    """
    if not request.q:
        return _query(request)
    matches, ranks = _text_clauses(request.q)
    exact_title = ranks[0]
    title_phrase = {"match_phrase": {"title": {"query": request.q}}}
    phrase = {"multi_match": {"query": request.q, "type": "phrase", "fields": list(PHRASE_FIELDS)}}
    should = [
        exact_title,
        _constant(title_phrase, TITLE_PHRASE_BOOST),
        _constant(phrase, PHRASE_BOOST),
        *_all_words(request.q),
    ]
    return {"bool": {"filter": _filters(request), "must": [matches], "should": should}}


def _source_fields(fields: tuple[str, ...], request: SearchRequest | SuggestRequest) -> list[str]:
    # With sync tokens, the bookkeeping tells which change a hit shows (`consistency`).
    return [*fields, *([SYNC_FIELD] if request.consistent_with else [])]


TOKENS_AGGREGATION = "consistent_with"
_FACET_SOURCE = ["author", "tags", "year"]


def _tokens_aggregation(request: SearchRequest) -> dict[str, Any]:
    # The sync tokens' books among the hits, as this very search sees them (same snapshot as
    # the total and facets): what `consistency` corrects them from.
    ids = [token.book_id for token in request.consistent_with]
    top = {"size": len(ids), "_source": {"includes": [SYNC_FIELD, *_FACET_SOURCE]}}
    return {"filter": {"ids": {"values": ids}}, "aggs": {"books": {"top_hits": top}}}


def searchable_books(response: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The sync tokens' books that matched a `search_body` search: id -> source (bookkeeping
    and facet fields)."""
    aggregation = (response.get("aggregations") or {}).get(TOKENS_AGGREGATION) or {}
    hits = ((aggregation.get("books") or {}).get("hits") or {}).get("hits") or []
    return {hit["_id"]: hit.get("_source") or {} for hit in hits}


def search_body(request: SearchRequest) -> dict[str, Any]:
    """The ``_search`` body for ``request``: hits, exact total, facets, highlights."""
    body: dict[str, Any] = {
        # One hit more than the page: whether it comes back says if there is a next page.
        # One more per sync token: a stale hit taken out must not leave the page short.
        "size": request.size + 1 + len(request.consistent_with),
        "track_total_hits": True,
        "query": _query(request),
        "sort": SORT,
        "_source": {"includes": _source_fields(BOOK_FIELDS, request)},
        "aggs": _facet_aggregations(),
    }
    if request.q:
        body["highlight"] = _highlight()
    if request.consistent_with:
        body["aggs"][TOKENS_AGGREGATION] = _tokens_aggregation(request)
    if request.after is not None:
        body["search_after"] = request.after.search_after()
    return body


def _hit(hit: Mapping[str, Any]) -> SearchHit:
    source = hit.get("_source") or {}
    book: dict[str, Any] = {name: source[name] for name in BOOK_FIELDS if name in source}
    highlight = hit.get("highlight") or {}
    highlights: Highlights = {}
    if "title" in highlight:
        highlights["title"] = list(highlight["title"])
    if "summary" in highlight:
        highlights["summary"] = list(highlight["summary"])
    book["score"] = Cursor.from_sort(hit.get("sort")).score
    book["highlights"] = highlights
    return book  # type: ignore[return-value]  # the index holds what the API wrote


def _counts(aggregation: Mapping[str, Any] | None) -> list[FacetCount]:
    buckets = (aggregation or {}).get("buckets", [])
    return [{"value": str(b["key"]), "count": int(b["doc_count"])} for b in buckets]


def _decades(aggregation: Mapping[str, Any] | None) -> list[DecadeCount]:
    buckets = (aggregation or {}).get("buckets", [])
    return [{"decade": int(b["key"]), "count": int(b["doc_count"])} for b in buckets]


def _facets(aggregations: Mapping[str, Any]) -> Facets:
    return {
        "tags": _counts(aggregations.get("tags")),
        "authors": _counts(aggregations.get("authors")),
        "decades": _decades(aggregations.get("decades")),
    }


def search_page(response: Mapping[str, Any], request: SearchRequest) -> SearchPage:
    """The API's answer for ``request`` from OpenSearch's ``response`` to `search_body`."""
    hits = response["hits"]["hits"]
    page, beyond = hits[: request.size], hits[request.size :]
    next_token = None
    if beyond and page:
        next_token = encode_token(Cursor.from_sort(page[-1].get("sort")), request.fingerprint())
    return {
        "total": int(response["hits"]["total"]["value"]),
        "items": [_hit(hit) for hit in page],
        "facets": _facets(response.get("aggregations") or {}),
        "next_token": next_token,
    }


# --- suggest ---------------------------------------------------------------------------------


def suggest_query(request: SuggestRequest) -> dict[str, Any]:
    """Titles that complete ``request.prefix`` as typed: every word but the last whole, the
    last one as a prefix (``bool_prefix`` over ``title.suggest`` and its shingles, so titles
    with the words in the order typed rank first)."""
    return {
        "bool": {
            "must": [
                {
                    "multi_match": {
                        "query": request.prefix,
                        "type": "bool_prefix",
                        "operator": "and",
                        "fields": list(SUGGEST_FIELDS),
                    }
                }
            ],
            "filter": [alias_filter()],
        }
    }


def suggest_body(request: SuggestRequest) -> dict[str, Any]:
    """The ``_search`` body for ``request`` (see `suggest_query`)."""
    return {
        "size": request.size + len(request.consistent_with),
        "query": suggest_query(request),
        "sort": SUGGEST_SORT,
        # One suggestion per title, however many books share it.
        "collapse": {"field": "title.keyword"},
        "_source": {"includes": _source_fields(SUGGEST_SOURCE, request)},
    }


def suggest_page(response: Mapping[str, Any], request: SuggestRequest) -> SuggestPage:
    suggestions = []
    for hit in response["hits"]["hits"][: request.size]:
        source = hit.get("_source") or {}
        if not isinstance(source.get("title"), str):
            continue
        suggestion: dict[str, Any] = {"title": source["title"], "book_id": source.get("book_id")}
        if isinstance(source.get("author"), str):
            suggestion["author"] = source["author"]
        suggestions.append(suggestion)
    return {"prefix": request.prefix, "suggestions": suggestions}  # type: ignore[typeddict-item]

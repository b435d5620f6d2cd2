"""Lambda entry point of the search API: ``ddb_opensearch_sync.search.handler.handler``.

API Gateway's Lambda proxy integration (``aws_proxy``) calls it for ``GET /books/search`` and
``GET /books/suggest``. All it does: parameters -> `params`, body -> `query`, one ``_search``
on the alias, answer -> `query`. Settings are the sync function's names (`settings`):
``OPENSEARCH_ENDPOINT``, ``OPENSEARCH_AUTH``, ``INDEX_ALIAS``, and ``CORS_ALLOW_ORIGIN`` (the
``Access-Control-Allow-Origin`` of every answer; unset: none). The client is built once per
execution environment.

With ``consistent_with`` (sync tokens of writes), `consistency` merges those writes into the
answer; see its docstring for the design. Such answers carry ``"consistent"`` (and, when
false, ``"pending"``: the tokens whose changes had not reached the index in time).

Answers: 200 with the page; 400 ``{"message"}`` naming the parameter and the reason (a query
OpenSearch finds too large included); 404 for a route it does not serve; 503 when OpenSearch
fails or cannot be reached (logged, details not returned).
"""

from __future__ import annotations

import functools
import json
import os
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar

from aws_lambda_powertools import Logger
from opensearchpy.exceptions import OpenSearchException, TransportError

from ..core.records import SYNC_FIELD
from ..core.settings import ENV_CORS_ALLOW_ORIGIN, Settings
from ..index.client import make_client
from .consistency import (
    MAX_WAIT_SECONDS,
    Fresh,
    SyncToken,
    has_landed,
    is_tombstone,
    merge_search,
    merge_suggest,
)
from .params import (
    InvalidParameterError,
    QueryParameters,
    SearchRequest,
    SuggestRequest,
    parse_search,
    parse_suggest,
)
from .query import (
    FACET_SIZE,
    scoring_query,
    search_body,
    search_page,
    searchable_books,
    suggest_body,
    suggest_page,
    suggest_query,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from opensearchpy import OpenSearch

__all__ = ["ProxyResponse", "handler", "search_consistently"]

SERVICE = "ddb-opensearch-sync-search"
CLIENT_TIMEOUT = 10.0
"""Seconds per OpenSearch request: well inside the function's and API Gateway's (29 s) limits."""

logger = Logger(service=os.getenv("POWERTOOLS_SERVICE_NAME") or SERVICE)


class ProxyResponse(TypedDict):
    statusCode: int
    headers: dict[str, str]
    body: str


RequestT = TypeVar("RequestT", SearchRequest, SuggestRequest)
Answer = Callable[["OpenSearch", Settings, Mapping[str, Any]], dict[str, Any]]
"""Turns OpenSearch's answer into the API's (with the client, to merge sync tokens' writes)."""
Planned = tuple[dict[str, Any], Answer]
"""The ``_search`` body of a request, and how to answer from OpenSearch's response."""

REREAD_FIRST_PAUSE = 0.05
REREAD_MAX_PAUSE = 0.8
"""Seconds between real-time reads of tokens whose changes have not landed (doubling)."""


@dataclass(frozen=True, slots=True)
class Route(Generic[RequestT]):
    """One read route: its parameters, its ``_search`` body, its page, and how sync tokens'
    writes are merged into OpenSearch's response (`consistency`)."""

    parse: Callable[[QueryParameters], RequestT]
    body: Callable[[RequestT], dict[str, Any]]
    page: Callable[[Mapping[str, Any], RequestT], Any]
    merge: Callable[
        [OpenSearch, Settings, RequestT, Mapping[str, Any]],
        tuple[dict[str, Any], list[SyncToken]],
    ]

    def __call__(self, params: QueryParameters) -> Planned:
        request = self.parse(params)

        def answer(client: OpenSearch, settings: Settings, response: Mapping[str, Any]) -> Any:
            if not request.consistent_with:
                return self.page(response, request)
            merged, pending = self.merge(client, settings, request, response)
            return {**self.page(merged, request), **_consistency(pending)}

        return self.body(request), answer


def _consistency(pending: list[SyncToken]) -> dict[str, Any]:
    if not pending:
        return {"consistent": True}
    return {"consistent": False, "pending": [token.text for token in pending]}


# --- read your writes (see `consistency`) ---------------------------------------------------


def _ids(tokens: tuple[SyncToken, ...] | list[SyncToken]) -> list[str]:
    return [token.book_id for token in tokens]


def _realtime(
    client: OpenSearch, alias: str, tokens: tuple[SyncToken, ...]
) -> tuple[dict[str, Mapping[str, Any] | None], list[SyncToken]]:
    """The tokens' documents as indexed (refreshed or not), re-read with backoff until every
    change has landed or `MAX_WAIT_SECONDS` pass; and the tokens still pending."""
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    pause = REREAD_FIRST_PAUSE
    documents: dict[str, Mapping[str, Any] | None] = {}
    waiting = list(tokens)
    while True:
        # _mget is real time by default: it sees indexed changes that no refresh has exposed.
        response = client.mget(index=alias, body={"ids": _ids(waiting)})
        for doc in response["docs"]:
            documents[doc["_id"]] = doc.get("_source") if doc.get("found") else None
        waiting = [token for token in waiting if not has_landed(token, documents[token.book_id])]
        if not waiting or time.monotonic() + pause > deadline:
            return documents, waiting
        time.sleep(pause)
        pause = min(pause * 2, REREAD_MAX_PAUSE)


def _score(
    client: OpenSearch, alias: str, source: Mapping[str, Any], query: dict[str, Any]
) -> float | None:
    """The document's score for ``query``, evaluated by OpenSearch in memory (with the index's
    mapping), or None when it does not match."""
    # The API fails (a null scorer) on a document the query does not match; beside a clause
    # that matches everything and scores 0, a non-match scores 0 (a match always scores > 0).
    always = {"bool": {"should": [query, {"match_all": {"boost": 0}}]}}
    body = {
        "context": "score",
        "script": {"source": "_score"},
        "context_setup": {"index": alias, "document": source, "query": always},
    }
    score = float(client.scripts_painless_execute(body=body)["result"])
    return _as_search_writes_it(score) if score > 0 else None


def _as_search_writes_it(score: float) -> float:
    """A Lucene score (a float32) as ``_search`` writes it: the shortest decimal that reads back
    as the same float32 (Painless answers its double value, 1.6666666269302368 for 1.6666666),
    so that merged hits sort and page against the others exactly."""
    single = struct.pack(">f", score)
    for digits in range(1, 10):
        shortest = float(f"{score:.{digits}g}")
        if struct.pack(">f", shortest) == single:
            return shortest
    return score


def _fresh(
    client: OpenSearch,
    alias: str,
    query: dict[str, Any],
    documents: Mapping[str, Mapping[str, Any] | None],
    books: list[str],
) -> list[Fresh]:
    fresh = []
    for book_id in books:
        source = documents.get(book_id)
        if source is None or is_tombstone(source):
            fresh.append(Fresh(book_id, None, None))
        else:
            fresh.append(Fresh(book_id, source, _score(client, alias, source, query)))
    return fresh


def _landed(tokens: tuple[SyncToken, ...], pending: list[SyncToken]) -> list[str]:
    return [token.book_id for token in tokens if token not in pending]


def search_consistently(
    client: OpenSearch, settings: Settings, request: SearchRequest, response: Mapping[str, Any]
) -> tuple[dict[str, Any], list[SyncToken]]:
    tokens, query = request.consistent_with, scoring_query(request)
    # Read (by the search) before the real-time documents: those are at least as new.
    searchable = searchable_books(response)
    documents, pending = _realtime(client, settings.alias, tokens)
    changed = [
        book_id
        for book_id in _landed(tokens, pending)
        if book_id not in searchable
        or searchable[book_id].get(SYNC_FIELD) != (documents.get(book_id) or {}).get(SYNC_FIELD)
    ]
    fresh = _fresh(client, settings.alias, query, documents, changed)
    merged = merge_search(response, fresh, searchable, after=request.after, facet_size=FACET_SIZE)
    return merged, pending


def _suggest_consistently(
    client: OpenSearch, settings: Settings, request: SuggestRequest, response: Mapping[str, Any]
) -> tuple[dict[str, Any], list[SyncToken]]:
    tokens = request.consistent_with
    documents, pending = _realtime(client, settings.alias, tokens)
    landed = _landed(tokens, pending)
    fresh = _fresh(client, settings.alias, suggest_query(request), documents, landed)
    return merge_suggest(response, fresh), pending


ROUTES: dict[str, Callable[[QueryParameters], Planned]] = {
    "/books/search": Route(parse_search, search_body, search_page, search_consistently),
    "/books/suggest": Route(parse_suggest, suggest_body, suggest_page, _suggest_consistently),
}


def respond(status: int, body: Mapping[str, Any]) -> ProxyResponse:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
    }


def query_parameters(event: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every value of every query-string parameter (``tag`` may repeat)."""
    multi = event.get("multiValueQueryStringParameters")
    if isinstance(multi, Mapping) and multi:
        return {str(name): [str(v) for v in values] for name, values in multi.items()}
    single = event.get("queryStringParameters")
    if isinstance(single, Mapping):
        return {str(name): [str(value)] for name, value in single.items()}
    return {}


@functools.lru_cache(maxsize=4)
def build_client(settings: Settings) -> OpenSearch:
    return make_client(
        settings.endpoint, auth=settings.auth, region=settings.region, timeout=CLIENT_TIMEOUT
    )


TOO_MANY_CLAUSES = frozenset({"too_many_clauses", "too_many_nested_clauses"})
"""OpenSearch's error types for a query that expands to more clauses than it allows."""


def _error_types(error: object) -> set[str]:
    """Every ``type`` in an OpenSearch error body (root causes, causes, failed shards)."""
    if isinstance(error, Mapping):
        found = {error["type"]} if isinstance(error.get("type"), str) else set()
        for value in error.values():
            found |= _error_types(value)
        return found
    if isinstance(error, list):
        return set().union(*map(_error_types, error)) if error else set()
    return set()


def _too_many_clauses(error: TransportError) -> bool:
    # A query whose words expand to more clauses than OpenSearch allows: the client's to
    # shorten, not a server fault. Decided by the error's types, never by its text, which
    # quotes user input in other errors.
    info = error.info.get("error") if isinstance(error.info, Mapping) else None
    return bool(_error_types(info) & TOO_MANY_CLAUSES)


def _run(planned: Planned, settings: Settings) -> tuple[ProxyResponse, int | None]:
    body, answer = planned
    client = build_client(settings)
    try:
        response = client.search(index=settings.alias, body=body)
        page = answer(client, settings, response)
    except TransportError as error:
        if error.status_code == 400 and _too_many_clauses(error):
            message = "invalid parameter 'q': too many words or characters to search for"
            return respond(400, {"message": message}), None
        logger.exception("OpenSearch failed the search")
        return respond(503, {"message": "Search is unavailable, retry later"}), None
    except OpenSearchException:
        logger.exception("OpenSearch could not be reached")
        return respond(503, {"message": "Search is unavailable, retry later"}), None
    return respond(200, page), response.get("took")


def with_cors(response: ProxyResponse, allow_origin: str | None) -> ProxyResponse:
    """The answer with ``Access-Control-Allow-Origin`` when CORS is on: a proxy integration's
    answer reaches the browser as the function wrote it."""
    if allow_origin:
        response["headers"] = {**response["headers"], "Access-Control-Allow-Origin": allow_origin}
    return response


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> ProxyResponse:
    return with_cors(answer(event), os.environ.get(ENV_CORS_ALLOW_ORIGIN))


def answer(event: dict[str, Any]) -> ProxyResponse:
    began = time.monotonic()
    resource = event.get("resource")
    route = ROUTES.get(resource) if event.get("httpMethod") == "GET" else None
    if route is None:
        return respond(404, {"message": "Not found"})
    try:
        planned = route(query_parameters(event))
    except InvalidParameterError as error:
        logger.info("rejected", extra={"route": resource, "parameter": error.parameter})
        return respond(400, {"message": str(error)})
    result, took = _run(planned, Settings.from_env())
    # No user text in the log: queries may be personal.
    logger.info(
        "answered",
        extra={
            "route": resource,
            "status": result["statusCode"],
            "opensearch_took_ms": took,
            "elapsed_ms": round((time.monotonic() - began) * 1000, 1),
        },
    )
    return result

"""Lambda entry point of the search API: ``ddb_opensearch_sync.search.handler.handler``.

API Gateway's Lambda proxy integration (``aws_proxy``) calls it for ``GET /books/search`` and
``GET /books/suggest``. All it does: parameters -> `params`, body -> `query`, one ``_search``
on the alias, answer -> `query`. Settings are the sync function's names (`settings`):
``OPENSEARCH_ENDPOINT``, ``OPENSEARCH_AUTH``, ``INDEX_ALIAS``. The client is built once per
execution environment.

Answers: 200 with the page; 400 ``{"message"}`` naming the parameter and the reason; 404 for a
route it does not serve; 503 when OpenSearch fails or cannot be reached (logged, details not
returned).
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from aws_lambda_powertools import Logger
from opensearchpy.exceptions import OpenSearchException, TransportError

from ..core.settings import Settings
from ..index.client import make_client
from .params import InvalidParameterError, QueryParameters, parse_search, parse_suggest
from .query import search_body, search_page, suggest_body, suggest_page

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from opensearchpy import OpenSearch

__all__ = ["ProxyResponse", "handler"]

SERVICE = "ddb-opensearch-sync-search"
CLIENT_TIMEOUT = 10.0
"""Seconds per OpenSearch request: well inside the function's and API Gateway's (29 s) limits."""

logger = Logger(service=os.getenv("POWERTOOLS_SERVICE_NAME") or SERVICE)


class ProxyResponse(TypedDict):
    statusCode: int
    headers: dict[str, str]
    body: str


Planned = tuple[dict[str, Any], Callable[[Mapping[str, Any]], Mapping[str, Any]]]
"""The ``_search`` body of a request, and how to turn OpenSearch's answer into the API's."""


def _plan_search(params: QueryParameters) -> Planned:
    request = parse_search(params)
    return search_body(request), lambda response: search_page(response, request)


def _plan_suggest(params: QueryParameters) -> Planned:
    request = parse_suggest(params)
    return suggest_body(request), lambda response: suggest_page(response, request)


ROUTES: dict[str, Callable[[QueryParameters], Planned]] = {
    "/books/search": _plan_search,
    "/books/suggest": _plan_suggest,
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


def _too_many_clauses(error: TransportError) -> bool:
    # A query whose words expand to more clauses than OpenSearch allows (e.g. a long run of
    # CJK characters, one term each): the client's to shorten, not a server fault.
    return "too_many" in str(error.info) and "clauses" in str(error.info)


def _run(planned: Planned, settings: Settings) -> tuple[ProxyResponse, int | None]:
    body, answer = planned
    try:
        response = build_client(settings).search(index=settings.alias, body=body)
    except TransportError as error:
        if error.status_code == 400 and _too_many_clauses(error):
            message = "invalid parameter 'q': too many words or characters to search for"
            return respond(400, {"message": message}), None
        logger.exception("OpenSearch failed the search")
        return respond(503, {"message": "Search is unavailable, retry later"}), None
    except OpenSearchException:
        logger.exception("OpenSearch could not be reached")
        return respond(503, {"message": "Search is unavailable, retry later"}), None
    return respond(200, answer(response)), response.get("took")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> ProxyResponse:
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

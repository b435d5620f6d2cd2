"""The search function's CORS header: a Lambda proxy integration's answer reaches the browser
as the function wrote it, so the function adds ``Access-Control-Allow-Origin`` itself when the
api module's ``cors`` sets ``CORS_ALLOW_ORIGIN``, and nothing when it is unset."""

from __future__ import annotations

from typing import Any

import pytest

from ddb_opensearch_sync.search.handler import answer, with_cors

ORIGIN = "https://shop.example.com"
# Answers that need no OpenSearch: an unknown route and an invalid parameter.
EVENTS = {
    404: {"httpMethod": "GET", "resource": "/books/nowhere", "queryStringParameters": None},
    400: {
        "httpMethod": "GET",
        "resource": "/books/search",
        "queryStringParameters": {"q": "dune", "limit": "0"},
        "multiValueQueryStringParameters": {"q": ["dune"], "limit": ["0"]},
    },
}


def answer_with(event: dict[str, Any], allow_origin: str | None) -> dict[str, Any]:
    """What the handler answers with ``CORS_ALLOW_ORIGIN`` set to ``allow_origin``."""
    return dict(with_cors(answer(event), allow_origin))


@pytest.mark.parametrize("status", sorted(EVENTS))
def test_every_answer_names_the_origin_when_cors_is_on(status: int) -> None:
    response = answer_with(EVENTS[status], ORIGIN)

    assert response["statusCode"] == status
    assert response["headers"] == {
        "Content-Type": "application/json",
        "Access-Control-Allow-Origin": ORIGIN,
    }


@pytest.mark.parametrize("status", sorted(EVENTS))
def test_no_cors_header_when_cors_is_off(status: int) -> None:
    response = answer_with(EVENTS[status], None)

    assert response["statusCode"] == status
    assert response["headers"] == {"Content-Type": "application/json"}

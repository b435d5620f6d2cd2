"""The search function's CORS header: a Lambda proxy integration's answer reaches the browser
as the function wrote it, so the function adds ``Access-Control-Allow-Origin`` itself when the
api module's ``cors`` sets ``CORS_ALLOW_ORIGIN``, and nothing when it is unset."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ddb_opensearch_sync.core.settings import ENV_CORS_ALLOW_ORIGIN
from ddb_opensearch_sync.search import handler as search_handler

ORIGIN = "https://shop.example.com"
# What powertools' inject_lambda_context reads from the Lambda context.
CONTEXT = SimpleNamespace(
    function_name="search",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:us-east-1:000000000000:function:search",
    aws_request_id="request-1",
)
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


def answer(event: dict[str, Any]) -> dict[str, Any]:
    return dict(search_handler.handler(event, CONTEXT))  # type: ignore[arg-type]


@pytest.mark.parametrize("status", sorted(EVENTS))
def test_every_answer_names_the_origin_when_cors_is_on(
    status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_CORS_ALLOW_ORIGIN, ORIGIN)

    response = answer(EVENTS[status])

    assert response["statusCode"] == status
    assert response["headers"] == {
        "Content-Type": "application/json",
        "Access-Control-Allow-Origin": ORIGIN,
    }


@pytest.mark.parametrize("status", sorted(EVENTS))
def test_no_cors_header_when_cors_is_off(status: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_CORS_ALLOW_ORIGIN, raising=False)

    response = answer(EVENTS[status])

    assert response["statusCode"] == status
    assert response["headers"] == {"Content-Type": "application/json"}

"""The search function's work without the API in between: parse the parameters, build the
body, one ``_search`` on a node, shape the answer (`ddb_opensearch_sync.search`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opensearchpy import OpenSearch

from ddb_opensearch_sync.search.params import parse_search, parse_suggest
from ddb_opensearch_sync.search.query import search_body, search_page, suggest_body, suggest_page

Params = Mapping[str, list[str]]
"""Query-string parameters as API Gateway passes them: name -> values."""


def run_search(client: OpenSearch, index: str, params: Params) -> tuple[dict[str, Any], Any]:
    """OpenSearch's response and the page the search API would answer."""
    request = parse_search(dict(params))
    response = client.search(index=index, body=search_body(request))
    return response, search_page(response, request)


def run_suggest(client: OpenSearch, index: str, params: Params) -> tuple[dict[str, Any], Any]:
    """OpenSearch's response and the suggestions the suggest API would answer."""
    request = parse_suggest(dict(params))
    response = client.search(index=index, body=suggest_body(request))
    return response, suggest_page(response, request)

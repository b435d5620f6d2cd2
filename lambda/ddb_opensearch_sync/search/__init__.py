"""The search API: ``GET /books/search`` and ``GET /books/suggest``.

Modules, from pure to I/O: `types` (the API's JSON shapes), `params` (query-string parameters
-> validated requests), `token` (the continuation token), `query` (request -> OpenSearch
request body; OpenSearch response -> API JSON) and `handler` (the Lambda proxy entry point,
``ddb_opensearch_sync.search.handler.handler``). Everything but `handler` is pure.
"""

from __future__ import annotations

from .params import (
    InvalidParameterError,
    SearchRequest,
    SuggestRequest,
    parse_search,
    parse_suggest,
)
from .query import search_body, search_page, suggest_body, suggest_page
from .token import Cursor, decode_token, encode_token

__all__ = [
    "Cursor",
    "InvalidParameterError",
    "SearchRequest",
    "SuggestRequest",
    "decode_token",
    "encode_token",
    "parse_search",
    "parse_suggest",
    "search_body",
    "search_page",
    "suggest_body",
    "suggest_page",
]

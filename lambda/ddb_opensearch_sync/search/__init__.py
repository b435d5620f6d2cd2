"""The search API: ``GET /books/search`` and ``GET /books/suggest``.

Modules, from pure to I/O: `types` (the API's JSON shapes), `params` (query-string parameters
-> validated requests), `token` (the continuation token), `consistency` (sync tokens and
read-your-writes merging: the design and its limits), `query` (request -> OpenSearch request
body; OpenSearch response -> API JSON) and `handler` (the Lambda proxy entry point,
``ddb_opensearch_sync.search.handler.handler``; the real-time reads for sync tokens).
Everything but `handler` is pure. This file imports nothing, so the search zip carries only
what the handler imports.
"""

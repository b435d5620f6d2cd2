"""What the tests (unit, integration, e2e) and the benchmarks share, one module per job.

- `settings`: where the stack and the deployed system are (the environment, read here only)
- `polling`: waiting for something with a deadline
- `names`: unique names and markers for what a test creates
- `aws`: boto3 clients for the stack's LocalStack, throwaway tables and queues
- `opensearch`: scratch aliases, reads with exact numbers, the alias as a search client sees it
- `streams`: DynamoDB stream records as Lambda delivers them
- `pipeline`: the sync code in-process, a live stream-to-index pipeline, the operator CLI
- `api`: the deployed books API over HTTP
- `search`: the search function's queries run straight against a node
- `processes`: host processes seen through ``/proc``

Fixtures built on these live in the ``conftest.py`` files of ``tests/``, ``tests/integration/``
and ``tests/e2e/``.
"""

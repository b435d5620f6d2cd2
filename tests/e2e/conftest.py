"""Fixtures of the end-to-end tests: the deployed alias, read as a search client reads it."""

from __future__ import annotations

import pytest
from opensearchpy import OpenSearch

from tests.support.opensearch import SearchIndex


@pytest.fixture(scope="session")
def search_index(opensearch_client: OpenSearch, index_alias: str) -> SearchIndex:
    return SearchIndex(opensearch_client, index_alias)

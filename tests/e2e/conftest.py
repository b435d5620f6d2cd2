"""Fixtures of the end-to-end tests: the deployed API, the index behind it, a unique marker."""

from __future__ import annotations

import pytest
from opensearchpy import OpenSearch

from tests.e2e.support import BooksApi, SearchIndex, new_marker


@pytest.fixture(scope="session")
def books_api(api_url: str) -> BooksApi:
    return BooksApi(api_url)


@pytest.fixture(scope="session")
def search_index(opensearch_client: OpenSearch, index_name: str) -> SearchIndex:
    return SearchIndex(opensearch_client, index_name)


@pytest.fixture()
def marker() -> str:
    """A word unique to one test, put in what it writes (other suites share the table)."""
    return new_marker()

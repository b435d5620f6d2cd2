"""Fixtures for every test: where the stack and the deployed system are, and clients for them.

Every value comes from `tests.support.settings` (the environment ``make env`` prints); a
deployed name that is missing fails the test that needs it, saying what to run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from opensearchpy import OpenSearch

from tests.support import aws
from tests.support.api import BooksApi
from tests.support.names import new_marker
from tests.support.settings import (
    API_URL,
    INDEX_ALIAS,
    SEARCH_FUNCTION_NAME,
    TABLE_NAME,
    SettingMissing,
    Settings,
)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


def _setting(name: str, read: Callable[[Settings], str], doc: str) -> Any:
    """A session fixture ``name`` holding ``read(settings)``; a deployed name that is missing
    fails the test that needs it, saying what to run."""

    def fixture(settings: Settings) -> str:
        try:
            return read(settings)
        except SettingMissing as missing:
            pytest.fail(str(missing))

    fixture.__doc__ = doc
    return pytest.fixture(scope="session", name=name)(fixture)


aws_endpoint_url = _setting("aws_endpoint_url", lambda s: s.aws_endpoint_url, "LocalStack")
opensearch_url = _setting("opensearch_url", lambda s: s.opensearch_url, "The stack's node")
aws_region = _setting("aws_region", lambda s: s.region, "The stack's region")
api_url = _setting(
    "api_url", lambda s: s.require(API_URL), "The deployed API's invoke URL, no trailing slash"
)
table_name = _setting("table_name", lambda s: s.require(TABLE_NAME), "The deployed table")
index_alias = _setting(
    "index_alias", lambda s: s.require(INDEX_ALIAS), "The alias the deployed function writes to"
)
search_function_name = _setting(
    "search_function_name", lambda s: s.require(SEARCH_FUNCTION_NAME), "The search function"
)


@pytest.fixture(scope="session")
def opensearch_client(opensearch_url: str) -> OpenSearch:
    """The project's own OpenSearch client (no auth) for the stack's node."""
    from ddb_opensearch_sync.index.client import make_client

    return make_client(opensearch_url)


@pytest.fixture(scope="session")
def exact_client(opensearch_url: str) -> OpenSearch:
    """The project's client that reads numbers exactly, as the operator commands use it."""
    from ddb_opensearch_sync.index.client import make_client

    return make_client(opensearch_url, exact_numbers=True)


@pytest.fixture(scope="session")
def aws_client(settings: Settings) -> Callable[..., aws.Client]:
    """``aws_client(service, config=None)``: a boto3 client for the stack's LocalStack."""
    return lambda service, config=None: aws.client(settings, service, config)


@pytest.fixture(scope="session")
def dynamodb_client(aws_client: Callable[..., aws.Client]) -> aws.Client:
    return aws_client("dynamodb")


@pytest.fixture(scope="session")
def sqs_client(aws_client: Callable[..., aws.Client]) -> aws.Client:
    return aws_client("sqs")


@pytest.fixture(scope="session")
def lambda_client(aws_client: Callable[..., aws.Client]) -> aws.Client:
    return aws_client("lambda")


@pytest.fixture()
def marker() -> str:
    """A word unique to one test, put in what it writes (suites share the deployed table)."""
    return new_marker()


@pytest.fixture(scope="session")
def books_api(api_url: str) -> BooksApi:
    return BooksApi(api_url)


@pytest.fixture(scope="session")
def books_table(dynamodb_client: aws.Client, table_name: str) -> aws.BooksTable:
    """The deployed table, read and written without the API."""
    return aws.BooksTable(dynamodb_client, table_name)

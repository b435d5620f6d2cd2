"""Fixtures for every test: where the stack and the deployed system are, and clients for them.

Every value comes from `tests.support.settings` (the environment ``make env`` prints); a
deployed name that is missing fails the test that needs it, saying what to run.
"""

from __future__ import annotations

from collections.abc import Callable

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


def _deployed(settings: Settings, name: str) -> str:
    try:
        return settings.require(name)
    except SettingMissing as missing:
        pytest.fail(str(missing))


@pytest.fixture(scope="session")
def aws_endpoint_url(settings: Settings) -> str:
    return settings.aws_endpoint_url


@pytest.fixture(scope="session")
def opensearch_url(settings: Settings) -> str:
    return settings.opensearch_url


@pytest.fixture(scope="session")
def aws_region(settings: Settings) -> str:
    return settings.region


@pytest.fixture(scope="session")
def api_url(settings: Settings) -> str:
    """Base URL of the deployed books API (the stage's invoke URL, no trailing slash)."""
    return _deployed(settings, API_URL)


@pytest.fixture(scope="session")
def table_name(settings: Settings) -> str:
    return _deployed(settings, TABLE_NAME)


@pytest.fixture(scope="session")
def index_alias(settings: Settings) -> str:
    """The alias the deployed function writes to (searches through it hide tombstones)."""
    return _deployed(settings, INDEX_ALIAS)


@pytest.fixture(scope="session")
def search_function_name(settings: Settings) -> str:
    return _deployed(settings, SEARCH_FUNCTION_NAME)


@pytest.fixture(scope="session")
def opensearch_client(opensearch_url: str) -> OpenSearch:
    """The project's own OpenSearch client (no auth) for the stack's node."""
    from ddb_opensearch_sync.client import make_client

    return make_client(opensearch_url)


@pytest.fixture(scope="session")
def exact_client(opensearch_url: str) -> OpenSearch:
    """The project's client that reads numbers exactly, as the operator commands use it."""
    from ddb_opensearch_sync.client import make_client

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

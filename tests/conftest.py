"""Shared test settings: where the stack and the deployed system are.

Every value comes from the environment that ``make env`` prints (the test command sources it),
with the native stack's defaults so that a test module can also be run by hand.
"""

from __future__ import annotations

import os

import pytest


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        pytest.fail(f'{name} is not set: run `make deploy`, then `eval "$(make -s env)"`')
    return value


@pytest.fixture(scope="session")
def aws_endpoint_url() -> str:
    return env("AWS_ENDPOINT_URL", "http://localhost:4566")


@pytest.fixture(scope="session")
def opensearch_url() -> str:
    return env("OPENSEARCH_URL", "http://localhost:9200")


@pytest.fixture(scope="session")
def aws_region() -> str:
    return env("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def api_url() -> str:
    """Base URL of the deployed books API (the stage's invoke URL, no trailing slash)."""
    return env("API_URL").rstrip("/")


@pytest.fixture(scope="session")
def table_name() -> str:
    return env("TABLE_NAME")


@pytest.fixture(scope="session")
def index_name() -> str:
    """The alias the deployed function writes to (searches through it hide tombstones)."""
    return env("INDEX_ALIAS")


@pytest.fixture(scope="session")
def opensearch_client(opensearch_url: str):
    """The project's own OpenSearch client (no auth) for the stack's node."""
    from ddb_opensearch_sync.index.client import make_client

    return make_client(opensearch_url)


@pytest.fixture(scope="session")
def sqs_client(aws_endpoint_url: str, aws_region: str):
    """An SQS client for the stack's LocalStack (any credentials do)."""
    import boto3

    return boto3.client(
        "sqs",
        endpoint_url=aws_endpoint_url,
        region_name=aws_region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )


@pytest.fixture(scope="session")
def dynamodb_client(aws_endpoint_url: str, aws_region: str):
    """A DynamoDB client for the stack's LocalStack (any credentials do)."""
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=aws_endpoint_url,
        region_name=aws_region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )

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
        pytest.fail(f"{name} is not set: run `make deploy`, then `eval \"$(make -s env)\"`")
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

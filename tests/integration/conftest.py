"""Fixtures of the integration tests: clean-up of what a test creates, scratch aliases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from opensearchpy import OpenSearch

from tests.support.opensearch import scratch_alias


@pytest.fixture()
def cleanup() -> Iterator[ExitStack]:
    """Deletes what a test registered, newest first."""
    with ExitStack() as stack:
        yield stack


@pytest.fixture()
def alias(opensearch_client: OpenSearch) -> Iterator[str]:
    """A fresh alias with its index and template, as deploys make them; dropped afterwards.
    (Modules that share one alias among their tests define their own.)"""
    with scratch_alias(opensearch_client, "it") as name:
        yield name

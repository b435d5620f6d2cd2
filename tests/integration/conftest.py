"""Fixtures of the integration tests: clean-up of what a test creates, scratch aliases and
tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from opensearchpy import OpenSearch

from ddb_opensearch_sync.sync.batch import BatchSyncer
from tests.support.aws import Table, book, new_queue, new_table
from tests.support.opensearch import scratch_alias
from tests.support.pipeline import make_syncer, sqs_dead_letters
from tests.support.settings import Settings


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


@pytest.fixture(scope="module")
def filled_table(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Table]:
    """A table holding ``book(n)`` for n below the test module's ``ITEMS``, written before any
    stream or index existed (no stream at all); shared by the module's tests."""
    items = map(book, range(request.module.ITEMS))
    with new_table(settings, stream=False, items=items) as table:
        yield table


@pytest.fixture
def queue_url(sqs_client) -> Iterator[str]:
    """A fresh dead-letter queue; deleted afterwards."""
    with new_queue(sqs_client, "dlq") as url:
        yield url


@pytest.fixture
def syncer(opensearch_client, alias, sqs_client, queue_url) -> BatchSyncer:
    """The function's batch syncer on ``alias``, dead-lettering to ``queue_url``."""
    return make_syncer(opensearch_client, alias, sqs_dead_letters(sqs_client, queue_url))

"""Throwaway tables and sync pipelines for the backfill, reconcile and reindex tests.

A *table* is a fresh DynamoDB table in the stack's LocalStack, optionally with a stream; a
*pipeline* adds what `make deploy` builds for the real table -- the sync function (the deployed
zip, configured like the deployed function but with its own alias) and an event source
mapping on that table's stream -- so that tests run a live stream without touching the
deployed table or the ``books`` alias that other tests use.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.mapping import template_name
from ddb_opensearch_sync.index.setup import setup_index
from ddb_opensearch_sync.index.writer import BulkWriter
from ddb_opensearch_sync.ops import cli
from ddb_opensearch_sync.ops.reconcile import ReconcileOptions, ReconcileReport, reconcile
from ddb_opensearch_sync.ops.table import TableInfo
from tests.polling import eventually

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_ZIP = ROOT / "build" / "sync-function.zip"

Client = Any  # boto3 clients are generated at run time


def aws_session(aws_region: str) -> boto3.session.Session:
    # Local stack: any credentials do.
    return boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        region_name=aws_region,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def book(number: int, **extra: Any) -> dict[str, Any]:
    """An item with every kind of attribute the mapping handles."""
    return {
        "book_id": f"book-{number:05d}",
        "title": f"Title {number} ✓",
        "author": f"Author {number % 7}",
        "year": Decimal(1900 + number % 120),
        "price": Decimal("12345678901234567890.123456789") + number,  # beyond a double
        "tags": {"fiction", f"t{number % 3}"},
        "ratings": {Decimal(number % 5), Decimal("4.5")},
        "in_print": number % 2 == 0,
        "meta": {"pages": Decimal(100 + number), "notes": [f"n{number}", None]},
        "cover": bytes([number % 256, 255, 0]),
        **extra,
    }


@dataclass
class Table:
    name: str
    dynamodb: Client
    table: Any  # boto3 Table resource
    stream_arn: str | None

    def info(self) -> TableInfo:
        return TableInfo.describe(self.dynamodb, self.name)

    def put_all(self, items: list[dict[str, Any]]) -> None:
        with self.table.batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)


@contextmanager
def new_table(session: boto3.session.Session, endpoint: str, *, stream: bool) -> Iterator[Table]:
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    name = unique("bf-table")
    params: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": "book_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "book_id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if stream:
        params["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    created = dynamodb.create_table(**params)["TableDescription"]
    resource = session.resource("dynamodb", endpoint_url=endpoint).Table(name)
    try:
        yield Table(name, dynamodb, resource, created.get("LatestStreamArn"))
    finally:
        dynamodb.delete_table(TableName=name)


@contextmanager
def new_alias(client: OpenSearch) -> Iterator[str]:
    """An alias with its index and template, as `setup-index` makes them; every generation
    a reindex adds is dropped too."""
    alias = unique("bf-alias")
    setup_index(client, alias)
    try:
        yield alias
    finally:
        client.indices.delete(index=f"{alias}-v*", ignore_unavailable=True)
        client.indices.delete_index_template(name=template_name(alias), ignore=404)


@dataclass
class Pipeline:
    table: Table
    alias: str
    function_name: str


@contextmanager
def new_pipeline(
    session: boto3.session.Session,
    endpoint: str,
    table: Table,
    alias: str,
    client: OpenSearch,
) -> Iterator[Pipeline]:
    """The sync function on ``table``'s stream, writing to ``alias``; returns once a change
    made now is known to reach the index (the mapping starts at LATEST: items written
    before are the backfill's business)."""
    if not FUNCTION_ZIP.exists():
        pytest.fail(f"{FUNCTION_ZIP} is missing: run `make deploy`")
    lambda_client = session.client("lambda", endpoint_url=endpoint)
    deployed = lambda_client.get_function_configuration(
        FunctionName=os.environ["SYNC_FUNCTION_NAME"]
    )
    environment = deployed["Environment"]["Variables"]
    name = unique("bf-sync")
    with ExitStack() as cleanup:
        lambda_client.create_function(
            FunctionName=name,
            Runtime=deployed["Runtime"],
            Role=deployed["Role"],
            Handler=deployed["Handler"],
            Code={"ZipFile": FUNCTION_ZIP.read_bytes()},
            Timeout=30,
            Environment={
                "Variables": {
                    "OPENSEARCH_ENDPOINT": environment["OPENSEARCH_ENDPOINT"],
                    "OPENSEARCH_AUTH": environment.get("OPENSEARCH_AUTH", "none"),
                    "INDEX_ALIAS": alias,
                }
            },
        )
        cleanup.callback(lambda_client.delete_function, FunctionName=name)
        eventually(
            lambda: lambda_client.get_function_configuration(FunctionName=name)["State"],
            lambda state: state != "Pending",
            f"function {name} to leave Pending",
        )
        mapping = lambda_client.create_event_source_mapping(
            EventSourceArn=table.stream_arn,
            FunctionName=name,
            StartingPosition="LATEST",
            BatchSize=100,
            MaximumBatchingWindowInSeconds=0,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        )
        cleanup.callback(lambda_client.delete_event_source_mapping, UUID=mapping["UUID"])
        # LATEST is fixed when the mapping first reads the shard: write until a change shows.
        # (An unchanged item makes no stream record, so every attempt changes it.)
        probe_id = unique("probe")
        attempts = iter(range(1_000_000))

        def probe_indexed() -> bool:
            table.table.put_item(Item={"book_id": probe_id, "attempt": next(attempts)})
            return client.mget(index=alias, body={"ids": [probe_id]})["docs"][0]["found"]

        eventually(probe_indexed, bool, "the pipeline to deliver a change", interval=0.5)
        yield Pipeline(table, alias, name)


def run_cli(*argv: str) -> tuple[int, dict[str, Any]]:
    """Run a command in-process; the exit code and the JSON line it printed."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(list(argv))
    lines = out.getvalue().strip().splitlines()
    return code, json.loads(lines[-1]) if lines else {}


def check(
    client: OpenSearch, table: Table, alias: str, *, settle: float = 1.0, repair: bool = False
) -> Callable[[], ReconcileReport]:
    """A reconcile of ``table`` against ``alias`` (``client`` reads exact numbers), for
    `eventually`."""

    def probe() -> ReconcileReport:
        options = ReconcileOptions(segments=2, settle=settle, repair=repair)
        return reconcile(table.dynamodb, client, BulkWriter(client, alias), table.info(), options)

    return probe

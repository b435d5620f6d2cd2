"""The sync code in-process, a live sync pipeline on a throwaway table, and the operator CLI.

A *pipeline* adds what `make deploy` builds for the real table -- the sync function (the
deployed zip, configured like the deployed function but with its own alias), an event source
mapping on the table's stream and, when asked for, the maintenance function the sync function
calls on a write block -- so that tests run a live stream without touching the deployed table
or the alias other tests use.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.records import TtlPolicy
from ddb_opensearch_sync.core.settings import DEFAULT_BULK_CONCURRENCY, ENV_MAINTENANCE_FUNCTION
from ddb_opensearch_sync.index.writer import BulkWriter
from ddb_opensearch_sync.ops import cli
from ddb_opensearch_sync.ops.reconcile import ReconcileOptions, ReconcileReport, reconcile
from ddb_opensearch_sync.ops.table import TableInfo
from ddb_opensearch_sync.sync.batch import BatchSyncer
from ddb_opensearch_sync.sync.deadletter import SqsDeadLetters
from tests.support import aws
from tests.support.names import unique
from tests.support.opensearch import scratch_alias
from tests.support.polling import eventually
from tests.support.settings import SYNC_FUNCTION_NAME, Settings

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_ZIP = ROOT / "build" / "sync-function.zip"


# --- the sync code in-process ----------------------------------------------------------------


def make_syncer(
    client: OpenSearch,
    alias: str,
    dead_letters: Any,
    *,
    ttl_policy: TtlPolicy = TtlPolicy.DELETE,
    **writer_options: Any,
) -> BatchSyncer:
    """The function's batch syncer writing to ``alias``, with short retry back-offs."""
    options = {
        "backoff_base": 0.02,
        "backoff_cap": 0.2,
        "check_first": True,
        "concurrency": DEFAULT_BULK_CONCURRENCY,
        **writer_options,
    }
    return BatchSyncer(BulkWriter(client, alias, **options), dead_letters, ttl_policy=ttl_policy)


def sqs_dead_letters(sqs: aws.Client, queue_url: str) -> SqsDeadLetters:
    return SqsDeadLetters(queue_url, sqs=sqs, context={"function": "integration-test"})


def within(seconds: float) -> float:
    """A deadline for `BatchSyncer`, as the handler computes one."""
    return time.monotonic() + seconds


# --- a live pipeline -------------------------------------------------------------------------


@dataclass
class Pipeline:
    table: aws.Table
    alias: str
    function_name: str


@contextmanager
def new_pipeline(
    settings: Settings,
    table: aws.Table,
    alias: str,
    client: OpenSearch,
    *,
    timeout: int = 30,
    environment: Mapping[str, str] | None = None,
    mapping_options: Mapping[str, Any] | None = None,
    maintenance: bool = False,
) -> Iterator[Pipeline]:
    """The sync function on ``table``'s stream, writing to ``alias``; returns once a change
    made now is known to reach the index (the mapping starts at LATEST: items written
    before are the backfill's business). ``timeout`` (s), extra ``environment`` variables of
    the function and extra ``mapping_options`` (retries, on-failure destination) override the
    defaults. With ``maintenance``, a maintenance function on ``alias`` too (configured like
    the deployed one), which the sync function calls on a write block."""
    assert FUNCTION_ZIP.exists(), f"{FUNCTION_ZIP} is missing: run `make deploy`"
    lambda_client = aws.client(settings, "lambda")
    deployed = lambda_client.get_function_configuration(
        FunctionName=settings.require(SYNC_FUNCTION_NAME)
    )
    deployed_environment = deployed["Environment"]["Variables"]
    name = unique("pipeline-sync")
    base_environment = {
        "OPENSEARCH_ENDPOINT": deployed_environment["OPENSEARCH_ENDPOINT"],
        "OPENSEARCH_AUTH": deployed_environment.get("OPENSEARCH_AUTH", "none"),
        "INDEX_ALIAS": alias,
    }
    with ExitStack() as cleanup:
        extra: dict[str, str] = {}
        if maintenance:
            extra[ENV_MAINTENANCE_FUNCTION] = unique("pipeline-maint")
            like = deployed_environment[ENV_MAINTENANCE_FUNCTION]
            cleanup.enter_context(
                _function_like(
                    lambda_client, like, extra[ENV_MAINTENANCE_FUNCTION], base_environment
                )
            )
        sync_environment = {**base_environment, **extra, **(environment or {})}
        cleanup.enter_context(
            _function_like(lambda_client, deployed, name, sync_environment, timeout=timeout)
        )
        mapping = lambda_client.create_event_source_mapping(
            EventSourceArn=table.stream_arn,
            FunctionName=name,
            StartingPosition="LATEST",
            BatchSize=100,
            MaximumBatchingWindowInSeconds=0,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            **(mapping_options or {}),
        )
        cleanup.callback(lambda_client.delete_event_source_mapping, UUID=mapping["UUID"])
        _wait_until_delivering(table, alias, client)
        yield Pipeline(table, alias, name)


@contextmanager
def _function_like(
    lambda_client: aws.Client,
    deployed: str | Mapping[str, Any],
    name: str,
    environment: Mapping[str, str],
    *,
    timeout: int | None = None,
) -> Iterator[None]:
    """Function ``name`` from the deployed zip with the runtime, role and handler of the
    ``deployed`` function (its name or configuration) and only ``environment``. Deleted
    afterwards."""
    if isinstance(deployed, str):
        deployed = lambda_client.get_function_configuration(FunctionName=deployed)
    lambda_client.create_function(
        FunctionName=name,
        Runtime=deployed["Runtime"],
        Role=deployed["Role"],
        Handler=deployed["Handler"],
        Code={"ZipFile": FUNCTION_ZIP.read_bytes()},
        Timeout=timeout or deployed["Timeout"],
        Environment={"Variables": dict(environment)},
    )
    try:
        eventually(
            lambda: lambda_client.get_function_configuration(FunctionName=name)["State"],
            lambda state: state != "Pending",
            f"function {name} to leave Pending",
        )
        yield
    finally:
        lambda_client.delete_function(FunctionName=name)


@contextmanager
def synced_pipeline(
    settings: Settings,
    client: OpenSearch,
    prefix: str,
    items: Iterable[Mapping[str, Any]],
    **pipeline_options: Any,
) -> Iterator[tuple[aws.Table, str]]:
    """A throwaway table with a live pipeline into a scratch alias, holding ``items`` and
    synced (``client`` reads exact numbers); yields the table and the alias.
    ``pipeline_options`` go to `new_pipeline`."""
    with (
        aws.new_table(settings, stream=True) as table,
        scratch_alias(client, prefix) as alias,
        new_pipeline(settings, table, alias, client, **pipeline_options),
    ):
        table.put_all(items)
        eventually(check(client, table, alias), lambda r: r.in_sync, "the stream to sync")
        yield table, alias


def _wait_until_delivering(table: aws.Table, alias: str, client: OpenSearch) -> None:
    # LATEST is fixed when the mapping first reads the shard: write until a change shows.
    # (An unchanged item makes no stream record, so every attempt changes it.)
    probe_id = unique("probe")
    attempts = iter(range(1_000_000))

    def probe_indexed() -> bool:
        table.table.put_item(Item={"book_id": probe_id, "attempt": next(attempts)})
        return client.mget(index=alias, body={"ids": [probe_id]})["docs"][0]["found"]

    eventually(probe_indexed, bool, "the pipeline to deliver a change", interval=0.5)


# --- the operator commands -------------------------------------------------------------------


def run_cli(*argv: str) -> tuple[int, dict[str, Any]]:
    """Run a command in-process; the exit code and the JSON line it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(list(argv))
    lines = out.getvalue().strip().splitlines()
    return code, json.loads(lines[-1]) if lines else {}


def target_options(settings: Settings, table: aws.Table, alias: str) -> tuple[str, ...]:
    """The options every operator command takes: which table and alias, on which stack."""
    return (
        *("--table", table.name, "--alias", alias, "--endpoint", settings.opensearch_url),
        *("--dynamodb-endpoint", settings.aws_endpoint_url, "--progress", "none"),
    )


def check(
    client: OpenSearch, table: aws.Table, alias: str, *, settle: float = 1.0, repair: bool = False
) -> Callable[[], ReconcileReport]:
    """A reconcile of ``table`` against ``alias`` (``client`` reads exact numbers), for
    `eventually`."""

    def probe() -> ReconcileReport:
        options = ReconcileOptions(segments=2, settle=settle, repair=repair)
        info = TableInfo.describe(table.dynamodb, table.name)
        return reconcile(table.dynamodb, client, BulkWriter(client, alias), info, options)

    return probe

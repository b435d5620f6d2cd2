"""Lambda entry point: ``ddb_opensearch_sync.sync.handler.handler``.

The event source mapping must enable ``ReportBatchItemFailures``; the answer names the
earliest record still to do (`batch`). Clients are built once per execution environment.
"""

from __future__ import annotations

import functools
import json
import os
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from ..core.settings import Settings
from ..index.client import make_client
from ..index.writer import BulkWriter
from .batch import BatchReport, BatchSyncer
from .deadletter import DeadLetterSink, LogDeadLetters, SqsDeadLetters
from .lag import record_end_to_end_lag
from .types import MaintenanceAction, MaintenanceEvent

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from botocore.client import BaseClient

__all__ = ["handler"]

SERVICE = "ddb-opensearch-sync"
METRICS_NAMESPACE = "DdbOpenSearchSync"
SAFETY_MARGIN = 1.0
"""Seconds kept back from the invocation's remaining time (at most a tenth of it)."""

# Explicit values only as defaults: POWERTOOLS_SERVICE_NAME / _METRICS_NAMESPACE still win.
logger = Logger(service=os.getenv("POWERTOOLS_SERVICE_NAME") or SERVICE)
metrics = Metrics(
    namespace=os.getenv("POWERTOOLS_METRICS_NAMESPACE") or METRICS_NAMESPACE,
    service=os.getenv("POWERTOOLS_SERVICE_NAME") or SERVICE,
)
# The package's own loggers write through the same JSON formatter.
copy_config_to_registered_loggers(source_logger=logger, include={"ddb_opensearch_sync"})


@functools.lru_cache(maxsize=4)
def build_syncer(settings: Settings, function_name: str | None = None) -> BatchSyncer:
    """The writer and dead-letter sink for ``settings`` (cached across invocations)."""
    client = make_client(settings.endpoint, auth=settings.auth, region=settings.region)
    writer = BulkWriter(
        client,
        settings.alias,
        max_bytes=settings.bulk_max_bytes,
        max_actions=settings.bulk_max_actions,
        concurrency=settings.bulk_concurrency,
        check_first=True,  # the stored sequence number decides, never the clock (`records`)
    )
    context = {"function": function_name, "index_alias": settings.alias}
    dead_letters: DeadLetterSink
    if settings.dlq_url:
        dead_letters = SqsDeadLetters(
            settings.dlq_url,
            region=settings.region,
            context=context,
            bucket=settings.dead_letter_bucket,
        )
    else:
        logger.warning("DLQ_URL is not set: dead letters go to the log only")
        dead_letters = LogDeadLetters(context)
    return BatchSyncer(writer, dead_letters, ttl_policy=settings.ttl_policy)


def _record_metrics(report: BatchReport) -> None:
    metrics.add_metric(name="Records", unit=MetricUnit.Count, value=report.size)
    metrics.add_metric(name="Written", unit=MetricUnit.Count, value=report.written)
    metrics.add_metric(name="Stale", unit=MetricUnit.Count, value=report.stale)
    metrics.add_metric(name="DeadLettered", unit=MetricUnit.Count, value=report.dead_lettered)
    metrics.add_metric(name="Failed", unit=MetricUnit.Count, value=report.failed)
    metrics.add_metric(name="RetryRounds", unit=MetricUnit.Count, value=report.retry_rounds)
    if report.stream_lag_max is not None:
        metrics.add_metric(
            name="StreamLagMax", unit=MetricUnit.Seconds, value=report.stream_lag_max
        )


@functools.lru_cache(maxsize=4)
def _lambda_client(region: str | None) -> BaseClient:
    import boto3  # the Lambda runtime provides it; AWS_ENDPOINT_URL is honoured
    from botocore.config import Config

    # An asynchronous invoke is queued at once: short timeouts, and no retry storm while the
    # batch is already late.
    config = Config(
        connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 2}
    )
    return boto3.client("lambda", region_name=region, config=config)


def ask_for_lease_check(settings: Settings) -> bool:
    """After a batch a block refused: a reindex killed while the index was write-blocked
    leaves the block and its lease behind. This role may not touch the index's settings, so
    the maintenance function is invoked asynchronously to lift the block once the lease has
    run out (`index.lease`); Lambda's retry of this batch then gets through. Best effort: the
    batch has failed either way, and the maintenance function's own schedule checks too.
    True when the invocation was queued."""
    if settings.maintenance_function is None:
        logger.warning("no maintenance function is set: nobody checks the write-block lease")
        return False
    event: MaintenanceEvent = {"action": MaintenanceAction.LIFT_EXPIRED_LEASE.value}
    try:
        _lambda_client(settings.region).invoke(
            FunctionName=settings.maintenance_function,
            InvocationType="Event",
            Payload=json.dumps(event).encode(),
        )
    except (BotoCoreError, ClientError) as error:
        logger.warning(
            "could not ask %s to check the write-block lease: %s",
            settings.maintenance_function,
            error,
        )
        return False
    logger.info("asked %s to check the write-block lease", settings.maintenance_function)
    return True


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    started = time.monotonic()
    remaining = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + remaining - min(SAFETY_MARGIN, remaining / 10)
    settings = Settings.from_env()
    syncer = build_syncer(settings, context.function_name)
    response, report = syncer.sync_event(event, deadline=deadline)
    logger.info("batch synced", extra=report.log_fields())
    if report.blocked:
        ask_for_lease_check(settings)
    _record_metrics(report)
    record_end_to_end_lag(metrics, report, started)  # issue 13: the sync-lag alarm's metric
    return response

"""Lambda entry point: ``ddb_opensearch_sync.sync.handler.handler``.

The event source mapping must enable ``ReportBatchItemFailures``; the answer names the
earliest record still to do (`batch`). Clients are built once per execution environment.
"""

from __future__ import annotations

import functools
import os
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from opensearchpy.exceptions import OpenSearchException

from ..core.settings import Settings
from ..index.client import make_client
from ..index.lease import release_expired_lease
from ..index.purge import start_purge
from ..index.writer import BulkWriter
from .batch import BatchReport, BatchSyncer
from .deadletter import DeadLetterSink, LogDeadLetters, SqsDeadLetters
from .lag import record_end_to_end_lag

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["handler"]

SERVICE = "ddb-opensearch-sync"
METRICS_NAMESPACE = "DdbOpenSearchSync"
PURGE_ACTION = "purge-tombstones"
"""``{"action": PURGE_ACTION}``: the scheduled purge event instead of a stream batch."""
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


def _lift_expired_block(syncer: BatchSyncer) -> None:
    """After a failed batch: a reindex killed while the index was write-blocked leaves a
    lease behind; once it has run out the block goes (`index.lease`), and Lambda's retry of
    this batch gets through. Best effort: the batch has failed either way."""
    try:
        release_expired_lease(syncer.writer.client, syncer.writer.alias)
    except (OpenSearchException, OSError) as error:
        logger.warning("could not check the index's write-block lease: %s", error)


def _purge(syncer: BatchSyncer) -> dict[str, Any]:
    """The scheduled maintenance event (``{"action": "purge-tombstones"}``, an EventBridge
    rule of ``infra/modules/sync``): start the tombstone purge as an OpenSearch task, and
    lift a write block whose reindex lease ran out while nothing was being written."""
    client, alias = syncer.writer.client, syncer.writer.alias
    lifted = release_expired_lease(client, alias)
    report = start_purge(client, alias)
    logger.info("tombstone purge started", extra={**report.as_dict(), "lifted_block": lifted})
    return {"purge": report.as_dict(), "lifted_block": lifted}


@metrics.log_metrics
@logger.inject_lambda_context
def handler(
    event: dict[str, Any], context: LambdaContext
) -> PartialItemFailureResponse | dict[str, Any]:
    started = time.monotonic()
    remaining = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + remaining - min(SAFETY_MARGIN, remaining / 10)
    syncer = build_syncer(Settings.from_env(), context.function_name)
    if isinstance(event, dict) and event.get("action") == PURGE_ACTION:
        return _purge(syncer)
    response, report = syncer.sync_event(event, deadline=deadline)
    logger.info("batch synced", extra=report.log_fields())
    if report.failed:
        _lift_expired_block(syncer)
    _record_metrics(report)
    record_end_to_end_lag(metrics, report, started)  # issue 13: the sync-lag alarm's metric
    return response

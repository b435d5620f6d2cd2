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

from ..core.settings import Settings
from ..index.client import make_client
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
    )
    context = {"function": function_name, "index_alias": settings.alias}
    dead_letters: DeadLetterSink
    if settings.dlq_url:
        dead_letters = SqsDeadLetters(settings.dlq_url, region=settings.region, context=context)
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


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    started = time.monotonic()
    remaining = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + remaining - min(SAFETY_MARGIN, remaining / 10)
    syncer = build_syncer(Settings.from_env(), context.function_name)
    response, report = syncer.sync_event(event, deadline=deadline)
    logger.info("batch synced", extra=report.log_fields())
    _record_metrics(report)
    record_end_to_end_lag(metrics, report, started)  # issue 13: the sync-lag alarm's metric
    return response

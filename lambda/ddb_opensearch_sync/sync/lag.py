"""The sync's end-to-end lag: from a change's creation in the table to its write in the index.

Each stream record carries ``ApproximateCreationDateTime``; the batch report holds the largest
age among a batch's records when they were read (``stream_lag_max``). Adding the time the batch
then took gives the age of the oldest change at the moment it reached the index, the figure
the ``sync-lag`` alarm watches (metric ``EndToEndLagMax``, seconds, embedded metric format via
Powertools' ``Metrics``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

    from .batch import BatchReport

__all__ = ["METRIC", "record_end_to_end_lag"]

METRIC = "EndToEndLagMax"


def record_end_to_end_lag(metrics: Metrics, report: BatchReport, started: float) -> None:
    """Add the batch's end-to-end lag to ``metrics``; ``started`` is ``time.monotonic()`` taken
    when the batch began. Nothing for a batch without creation times."""
    if report.stream_lag_max is None:
        return
    lag = report.stream_lag_max + max(0.0, time.monotonic() - started)
    metrics.add_metric(name=METRIC, unit=MetricUnit.Seconds, value=lag)

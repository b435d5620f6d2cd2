"""The sync's end-to-end lag metric (sync/lag.py), as the sync-lag alarm reads it: the
embedded-metric-format line Powertools prints."""

from __future__ import annotations

import json
import time

import pytest
from aws_lambda_powertools import Metrics

from ddb_opensearch_sync.sync.batch import BatchReport
from ddb_opensearch_sync.sync.lag import METRIC, record_end_to_end_lag


def emitted(metrics: Metrics, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    metrics.flush_metrics()
    (line,) = capsys.readouterr().out.strip().splitlines()
    return json.loads(line)


def test_the_lag_is_the_oldest_record_age_plus_the_batch_time(capsys):
    metrics = Metrics(namespace="DdbOpenSearchSync", service="ddb-opensearch-sync")
    report = BatchReport(size=2, stream_lag_max=42.0, stream_lag_min=1.0)
    started = time.monotonic() - 3.0  # the batch took 3 s so far

    record_end_to_end_lag(metrics, report, started)

    document = emitted(metrics, capsys)
    (directive,) = document["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
    assert directive["Namespace"] == "DdbOpenSearchSync"
    assert directive["Metrics"] == [{"Name": METRIC, "Unit": "Seconds"}]
    assert ["service"] in directive["Dimensions"]
    assert document["service"] == "ddb-opensearch-sync"
    (lag,) = document[METRIC]  # type: ignore[misc]  # Powertools writes values as a list
    assert 45.0 <= lag < 60.0


def test_a_batch_without_creation_times_adds_no_lag(capsys):
    metrics = Metrics(namespace="DdbOpenSearchSync", service="ddb-opensearch-sync")

    record_end_to_end_lag(metrics, BatchReport(size=1), time.monotonic())

    with pytest.warns(UserWarning):  # Powertools warns when it has no metric to flush
        metrics.flush_metrics()
    assert capsys.readouterr().out.strip() == ""

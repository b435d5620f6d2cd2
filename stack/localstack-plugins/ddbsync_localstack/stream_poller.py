"""A DynamoDB stream poller for LocalStack's event source mappings that drains like AWS's.

Why: LocalStack 4.14's `StreamPoller` reads one ``GetRecords`` of at most ``BatchSize`` records
per poll, and its ESM worker then waits ``LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC`` after
every poll, records waiting or not (its own TODO: "this currently limits the throughput to at
most batch size per poll interval"). A backlog of 5,000 writes drained at ~270 records/s with
batch 100 and a 0.25 s interval. AWS's poller keeps invoking while a shard has records, bounded
by ``GetRecords`` (up to 1,000 records per call, at most 5 calls per second per shard) and by
the invocations themselves.

This poller does the same, and nothing else differently:

- one ``poll_events`` keeps reading a shard while the last ``GetRecords`` returned records, so
  the worker's poll interval only separates *empty* polls (AWS polls an idle shard about 4
  times a second; ``stack.env`` sets 0.25 s);
- each ``GetRecords`` asks for up to 1,000 records (the API's limit, what AWS's poller reads)
  instead of ``BatchSize``, and calls on one shard are at least 0.2 s apart (5 per second);
  LocalStack's batcher then cuts what was read into batches of ``BatchSize`` and honours
  ``MaximumBatchingWindowInSeconds`` as before;
- while a batch is being delivered, the shard's next ``GetRecords`` is already being read (one
  response ahead), so the function's time and the read's no longer add up. This changes when a
  read is made, not what is delivered or in which order: a response read ahead is used only
  for the very iterator it was read with, after the batch before it has been dealt with, and a
  read ahead that failed is made again, through LocalStack's error handling;
- a shard that never runs dry is read for at most `SHARD_TURN_SECONDS` at a time when the
  stream has others, so that they take turns (moto has one shard per stream; AWS's pollers run
  shards in parallel); a stream of one shard is read on without the poll interval a turn's end
  costs, until its mapping is stopped (the worker's own shutdown event);
- the mapping's ``ParallelizationFactor`` is honoured (LocalStack 4.14 stores it and polls one
  batch at a time whatever it says): each batch is split into that many lanes by the hash of
  the records' partition key, as AWS does, and the lanes are delivered at the same time, each
  through LocalStack's own delivery (retries, ``ReportBatchItemFailures``, the on-failure
  destination). Records of one partition key stay in one lane, in stream order. Unlike AWS, the
  next batch waits for every lane of this one: lanes run side by side but not apart.

One more saving, outside the poller: LocalStack's event processor encodes every batch to JSON
for an "ExecutionStarted" log line that its mappings' logger (``NoOpsPipeLogger``) then drops,
besides the encoding the invoke sends; that text is now made only if a logger asks for it
(`DeferredJson`): a 1,000-record batch's payload is ~1 MB of JSON, encoded once instead of twice.

Everything else is LocalStack's: transformation, filtering, invocation, retries,
``ReportBatchItemFailures``, the on-failure destination. The stock poller is replaced through a
LocalStack ``on_infra_start`` hook (`install`), registered in this package's entry points.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from localstack import config
from localstack.runtime import hooks
from localstack.services.lambda_.event_source_mapping import (
    esm_event_processor,
    esm_worker_factory,
)
from localstack.services.lambda_.event_source_mapping.esm_worker import EsmWorker
from localstack.services.lambda_.event_source_mapping.esm_worker_factory import EsmWorkerFactory
from localstack.services.lambda_.event_source_mapping.pollers.dynamodb_poller import (
    DynamoDBPoller,
)
from localstack.utils.aws.arns import parse_arn
from localstack.utils.patch import Patch

from .dynamodb_provider import read_stream

GET_RECORDS_LIMIT = 1000
"""Records per ``GetRecords``: the API's maximum, what AWS's poller reads."""
GET_RECORDS_INTERVAL = 0.2
"""Seconds between ``GetRecords`` calls on one shard: AWS allows 5 per second per shard."""
SHARD_TURN_SECONDS = 5.0
"""Longest a shard with records still waiting is read before the next shard's turn."""


class _PacedReader:
    """The poller's DynamoDB Streams client: up to `GET_RECORDS_LIMIT` records per call, at
    most one call per `GET_RECORDS_INTERVAL` (AWS: 5 per second per shard; moto has one shard
    per stream, so pacing per client is pacing per shard), read in-process when it can be.

    In-process: when this LocalStack serves DynamoDB Streams with our moto provider, the
    records are taken from it directly (`dynamodb_provider.read_stream`, the very function
    behind its GetRecords), instead of through LocalStack's gateway, its serializer and
    botocore's parser, which cost more than everything else the poller does per record. Any
    error there (a bad iterator, a deleted stream) is left to the real call, so LocalStack's
    ``get_records`` handles it as it always has.

    A proxy rather than a copy of LocalStack's ``get_records``: that method holds the error
    handling (expired iterators, trimmed data, missing streams) and fixes ``Limit`` to the
    batch size; everything but the limit, the pace and the transport stays LocalStack's.
    """

    def __init__(self, client: Any, stream_arn: str, shutdown: threading.Event) -> None:
        self._client = client
        self._shutdown = shutdown
        self._lock = threading.Lock()
        self._last_call = 0.0
        arn = parse_arn(stream_arn)
        self._in_process = _served_by_our_provider()
        self._account, self._region = arn["account"], arn["region"]

    def get_records(self, **kwargs: Any) -> dict[str, Any]:
        with self._lock:
            wait = self._last_call + GET_RECORDS_INTERVAL - time.monotonic()
            if wait > 0:
                self._shutdown.wait(wait)
            self._last_call = time.monotonic()
        if self._in_process:
            # On any error the real call below raises it as LocalStack's handling expects.
            with contextlib.suppress(Exception):
                return self._read_in_process(kwargs["ShardIterator"])
        return self._client.get_records(**{**kwargs, "Limit": GET_RECORDS_LIMIT})

    def _read_in_process(self, shard_iterator: str) -> dict[str, Any]:
        records, next_iterator = read_stream(
            self._account, self._region, shard_iterator, GET_RECORDS_LIMIT
        )
        # LocalStack's transform replaces ``ApproximateCreationDateTime`` in the record's
        # ``dynamodb`` part: that part and the record are copied, the images (only read) are
        # not. Binary values stay base64 text, which is what the function's event carries (the
        # other path decodes them to bytes and LocalStack's invoke encodes them back).
        response: dict[str, Any] = {
            "Records": [{**record, "dynamodb": {**record["dynamodb"]}} for record in records]
        }
        if next_iterator is not None:
            response["NextShardIterator"] = next_iterator
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _served_by_our_provider() -> bool:
    return config.SERVICE_PROVIDER_CONFIG.get_provider("dynamodbstreams") == "moto"


def partition_lanes(
    records: Sequence[dict[str, Any]], lanes: int, partition_key: str | None
) -> list[list[dict[str, Any]]]:
    """``records`` split into at most ``lanes`` non-empty lanes by their partition key's hash,
    each in stream order (AWS's ``ParallelizationFactor``: records of one partition key stay in
    order). Without a known partition key, the whole key decides: one item's records still
    stay in one lane."""
    split: list[list[dict[str, Any]]] = [[] for _ in range(max(lanes, 1))]
    for record in records:
        keys = record["dynamodb"]["Keys"]
        value = keys.get(partition_key, keys) if partition_key else keys
        digest = zlib.crc32(json.dumps(value, sort_keys=True, default=str).encode())
        split[digest % len(split)].append(record)
    return [lane for lane in split if lane]


class DrainingDynamoDBPoller(DynamoDBPoller):
    """LocalStack's DynamoDB poller, reading a shard for as long as it has records waiting,
    one ``GetRecords`` ahead of the batch being delivered, delivering a batch in
    ``parallelization_factor`` lanes at once."""

    parallelization_factor = 1
    """Lanes per batch: the mapping's ``ParallelizationFactor`` (`_configure_poller`)."""
    worker_stopping: threading.Event | None = None
    """The ESM worker's shutdown event (`_configure_poller`): set when the mapping is disabled,
    updated or deleted. LocalStack closes the poller only once ``poll_events`` returns, so a
    shard read on must watch the worker's event itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._partition_key: str | None = None
        self._lanes: ThreadPoolExecutor | None = None
        self.source_client = _PacedReader(self.source_client, self.source_arn, self._is_shutdown)
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ddbsync-read-ahead")
        self._read_ahead: tuple[str, Future[dict]] | None = None
        self._records_read = 0

    def get_records(self, shard_iterator: str) -> dict:
        response = self._response_read_ahead(shard_iterator) or super().get_records(shard_iterator)
        self._records_read = len(response.get("Records", ()))
        next_iterator = response.get("NextShardIterator")
        if self._records_read and next_iterator and not self._is_shutdown.is_set():
            read = self._reader.submit(self._read, next_iterator)
            self._read_ahead = (next_iterator, read)
        return response

    def _read(self, shard_iterator: str) -> dict:
        return self.source_client.get_records(
            **self.stream_arn_param(), ShardIterator=shard_iterator
        )

    def _response_read_ahead(self, shard_iterator: str) -> dict | None:
        """The response read ahead for this iterator; None if there is none or it failed (the
        caller then reads again, and LocalStack's ``get_records`` handles the error)."""
        ahead, self._read_ahead = self._read_ahead, None
        if ahead is None or ahead[0] != shard_iterator:
            return None
        try:
            return ahead[1].result()
        except Exception:  # read again by the caller, with LocalStack's error handling
            return None

    def poll_events_from_shard(self, shard_id: str, shard_iterator: str) -> None:
        turn_ends = time.monotonic() + SHARD_TURN_SECONDS
        while True:
            self._records_read = 0
            super().poll_events_from_shard(shard_id, shard_iterator)
            # Read on only while records came back and the shard is still open.
            next_iterator = self.shards.get(shard_id)
            if not self._records_read or next_iterator is None or self._turn_over(turn_ends):
                return
            shard_iterator = next_iterator

    def _turn_over(self, turn_ends: float) -> bool:
        """Whether this shard's reading must stop: the poller or its mapping is stopping, or
        the turn has ended and another shard may be waiting. Without the worker's event every
        turn ends: it is then the only way a stop is noticed."""
        if self._is_shutdown.is_set():
            return True
        if self.worker_stopping is None:
            return time.monotonic() >= turn_ends
        return self.worker_stopping.is_set() or (
            len(self.shards) > 1 and time.monotonic() >= turn_ends
        )

    def initialize_shards(self) -> dict[str, str]:
        shards = super().initialize_shards()
        if self._partition_key is None and self.parallelization_factor > 1:
            self._partition_key = self._read_partition_key()
        return shards

    def _read_partition_key(self) -> str | None:
        with contextlib.suppress(Exception):  # unknown: lanes by the whole key (`partition_lanes`)
            stream = self.source_client.describe_stream(StreamArn=self.source_arn)
            for key in stream["StreamDescription"].get("KeySchema", ()):
                if key["KeyType"] == "HASH":
                    return str(key["AttributeName"])
        return None

    def forward_events_to_target(self, shard_id: str, records: list[dict]) -> None:
        lanes = (
            partition_lanes(records, self.parallelization_factor, self._partition_key)
            if self.parallelization_factor > 1
            else [records]  # the default: no key hashed on the hot path
        )
        if len(lanes) <= 1:
            super().forward_events_to_target(shard_id, records)
            return
        if self._lanes is None:
            self._lanes = ThreadPoolExecutor(
                max_workers=self.parallelization_factor - 1, thread_name_prefix="ddbsync-lane"
            )
        deliver = super().forward_events_to_target
        others = [self._lanes.submit(deliver, shard_id, lane) for lane in lanes[1:]]
        try:
            deliver(shard_id, lanes[0])
        finally:
            # Every lane is done before the next batch of this shard starts, errors or not.
            wait(others)
        for lane in others:
            lane.result()  # an error is LocalStack's, raised as if there were one lane

    def close(self) -> None:
        super().close()
        self._reader.shutdown(wait=False, cancel_futures=True)
        if self._lanes is not None:
            self._lanes.shutdown(wait=False, cancel_futures=True)


class DeferredJson:
    """A batch's JSON text for a log line, encoded only when a logger turns it into text (the
    mappings' logger never does)."""

    __slots__ = ("_events",)

    def __init__(self, events: Any) -> None:
        self._events = events

    def __str__(self) -> str:
        return _encode_events(self._events)

    __repr__ = __str__


_encode_events = esm_event_processor.to_json_str


_get_esm_worker = EsmWorkerFactory.get_esm_worker


def _configure_poller(factory: EsmWorkerFactory) -> EsmWorker:
    """LocalStack's ``get_esm_worker``, telling our poller the mapping's
    ``ParallelizationFactor`` (LocalStack does not pass it on to its pollers) and the worker's
    shutdown event."""
    worker = _get_esm_worker(factory)
    if isinstance(worker.poller, DrainingDynamoDBPoller):
        factor = factory.esm_config.get("ParallelizationFactor") or 1
        worker.poller.parallelization_factor = int(factor)
        worker.poller.worker_stopping = worker._shutdown_event
    return worker


_PATCHES = (
    Patch(esm_worker_factory, "DynamoDBPoller", DrainingDynamoDBPoller),
    Patch(EsmWorkerFactory, "get_esm_worker", _configure_poller),
    # In that module the name serves only the log line's payload (`DeferredJson`).
    Patch(esm_event_processor, "to_json_str", DeferredJson),
)


# plux names a hook plugin after its function unless told: two hooks both called `install`
# would be one plugin, and only one of them would run.
@hooks.on_infra_start(name="ddbsync_stream_poller")
def install() -> None:
    """Make new DynamoDB event source mappings use `DrainingDynamoDBPoller` with their
    ``ParallelizationFactor``, and defer the unused log payload (`DeferredJson`)."""
    for patch in _PATCHES:
        patch.apply()  # idempotent

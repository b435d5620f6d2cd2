"""Replay the batches the event source mapping gave up on, from the stream itself.

When a batch keeps failing (OpenSearch down longer than the mapping's retry budget or record
age allows), Lambda sends its *metadata* -- stream ARN, shard id, first and last sequence
number -- to the on-failure destination, the dead-letter queue, and moves on; the records are
not in the message. `replay` reads those messages and syncs exactly those records again while
the stream still holds them (24 h):

1. receive the queue's messages (the function's own dead letters are left alone and made
   visible again at the end);
2. parse each with the schema of Lambda's on-failure record (`OnFailureMessage`, built on
   Powertools' ``DDBStreamBatchInfo`` model);
3. read the shard from ``startSequenceNumber`` (``GetShardIterator AT_SEQUENCE_NUMBER``)
   up to ``endSequenceNumber`` with ``GetRecords``, turn the records into the shape Lambda
   delivers, and sync them with the function's own `BatchSyncer` (`records.to_change`, the
   bulk writer, dead letters for content errors): stream order, versions and ``_sync.seq``
   hold, so a replay never overwrites a newer change and can run while the stream is live;
4. delete the message only once every record of its batch is written (or stale, or
   dead-lettered).

A batch the stream no longer holds (``TrimmedDataAccessException``, an expired iterator, a
shard or stream that is gone, or a range that ends before ``endSequenceNumber``) cannot be
replayed exactly; for those `replay` runs one `reconcile` with ``--repair`` of the whole table
(which repairs with versions that still lose to later stream changes) and deletes their
messages once it leaves the index in sync.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser.models.dynamodb import (
    DDBStreamBatchInfo,
    RequestContext,
    ResponseContext,
)
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from ..sync.deadletter import MESSAGE_SOURCE
from .progress import NullProgress, Progress
from .table import stream_image

if TYPE_CHECKING:
    from ..sync.batch import BatchSyncer
    from .reconcile import ReconcileReport

__all__ = [
    "OnFailureMessage",
    "ReplayOptions",
    "ReplayReport",
    "StreamGone",
    "lambda_record",
    "read_batch",
    "replay",
]

logger = logging.getLogger(__name__)

# Errors that mean the stream no longer holds the records: replay falls back to a reconcile.
GONE_ERRORS = frozenset(
    {"TrimmedDataAccessException", "ExpiredIteratorException", "ResourceNotFoundException"}
)


MAX_EMPTY_PAGES = 3


class OnFailureMessage(BaseModel):
    """What Lambda sends to a stream mapping's on-failure destination (AWS: "Retaining
    records" in services-dynamodb-errors). Powertools' own model of it requires the request
    and response contexts, which LocalStack leaves out when no invocation ran (a record that
    aged out): here they are optional."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    ddb_stream_batch_info: DDBStreamBatchInfo = Field(alias="DDBStreamBatchInfo")
    request_context: RequestContext | None = None
    response_context: ResponseContext | None = None
    timestamp: datetime
    version: str


class StreamGone(Exception):
    """The stream no longer holds (all of) a batch's records."""


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    queue_url: str
    max_messages: int | None = None
    """Stop after this many on-failure messages (default: until the queue is empty)."""
    visibility_timeout: int = 900
    """Seconds a received message stays hidden while this run works on it."""
    page_limit: int = 1000
    write_timeout: float = 120.0
    """Seconds the writer may retry one page of records."""


COUNTS = (
    "messages",  # on-failure messages received
    "batches",  # batches replayed from the stream
    "records",
    "written",
    "stale",
    "dead_lettered",
    "failed",
    "deleted",  # on-failure messages deleted (their records are in the index)
    "gone",  # batches the stream no longer held: repaired by the reconcile
    "dead_letters_left",  # the function's own dead letters, left in the queue
    "unrecognised",  # messages that are neither: left in the queue
)


@dataclass(slots=True)
class ReplayReport:
    counts: Counter[str] = field(default_factory=Counter)
    """One number per name in `COUNTS`."""
    reconcile: dict[str, Any] | None = None
    elapsed: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.counts["failed"] and not self.errors

    def as_dict(self) -> dict[str, Any]:
        records = self.counts["records"]
        rate = records / self.elapsed if self.elapsed else 0.0
        return {
            **{name: self.counts[name] for name in COUNTS},
            "reconcile": self.reconcile,
            "elapsed": self.elapsed,
            "errors": self.errors,
            "ok": self.ok,
            "records_per_second": round(rate, 1),
        }

    def summary(self) -> str:
        c = self.counts
        text = (
            f"replay: {c['messages']} on-failure messages, {c['batches']} batches, "
            f"{c['records']} records ({c['written']} written, {c['stale']} already indexed, "
            f"{c['dead_lettered']} dead-lettered, {c['failed']} failed), "
            f"{c['deleted']} messages deleted"
        )
        if c["gone"]:
            text += f"; {c['gone']} batches no longer in the stream: repaired by reconcile"
        return text


# --- the stream --------------------------------------------------------------------------


def lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A ``GetRecords`` record in the shape Lambda delivers: creation time as epoch seconds,
    binary values as base64 text, the stream's ARN as ``eventSourceARN``."""
    stream = dict(record["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = created.timestamp()
    for image in ("Keys", "NewImage", "OldImage"):
        if image in stream:
            stream[image] = stream_image(stream[image])
    return {**record, "dynamodb": stream, "eventSourceARN": stream_arn}


def read_batch(
    streams: Any, info: DDBStreamBatchInfo, *, page_limit: int = 1000
) -> Iterator[list[dict[str, Any]]]:
    """The batch's records, ``start``..``end`` sequence numbers inclusive, page by page, in
    stream order and in Lambda's shape. Raises `StreamGone` when the stream does not hold
    them all any more."""
    start, end = int(info.start_sequence_number), int(info.end_sequence_number)
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=info.stream_arn,
            ShardId=info.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=info.start_sequence_number,
        ).get("ShardIterator")
        first, empty = True, 0
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=page_limit)
            page = response.get("Records", [])
            if first and page and int(page[0]["dynamodb"]["SequenceNumber"]) != start:
                raise StreamGone(f"the shard no longer starts at {start}")
            first = first and not page
            kept = [r for r in page if int(r["dynamodb"]["SequenceNumber"]) <= end]
            if kept:
                yield [lambda_record(r, info.stream_arn) for r in kept]
            if len(kept) < len(page) or (kept and _sequence(kept[-1]) == end):
                return
            # An open shard can answer a page or two empty before later records: a few in a
            # row mean the range is not all there.
            empty = empty + 1 if not page else 0
            if empty > MAX_EMPTY_PAGES:
                break
            iterator = response.get("NextShardIterator")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in GONE_ERRORS:
            raise StreamGone(f"{code}: {error}") from error
        raise
    raise StreamGone(f"the shard ends before sequence number {end}")


def _sequence(record: Mapping[str, Any]) -> int:
    return int(record["dynamodb"]["SequenceNumber"])


# --- the queue ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Message:
    receipt: str
    body: Any


def _receive(sqs: Any, options: ReplayOptions) -> Iterator[_Message]:
    """Every message of the queue once (each stays hidden for this run)."""
    seen: set[str] = set()
    while True:
        response = sqs.receive_message(
            QueueUrl=options.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=options.visibility_timeout,
        )
        messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
        if not messages:
            return
        for message in messages:
            seen.add(message["MessageId"])
            try:
                body = json.loads(message["Body"])
            except ValueError:
                body = None
            yield _Message(message["ReceiptHandle"], body)


def _release(sqs: Any, queue_url: str, receipts: list[str]) -> None:
    """Make messages this run does not handle visible again at once."""
    for receipt in receipts:
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0
        )


# --- the command ---------------------------------------------------------------------------


@dataclass
class _Replayer:
    sqs: Any
    streams: Any
    syncer: BatchSyncer
    options: ReplayOptions
    progress: Progress
    report: ReplayReport = field(default_factory=ReplayReport)
    left: list[str] = field(default_factory=list)
    """Receipts of messages to make visible again."""
    gone: list[str] = field(default_factory=list)
    """Receipts of on-failure messages whose batch the stream no longer holds."""

    def handle(self, message: _Message) -> None:
        if isinstance(message.body, Mapping) and message.body.get("source") == MESSAGE_SOURCE:
            self.report.counts["dead_letters_left"] += 1
            self.left.append(message.receipt)
            return
        try:
            failure = OnFailureMessage.model_validate(message.body)
        except ValidationError as error:
            self.report.counts["unrecognised"] += 1
            self.left.append(message.receipt)
            logger.warning("not an on-failure record, left in the queue: %s", error)
            return
        self.report.counts["messages"] += 1
        try:
            done = self.replay_batch(failure.ddb_stream_batch_info)
        except StreamGone as error:
            logger.warning("batch %s no longer in the stream: %s", _describe(failure), error)
            self.report.counts["gone"] += 1
            self.gone.append(message.receipt)
            return
        if done:
            self.delete(message.receipt)
        else:
            self.left.append(message.receipt)

    def replay_batch(self, info: DDBStreamBatchInfo) -> bool:
        """Sync the batch's records; True when all of them are done."""
        self.report.counts["batches"] += 1
        for page in read_batch(self.streams, info, page_limit=self.options.page_limit):
            response, batch = self.syncer.sync_records(
                page, deadline=time.monotonic() + self.options.write_timeout
            )
            self.report.counts.update(
                records=batch.size,
                written=batch.written,
                stale=batch.stale,
                dead_lettered=batch.dead_lettered,
            )
            self.progress.advance(batch.size)
            if response["batchItemFailures"]:
                self.report.counts["failed"] += batch.failed
                self.report.errors.append(
                    f"shard {info.shard_id}: records from {batch.retry_from} not written"
                )
                return False
        return True

    def delete(self, receipt: str) -> None:
        self.sqs.delete_message(QueueUrl=self.options.queue_url, ReceiptHandle=receipt)
        self.report.counts["deleted"] += 1


def _describe(failure: OnFailureMessage) -> str:
    info = failure.ddb_stream_batch_info
    return f"{info.shard_id} {info.start_sequence_number}..{info.end_sequence_number}"


def replay(
    sqs: Any,
    streams: Any,
    syncer: BatchSyncer,
    options: ReplayOptions,
    *,
    fallback: Callable[[], ReconcileReport] | None = None,
    progress: Progress | None = None,
) -> ReplayReport:
    """Replay every on-failure record in ``options.queue_url`` through ``syncer``.

    ``fallback`` runs a repairing reconcile (`ops.reconcile.reconcile`) when some batch is no
    longer in the stream; without it such messages are left in the queue and reported.
    """
    started = time.monotonic()
    work = _Replayer(sqs, streams, syncer, options, progress or NullProgress())
    work.progress.start("replay", None)
    try:
        for count, message in enumerate(_receive(sqs, options), start=1):
            work.handle(message)
            if options.max_messages is not None and count >= options.max_messages:
                break
    finally:
        work.progress.finish()
    if work.gone:
        _fall_back(work, fallback)
    _release(sqs, options.queue_url, work.left)
    work.report.elapsed = round(time.monotonic() - started, 3)
    return work.report


def _fall_back(work: _Replayer, fallback: Callable[[], ReconcileReport] | None) -> None:
    if fallback is None:
        work.report.errors.append(
            f"{len(work.gone)} batches are no longer in the stream and no table was given "
            "for a reconcile: their messages are left in the queue"
        )
        work.left.extend(work.gone)
        return
    report = fallback()
    work.report.reconcile = report.as_dict(max_listed=100)
    if report.in_sync:
        for receipt in work.gone:
            work.delete(receipt)
    else:
        work.report.errors.append("the reconcile left drift: messages kept")
        work.left.extend(work.gone)

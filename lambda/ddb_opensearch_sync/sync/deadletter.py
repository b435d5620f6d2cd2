"""Dead letters: records that cannot be indexed, sent to SQS with the record and the error.

The queue is also the event source mapping's on-failure destination, whose messages carry
only batch metadata (``requestContext``, ``DDBStreamBatchInfo``). Messages from this module
say what they are: ``"source": "ddb-opensearch-sync"``, a ``kind``, the ``error`` and the full
``record`` as Lambda delivered it (or ``event``, for an event that is not a batch).

A record too large for one SQS message (256 KiB; a stream record with two 400 KB images is
larger) is kept whole in S3 when a dead-letter bucket is configured (``DEAD_LETTER_BUCKET``):
the full message goes to ``dead-letters/<kind>/<sequence number>.json`` and the queue message
keeps the keys and stream metadata, says ``"record_truncated": true`` and points to the object
(``"record_location": {"bucket", "key"}``) -- the pattern of the SQS Extended Client Library,
chosen over splitting a record across messages because one object is durable, needs no
reassembly and has no size limit worth meeting. Keys are deterministic, so a record
dead-lettered twice overwrites its own object. If the object cannot be written, the letter
counts as not sent (Lambda retries the record). Without a bucket the record is truncated.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = [
    "MESSAGE_SOURCE",
    "DeadLetter",
    "DeadLetterKind",
    "DeadLetterSink",
    "LogDeadLetters",
    "SqsDeadLetters",
    "message_body",
]

logger = logging.getLogger(__name__)

MESSAGE_SOURCE = "ddb-opensearch-sync"
SQS_MAX_MESSAGE_BYTES = 256 * 1024
"""SQS's classic limit per message and per batch (LocalStack's default too)."""
OVERFLOW_PREFIX = "dead-letters/"
_MAX_REASON_CHARS = 4000


class DeadLetterKind(StrEnum):
    MALFORMED_EVENT = "malformed_event"
    """The invocation's event is not a batch of records."""
    MALFORMED_RECORD = "malformed_record"
    """A record cannot be turned into a change (unknown eventName, no NewImage...)."""
    REJECTED_DOCUMENT = "rejected_document"
    """OpenSearch refused the document for its content (mapping, limits, size)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    kind: DeadLetterKind
    error: Mapping[str, Any]
    record: Any
    position: int | None = None
    sequence_number: str | None = None
    document_id: str | None = None


class DeadLetterSink(Protocol):
    def send(self, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
        """Send ``letters``; return those that could not be sent."""
        ...


def _clip(error: Mapping[str, Any]) -> dict[str, Any]:
    clipped = dict(error)
    reason = clipped.get("reason")
    if isinstance(reason, str) and len(reason) > _MAX_REASON_CHARS:
        clipped["reason"] = reason[:_MAX_REASON_CHARS] + "..."
    return clipped


def _record_summary(record: Any) -> Any:
    """What survives truncation: identity, keys and stream metadata, no images."""
    if not isinstance(record, Mapping):
        return {"type": type(record).__name__}
    summary = {k: record[k] for k in ("eventID", "eventName", "eventSourceARN") if k in record}
    stream = record.get("dynamodb")
    if isinstance(stream, Mapping):
        summary["dynamodb"] = {
            k: stream[k]
            for k in (
                "Keys",
                "SequenceNumber",
                "ApproximateCreationDateTime",
                "SizeBytes",
                "StreamViewType",
            )
            if k in stream
        }
    return summary


def overflow_key(letter: DeadLetter, full_body: str) -> str:
    """Where the full message of an oversized dead letter is kept (the same key every time)."""
    name = letter.sequence_number or hashlib.sha256(full_body.encode("utf-8")).hexdigest()
    return f"{OVERFLOW_PREFIX}{letter.kind.value}/{name}.json"


def message_body(
    letter: DeadLetter,
    *,
    context: Mapping[str, Any] | None = None,
    max_bytes: int = SQS_MAX_MESSAGE_BYTES,
    now: datetime | None = None,
    keep: Callable[[str, str], Mapping[str, str] | None] | None = None,
) -> str:
    """The JSON message for one dead letter, within ``max_bytes``.

    ``keep(key, full_message)`` stores an oversized message durably and returns its location
    (``{"bucket", "key"}``), which the returned message then names; it raises if it cannot.
    """
    record_field = "event" if letter.kind is DeadLetterKind.MALFORMED_EVENT else "record"
    body: dict[str, Any] = {
        "source": MESSAGE_SOURCE,
        "kind": letter.kind.value,
        "error": _clip(letter.error),
        "sequence_number": letter.sequence_number,
        "document_id": letter.document_id,
        "position": letter.position,
        "dead_lettered_at": (now or datetime.now(UTC)).isoformat(),
        **(context or {}),
        record_field: letter.record,
        "record_truncated": False,
    }
    text = json.dumps(body, ensure_ascii=False, default=repr)
    size = len(text.encode("utf-8"))
    if size <= max_bytes:
        return text
    location = keep(overflow_key(letter, text), text) if keep is not None else None
    body[record_field] = _record_summary(letter.record)
    body["record_truncated"] = True
    body["record_bytes"] = size
    if location is not None:
        body["record_location"] = dict(location)
    return json.dumps(body, ensure_ascii=False, default=repr)


def _aws_client(service: str, region: str | None) -> BaseClient:
    import boto3  # the Lambda runtime provides it; AWS_ENDPOINT_URL is honoured
    from botocore.config import Config

    config = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard"})
    return boto3.client(service, region_name=region, config=config)


class SqsDeadLetters:
    """Sends dead letters to an SQS queue (at most 256 KiB each) in order, stopping at the
    first that is not accepted; oversized records go whole to ``bucket``."""

    def __init__(
        self,
        queue_url: str,
        *,
        sqs: BaseClient | None = None,
        region: str | None = None,
        context: Mapping[str, Any] | None = None,
        max_message_bytes: int = SQS_MAX_MESSAGE_BYTES,
        bucket: str | None = None,
        s3: BaseClient | None = None,
    ) -> None:
        self.sqs = sqs if sqs is not None else _aws_client("sqs", region)
        self.queue_url = queue_url
        self.context = dict(context or {})
        self.max_message_bytes = max_message_bytes
        self.bucket = bucket
        self.s3 = s3 if s3 is not None or bucket is None else _aws_client("s3", region)

    def send(self, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
        """Send in order, one message per request; once one is not accepted, that one and all
        after it are returned. The batch retries from the earliest of them, so a later one
        sent now would be sent again with the retry. (``SendMessageBatch`` can accept some
        entries of a request and refuse others, so it cannot stop at the first; dead letters
        are rare enough that one request each costs nothing that matters.)"""
        for index, letter in enumerate(letters):
            if not self._send_one(letter):
                return list(letters[index:])
        return []

    def _keep(self, key: str, full_message: str) -> Mapping[str, str]:
        assert self.s3 is not None and self.bucket is not None
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=full_message.encode("utf-8"),
            ContentType="application/json",
        )
        return {"bucket": self.bucket, "key": key}

    def _send_one(self, letter: DeadLetter) -> bool:
        keep = self._keep if self.bucket else None
        try:
            body = message_body(
                letter, context=self.context, max_bytes=self.max_message_bytes, keep=keep
            )
            self.sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=body,
                MessageAttributes={
                    "source": {"DataType": "String", "StringValue": MESSAGE_SOURCE},
                    "kind": {"DataType": "String", "StringValue": letter.kind.value},
                },
            )
        except Exception as error:  # botocore raises many unrelated types; all mean "not sent"
            logger.error("dead letter at record %s not sent: %s", letter.position, error)
            return False
        return True


class LogDeadLetters:
    """The sink of last resort when no queue is configured: the full message, logged as an
    error (never a silent drop). Counts as sent."""

    def __init__(self, context: Mapping[str, Any] | None = None) -> None:
        self.context = dict(context or {})

    def send(self, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
        for letter in letters:
            logger.error(
                "dead letter (no queue configured): %s",
                message_body(letter, context=self.context, max_bytes=1024 * 1024),
            )
        return []

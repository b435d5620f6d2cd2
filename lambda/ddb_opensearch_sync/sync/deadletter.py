"""Dead letters: records that cannot be indexed, sent to SQS with the record and the error.

The queue is also the event source mapping's on-failure destination, whose messages carry
only batch metadata (``requestContext``, ``DDBStreamBatchInfo``). Messages from this module
say what they are: ``"source": "ddb-opensearch-sync"``, a ``kind``, the ``error`` and the full
``record`` as Lambda delivered it (or ``event``, for an event that is not a batch). A record
too large for one SQS message keeps its keys and stream metadata and says
``"record_truncated": true``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
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
SQS_MAX_BATCH = 10
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


def message_body(
    letter: DeadLetter,
    *,
    context: Mapping[str, Any] | None = None,
    max_bytes: int = SQS_MAX_MESSAGE_BYTES,
    now: datetime | None = None,
) -> str:
    """The JSON message for one dead letter, within ``max_bytes``."""
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
    body[record_field] = _record_summary(letter.record)
    body["record_truncated"] = True
    body["record_bytes"] = size
    return json.dumps(body, ensure_ascii=False, default=repr)


class SqsDeadLetters:
    """Sends dead letters to an SQS queue, ten (and at most 256 KiB) per request."""

    def __init__(
        self,
        queue_url: str,
        *,
        sqs: BaseClient | None = None,
        region: str | None = None,
        context: Mapping[str, Any] | None = None,
        max_message_bytes: int = SQS_MAX_MESSAGE_BYTES,
    ) -> None:
        if sqs is None:
            import boto3  # the Lambda runtime provides it; AWS_ENDPOINT_URL is honoured
            from botocore.config import Config

            config = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard"})
            sqs = boto3.client("sqs", region_name=region, config=config)
        self.sqs = sqs
        self.queue_url = queue_url
        self.context = dict(context or {})
        self.max_message_bytes = max_message_bytes

    def send(self, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
        failed: list[DeadLetter] = []
        for group in self._groups(letters):
            failed.extend(self._send_group(group))
        return failed

    def _groups(self, letters: Sequence[DeadLetter]) -> list[list[tuple[DeadLetter, str]]]:
        groups: list[list[tuple[DeadLetter, str]]] = []
        current: list[tuple[DeadLetter, str]] = []
        size = 0
        for letter in letters:
            body = message_body(letter, context=self.context, max_bytes=self.max_message_bytes)
            length = len(body.encode("utf-8"))
            full = len(current) >= SQS_MAX_BATCH or size + length > self.max_message_bytes
            if current and full:
                groups.append(current)
                current, size = [], 0
            current.append((letter, body))
            size += length
        if current:
            groups.append(current)
        return groups

    def _send_group(self, group: list[tuple[DeadLetter, str]]) -> list[DeadLetter]:
        entries = [
            {
                "Id": str(i),
                "MessageBody": body,
                "MessageAttributes": {
                    "source": {"DataType": "String", "StringValue": MESSAGE_SOURCE},
                    "kind": {"DataType": "String", "StringValue": letter.kind.value},
                },
            }
            for i, (letter, body) in enumerate(group)
        ]
        try:
            response = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except Exception as error:  # botocore raises many unrelated types; all mean "not sent"
            logger.error("dead-letter queue unavailable: %s", error)
            return [letter for letter, _ in group]
        failed_ids = {entry["Id"] for entry in response.get("Failed", [])}
        for entry in response.get("Failed", []):
            logger.error("dead letter %s not accepted: %s", entry.get("Id"), entry.get("Message"))
        return [letter for i, (letter, _) in enumerate(group) if str(i) in failed_ids]


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

"""DynamoDB stream records as Lambda delivers them: typed images, growing sequence numbers,
creation times under the test's control."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import Binary, TypeSerializer

from ddb_opensearch_sync.core.records import plain_image

_SERIALIZER = TypeSerializer()


def typed(item: Mapping[str, Any]) -> dict[str, Any]:
    """A plain item as a stream image: boto3's serializer, binary values as base64 text
    (the Lambda event's encoding)."""
    return {name: _event_encoding(_SERIALIZER.serialize(value)) for name, value in item.items()}


def as_indexed(item: Mapping[str, Any]) -> dict[str, Any]:
    """The document the sync function's mapping makes of a plain item (``_sync`` aside)."""
    return plain_image(typed(item))


def _event_encoding(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _event_encoding(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_event_encoding(v) for v in value]
    if isinstance(value, Binary | bytes):
        return base64.b64encode(bytes(value)).decode()
    return value


@dataclass
class Stream:
    """Emits NEW_AND_OLD_IMAGES stream records for a table, with growing sequence numbers
    (past 2**64, as real ones are) and creation times under the test's control."""

    key_names: tuple[str, ...] = ("book_id",)
    sequence: int = 2**64 + 10**6
    clock: int = 1_700_000_000
    arn: str = "arn:aws:dynamodb:us-east-1:000000000000:table/books/stream/2030-01-01T00:00:00.000"
    emitted: list[dict[str, Any]] = field(default_factory=list)

    def _record(
        self,
        event_name: str,
        keys: Mapping[str, Any],
        new: Mapping[str, Any] | None,
        old: Mapping[str, Any] | None,
        *,
        step: int,
        seconds: int,
        user_identity: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        self.sequence += step
        self.clock += seconds
        stream: dict[str, Any] = {
            "ApproximateCreationDateTime": float(self.clock),
            "Keys": typed(keys),
            "SequenceNumber": str(self.sequence),
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        if new is not None:
            stream["NewImage"] = typed(new)
        if old is not None:
            stream["OldImage"] = typed(old)
        record: dict[str, Any] = {
            "eventID": uuid.uuid4().hex,
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": stream,
            "eventSourceARN": self.arn,
        }
        if user_identity is not None:
            record["userIdentity"] = dict(user_identity)
        self.emitted.append(record)
        return record

    def keys_of(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self.key_names}

    def insert(self, item: Mapping[str, Any], *, step: int = 1, seconds: int = 1) -> dict:
        return self._record("INSERT", self.keys_of(item), item, None, step=step, seconds=seconds)

    def modify(
        self, old: Mapping[str, Any], new: Mapping[str, Any], *, step: int = 1, seconds: int = 1
    ) -> dict:
        return self._record("MODIFY", self.keys_of(new), new, old, step=step, seconds=seconds)

    def remove(
        self, old: Mapping[str, Any], *, step: int = 1, seconds: int = 1, ttl: bool = False
    ) -> dict:
        identity = {"type": "Service", "principalId": "dynamodb.amazonaws.com"} if ttl else None
        return self._record(
            "REMOVE",
            self.keys_of(old),
            None,
            old,
            step=step,
            seconds=seconds,
            user_identity=identity,
        )

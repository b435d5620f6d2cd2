"""The DynamoDB side of the operator commands: key schema, client, items as changes.

A scanned item is turned into the change it stands for -- an ``INSERT`` stream record with the
item as its ``NewImage`` -- and handed to `records.to_change`, the function's own mapping, so a
backfilled or reconciled document can never differ from one the stream would have written.
What sequence number and version such a change carries is the caller's decision
(`backfill` explains the scheme).

Only the operator CLI imports this module; the function never does.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..core.records import Change, EventName, document_id, to_change

DynamoDBClient = Any
"""boto3 generates its clients at run time; this alias names the role in signatures."""

__all__ = [
    "BACKFILL_SEQUENCE",
    "DynamoDBClient",
    "TableInfo",
    "decode_key",
    "encode_key",
    "item_change",
    "item_keys",
    "keys_from_document",
    "make_dynamodb_client",
    "stream_image",
    "tombstone_change",
]

_TTL_ON = ("ENABLED", "ENABLING")

BACKFILL_SEQUENCE = "0"
"""The sequence number of a change read from the table rather than the stream: lower than
every real one (they are 21 to 40 digits), so `records.is_newer` ranks it oldest."""


@dataclass(frozen=True, slots=True)
class TableInfo:
    """What the commands need to know about a table: its name, key schema and TTL attribute
    (``ttl_attribute``: the attribute holding an item's expiry time, when TTL is enabled)."""

    name: str
    key_types: Mapping[str, str]
    """Key attribute name -> ``S``, ``N`` or ``B``."""
    item_count: int
    """DynamoDB's approximate count (refreshed about every six hours on AWS); for ETAs only."""
    ttl_attribute: str | None = None

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(self.key_types)

    @classmethod
    def describe(cls, dynamodb: DynamoDBClient, name: str) -> TableInfo:
        table = dynamodb.describe_table(TableName=name)["Table"]
        types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
        keys = {k["AttributeName"]: types[k["AttributeName"]] for k in table["KeySchema"]}
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        return cls(
            name=name,
            key_types=keys,
            item_count=int(table.get("ItemCount", 0)),
            ttl_attribute=ttl.get("AttributeName")
            if ttl.get("TimeToLiveStatus") in _TTL_ON
            else None,
        )

    def expired(self, source: Mapping[str, Any], now: float) -> bool:
        """Whether a document's item had expired by ``now`` (its TTL attribute, epoch seconds,
        is in the past). DynamoDB ignores values that are not numbers; so does this."""
        value = source.get(self.ttl_attribute) if self.ttl_attribute else None
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return False
        return value <= now


def make_dynamodb_client(
    region: str | None = None, endpoint_url: str | None = None
) -> DynamoDBClient:
    """A DynamoDB client that retries throttled scans with adaptive client-side rate limiting.

    The endpoint comes from ``AWS_ENDPOINT_URL`` (boto3 reads it) unless given.
    """
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "adaptive", "max_attempts": 10})
    return boto3.client(
        "dynamodb", region_name=region, endpoint_url=endpoint_url or None, config=config
    )


# --- attribute values: the client's encoding <-> the stream event's ---------------------


def stream_image(value: Any) -> Any:
    """An item as the client returns it (binary as ``bytes``) in the encoding of a Lambda
    stream event (binary as base64 text), which is what `records` reads."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {k: stream_image(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stream_image(v) for v in value]
    return value


def encode_key(key: Mapping[str, Any]) -> dict[str, Any]:
    """A ``LastEvaluatedKey`` as JSON (binary key values as base64 text), for checkpoints."""
    return stream_image(key)


def decode_key(key: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of `encode_key`: an ``ExclusiveStartKey`` the client accepts."""
    decoded: dict[str, Any] = {}
    for name, value in key.items():
        (kind, raw), *_ = value.items()
        decoded[name] = {kind: base64.b64decode(raw) if kind == "B" else raw}
    return decoded


# --- items as changes --------------------------------------------------------------------


def _record(
    event: EventName,
    keys: Mapping[str, Any],
    image: Mapping[str, Any] | None,
    seq: str,
    written_at: float | None,
) -> dict[str, Any]:
    stream: dict[str, Any] = {"Keys": keys, "SequenceNumber": seq}
    if written_at is not None:
        # The same `_sync.ts` a stream write carries (what reindex and purge select by); the
        # version is the caller's, not the one `records` derives from it.
        stream["ApproximateCreationDateTime"] = int(written_at)
    if image is not None:
        stream["NewImage"] = image
    return {"eventName": event.value, "eventSource": "aws:dynamodb", "dynamodb": stream}


def item_keys(item: Mapping[str, Any], table: TableInfo) -> dict[str, Any]:
    """The typed keys of an item read from the table, event-encoded (binary as base64)."""
    return {name: stream_image(item[name]) for name in table.key_names if name in item}


def item_change(
    item: Mapping[str, Any],
    table: TableInfo,
    *,
    sequence_number: str = BACKFILL_SEQUENCE,
    version: int = 0,
    written_at: float | None = None,
    encoded: bool = False,
) -> Change:
    """The ``INSERT`` change an item read from the table stands for, at external ``version``.

    ``written_at`` (epoch seconds, when the item was read) becomes the document's
    ``_sync.ts``, as a stream write's creation time does; ``None`` leaves it out (a
    comparison, not a write). ``encoded``: the item is in the stream event's encoding
    already (as `scan.ParallelScan` reads it), not the client's. Raises
    `records.MalformedRecordError` for an item the function could not index either.
    """
    image = item if encoded else stream_image(item)
    record = _record(EventName.INSERT, item_keys(item, table), image, sequence_number, written_at)
    return to_change(record)._replace(version=version)


def tombstone_change(
    keys: Mapping[str, Any],
    *,
    sequence_number: str = BACKFILL_SEQUENCE,
    version: int = 0,
    written_at: float | None = None,
) -> Change:
    """The ``REMOVE`` change for typed, event-encoded ``keys`` (``written_at``: `item_change`)."""
    change = to_change(_record(EventName.REMOVE, keys, None, sequence_number, written_at))
    return change._replace(version=version)


def keys_from_document(
    doc_id: str, source: Mapping[str, Any], table: TableInfo
) -> dict[str, Any] | None:
    """The typed (event-encoded) keys of an indexed document, or ``None`` when its source does
    not hold keys that map back to its id (a document nobody wrote through this sync)."""
    keys: dict[str, Any] = {}
    for name, kind in table.key_types.items():
        value = source.get(name)
        if value is None or isinstance(value, bool | Mapping | list):
            return None
        keys[name] = {kind: str(value)}
    try:
        return keys if document_id(keys) == doc_id else None
    except ValueError:  # MalformedRecordError: not a key of this table's types
        return None

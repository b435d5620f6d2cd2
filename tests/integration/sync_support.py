"""Helpers for the sync function's integration tests: stream records as DynamoDB writes them,
a throwaway index per test module, and reading back what reached the index and the queue."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeSerializer
from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.mapping import concrete_index_name
from ddb_opensearch_sync.core.records import SYNC_FIELD, TtlPolicy
from ddb_opensearch_sync.index.setup import setup_index
from ddb_opensearch_sync.index.writer import BulkWriter
from ddb_opensearch_sync.sync.batch import BatchSyncer
from ddb_opensearch_sync.sync.deadletter import SqsDeadLetters
from tests.polling import eventually

_SERIALIZER = TypeSerializer()


def typed(item: Mapping[str, Any]) -> dict[str, Any]:
    """A plain item as a stream image: boto3's serializer, binary values as base64 text
    (the Lambda event's encoding)."""
    return {name: _event_encoding(_SERIALIZER.serialize(value)) for name, value in item.items()}


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


def unique_alias(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@contextmanager
def managed_index(client: OpenSearch, alias: str) -> Iterator[str]:
    """Create the alias and its concrete index as deploys do; drop both afterwards."""
    setup_index(client, alias)
    try:
        yield alias
    finally:
        client.indices.delete(index=concrete_index_name(alias), ignore_unavailable=True)
        client.indices.delete_index_template(name=f"{alias}-template", ignore=404)


def make_syncer(
    client: OpenSearch,
    alias: str,
    dead_letters: Any,
    *,
    ttl_policy: TtlPolicy = TtlPolicy.DELETE,
    **writer_options: Any,
) -> BatchSyncer:
    options = {"backoff_base": 0.02, "backoff_cap": 0.2, **writer_options}
    return BatchSyncer(BulkWriter(client, alias, **options), dead_letters, ttl_policy=ttl_policy)


def within(seconds: float) -> float:
    """A deadline for `BatchSyncer`, as the handler computes one."""
    return time.monotonic() + seconds


def decimal_json(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def raw_json(client: OpenSearch, method: str, path: str, body: Any = None) -> Any:
    """A request whose response is parsed with exact numbers (opensearch-py's own parsing
    turns them into floats)."""
    connection = client.transport.get_connection()
    _, _, text = connection.perform_request(
        method,
        path,
        body=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    return decimal_json(text)


def stored_documents(client: OpenSearch, index: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Every stored document (tombstones included) among ``ids``, exact numbers kept."""
    if not ids:
        return {}
    docs = raw_json(client, "POST", f"/{index}/_mget", {"ids": ids})["docs"]
    return {d["_id"]: d["_source"] for d in docs if d.get("found")}


def visible_ids(client: OpenSearch, alias: str, ids: list[str]) -> set[str]:
    """Ids a search through the alias finds (the alias filter hides tombstones)."""
    client.indices.refresh(index=alias)
    response = client.search(
        index=alias,
        body={"query": {"ids": {"values": ids}}, "size": len(ids) or 1, "_source": False},
    )
    return {hit["_id"] for hit in response["hits"]["hits"]}


def without_sync(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != SYNC_FIELD}


def receive_all(sqs: Any, queue_url: str, count: int, *, timeout: float = 10.0) -> list[dict]:
    """Receive (and delete) ``count`` messages from the queue, as parsed JSON bodies."""
    received: list[dict] = []

    def probe() -> list[dict]:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        )
        for message in response.get("Messages", []):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return received

    # Long polling (WaitTimeSeconds) paces the probes.
    return eventually(probe, lambda got: len(got) >= count, f"{count} messages", timeout, 0)


def new_queue(sqs: Any, name_prefix: str) -> str:
    return sqs.create_queue(QueueName=unique_alias(name_prefix))["QueueUrl"]


def sqs_dead_letters(sqs: Any, queue_url: str) -> SqsDeadLetters:
    return SqsDeadLetters(queue_url, sqs=sqs, context={"function": "integration-test"})

"""The stack's LocalStack through boto3: clients, and throwaway tables and queues that never
touch the deployed ones."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
from botocore.config import Config

from tests.support.names import unique
from tests.support.polling import eventually
from tests.support.settings import Settings

Client = Any  # boto3 clients are generated at run time
Item = dict[str, Any]


def session(settings: Settings) -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        region_name=settings.region,
    )


def client(settings: Settings, service: str, config: Config | None = None) -> Client:
    """A client of ``service`` at the stack's LocalStack."""
    return session(settings).client(service, endpoint_url=settings.aws_endpoint_url, config=config)


# --- tables ----------------------------------------------------------------------------------


def book(number: int, **extra: Any) -> Item:
    """An item with every kind of attribute the mapping handles (boto3's plain types)."""
    return {
        "book_id": f"book-{number:05d}",
        "title": f"Title {number} ✓",
        "author": f"Author {number % 7}",
        "year": Decimal(1900 + number % 120),
        "price": Decimal("12345678901234567890.123456789") + number,  # beyond a double
        "tags": {"fiction", f"t{number % 3}"},
        "ratings": {Decimal(number % 5), Decimal("4.5")},
        "in_print": number % 2 == 0,
        "meta": {"pages": Decimal(100 + number), "notes": [f"n{number}", None]},
        "cover": bytes([number % 256, 255, 0]),
        **extra,
    }


@dataclass
class Table:
    """A throwaway table keyed by ``book_id``."""

    name: str
    dynamodb: Client
    table: Any  # boto3 Table resource
    stream_arn: str | None

    def put_all(self, items: Iterable[Mapping[str, Any]]) -> None:
        with self.table.batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)


@contextmanager
def new_table(
    settings: Settings, *, stream: bool, items: Iterable[Mapping[str, Any]] = (), prefix: str = "t"
) -> Iterator[Table]:
    """A table keyed by ``book_id`` (with a NEW_AND_OLD_IMAGES stream if asked), holding
    ``items``; deleted afterwards."""
    aws = session(settings)
    dynamodb = aws.client("dynamodb", endpoint_url=settings.aws_endpoint_url)
    name = unique(prefix)
    params: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": "book_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "book_id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if stream:
        params["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    created = dynamodb.create_table(**params)["TableDescription"]
    resource = aws.resource("dynamodb", endpoint_url=settings.aws_endpoint_url).Table(name)
    try:
        table = Table(name, dynamodb, resource, created.get("LatestStreamArn"))
        table.put_all(items)
        yield table
    finally:
        dynamodb.delete_table(TableName=name)


@dataclass(frozen=True)
class BooksTable:
    """A table keyed by ``book_id``, read and written straight through DynamoDB (another
    writer than the API)."""

    dynamodb: Client
    name: str

    def item(self, book_id: str) -> Item | None:
        """The typed item, read consistently; ``None`` when absent."""
        response = self.dynamodb.get_item(
            TableName=self.name, Key={"book_id": {"S": book_id}}, ConsistentRead=True
        )
        return response.get("Item")

    def count(self) -> int:
        """Items in the table, by a consistent ``Scan`` with ``Select=COUNT``."""
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.name, Select="COUNT", ConsistentRead=True
        )
        return sum(page["Count"] for page in pages)

    def mentioning(self, text: str) -> list[Item]:
        """Every item whose typed JSON contains ``text`` (to show that nothing was written)."""
        found: list[Item] = []
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.name, ConsistentRead=True
        )
        for page in pages:
            found += [i for i in page["Items"] if text in json.dumps(i, ensure_ascii=False)]
        return found

    def delete(self, ids: list[str]) -> None:
        """Delete items by ``book_id``, 25 per request."""
        for start in range(0, len(ids), 25):
            keys = ids[start : start + 25]
            batch = [{"DeleteRequest": {"Key": {"book_id": {"S": i}}}} for i in keys]
            unprocessed = self.dynamodb.batch_write_item(RequestItems={self.name: batch})
            assert unprocessed["UnprocessedItems"] == {}, f"batch delete left {unprocessed}"


# --- queues ----------------------------------------------------------------------------------


@contextmanager
def new_queue(sqs: Client, prefix: str) -> Iterator[str]:
    """A queue's URL; the queue is deleted afterwards."""
    url = sqs.create_queue(QueueName=unique(prefix))["QueueUrl"]
    try:
        yield url
    finally:
        sqs.delete_queue(QueueUrl=url)


def receive_until(
    sqs: Client,
    queue_url: str,
    done: Callable[[list[dict[str, Any]]], bool],
    what: str,
    *,
    timeout: float = 10.0,
) -> list[dict[str, Any]]:
    """Receive (and delete) messages, as parsed JSON bodies, until ``done(all so far)``."""
    received: list[dict[str, Any]] = []

    def probe() -> list[dict[str, Any]]:
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
    return eventually(probe, done, what, timeout, 0)


def receive_all(sqs: Client, queue_url: str, count: int, *, timeout: float = 10.0) -> list[dict]:
    """Receive (and delete) ``count`` messages from the queue, as parsed JSON bodies."""
    return receive_until(
        sqs, queue_url, lambda got: len(got) >= count, f"{count} messages", timeout=timeout
    )

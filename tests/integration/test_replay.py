"""``ddb-opensearch-sync replay`` after a real outage: OpenSearch killed (kill -9) while the
table keeps changing, a stream mapping that gives up on every failing batch at once (a small
retry budget) and sends its metadata to the on-failure queue, the node brought back, then
replay -> the index equals the table and the queue is empty. Also: a batch the stream no
longer holds falls back to a reconcile, and the function's own dead letters stay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ddb_opensearch_sync.sync.deadletter import MESSAGE_SOURCE
from tests.support import aws
from tests.support.aws import book, new_table
from tests.support.opensearch import visible_ids
from tests.support.outage import bring_back, kill_opensearch
from tests.support.pipeline import check, new_pipeline, run_cli, target_options
from tests.support.polling import eventually

pytestmark = [pytest.mark.stack, pytest.mark.deployed]

BEFORE = 20
DURING = 30


@pytest.fixture
def table(settings) -> Iterator[aws.Table]:
    with new_table(settings, stream=True, prefix="replay") as table:
        yield table


def queue_arn(sqs_client, queue_url: str) -> str:
    attributes = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


class Peek:
    """Reads a queue's messages without taking them (each is hidden for a second, then visible
    again), remembering every one seen across calls."""

    def __init__(self, sqs_client, queue_url: str) -> None:
        self.sqs = sqs_client
        self.queue_url = queue_url
        self.seen: dict[str, dict[str, Any]] = {}

    def __call__(self) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=1, WaitTimeSeconds=1
        )
        for message in response.get("Messages", []):
            self.seen[message["MessageId"]] = json.loads(message["Body"])
        return list(self.seen.values())

    def records_given_up(self) -> int:
        return sum(
            body["DDBStreamBatchInfo"]["batchSize"]
            for body in self()
            if "DDBStreamBatchInfo" in body
        )


def queue_bodies(sqs_client, queue_url: str) -> list[dict[str, Any]]:
    """What the queue holds now (after every message is visible again)."""
    all_visible_again(sqs_client, queue_url)
    peek = Peek(sqs_client, queue_url)
    for _ in range(3):
        peek()
    return list(peek.seen.values())


def all_visible_again(sqs_client, queue_url: str) -> None:
    def hidden() -> int:
        attributes = sqs_client.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessagesNotVisible"])

    eventually(hidden, lambda count: count == 0, "the peeked messages to be visible again")


def test_outage_past_the_retry_budget_is_replayed_from_the_stream(
    settings, opensearch_client, exact_client, sqs_client, table, alias, queue_url
):
    # GIVEN the function on a table's stream with a small retry budget (no retry; a 4 s
    # timeout), the on-failure queue as its destination, and items indexed before the outage
    with new_pipeline(
        settings,
        table,
        alias,
        opensearch_client,
        timeout=4,
        environment={"DLQ_URL": queue_url},
        mapping_options={
            "MaximumRetryAttempts": 0,
            "DestinationConfig": {"OnFailure": {"Destination": queue_arn(sqs_client, queue_url)}},
        },
    ):
        items = [book(i) for i in range(BEFORE)]
        table.put_all(items)
        ids = [item["book_id"] for item in items]
        eventually(
            lambda: visible_ids(opensearch_client, alias, ids),
            lambda seen: seen == set(ids),
            "the first items to be indexed",
        )

        # WHEN OpenSearch is killed while the table keeps changing: new items, changed
        # items and deleted items, every one a stream record
        kill_opensearch()
        try:
            table.put_all(book(i) for i in range(BEFORE, BEFORE + DURING - 10))
            table.put_all(book(i, title=f"changed {i}") for i in range(5))
            for i in range(5, 10):
                table.table.delete_item(Key={"book_id": book(i)["book_id"]})
            # AND the mapping gives up on every batch of them
            eventually(
                Peek(sqs_client, queue_url).records_given_up,
                lambda count: count >= DURING,
                "the mapping to give up on every change made during the outage",
                timeout=120,
            )
        finally:
            bring_back()
        all_visible_again(sqs_client, queue_url)
        missing = check(exact_client, table, alias, settle=0)()
        assert not missing.in_sync, "the outage must have lost changes for replay to restore"

        # AND replay runs
        code, result = run_cli(
            "replay", *target_options(settings, table, alias), "--queue-url", queue_url
        )

    # THEN it replayed exactly the given-up batches from the stream, deleted their messages,
    # and the index equals the table
    assert code == 0, result
    assert (result["records"], result["gone"], result["failed"]) == (DURING, 0, 0)
    assert result["deleted"] == result["messages"] >= 1
    assert check(exact_client, table, alias, settle=0)().in_sync
    assert queue_bodies(sqs_client, queue_url) == []


def test_batch_no_longer_in_the_stream_falls_back_to_a_reconcile(
    settings, exact_client, sqs_client, table, alias, queue_url
):
    # GIVEN items in the table that the index never got, and an on-failure record for a batch
    # of a shard the stream does not have (as when its records were trimmed after 24 h),
    # beside one of the function's own dead letters
    table.put_all(book(i) for i in range(5))
    info = {
        "shardId": "shardId-00000000000000000000-deadbeef",
        "startSequenceNumber": "100000000000000000001",
        "endSequenceNumber": "100000000000000000005",
        "approximateArrivalOfFirstRecord": "2030-01-01T00:00:00Z",
        "approximateArrivalOfLastRecord": "2030-01-01T00:00:01Z",
        "batchSize": 5,
        "streamArn": table.stream_arn,
    }
    failure = {"DDBStreamBatchInfo": info, "timestamp": "2030-01-01T00:00:02Z", "version": "1.0"}
    letter = {"source": MESSAGE_SOURCE, "kind": "rejected_document", "record": {"x": 1}}
    for body in (failure, letter):
        sqs_client.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))

    # WHEN replay runs
    code, result = run_cli(
        "replay", *target_options(settings, table, alias), "--queue-url", queue_url
    )

    # THEN the reconcile repaired the index, the on-failure record is gone, the dead letter
    # stays for an operator
    assert code == 0, result
    assert (result["gone"], result["deleted"], result["dead_letters_left"]) == (1, 1, 1)
    assert result["reconcile"]["repair"]["written"] == 5
    assert check(exact_client, table, alias, settle=0)().in_sync
    assert [body.get("source") for body in queue_bodies(sqs_client, queue_url)] == [MESSAGE_SOURCE]

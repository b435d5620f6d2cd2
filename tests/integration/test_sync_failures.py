"""Failures made by OpenSearch's own mechanisms (write blocks, closed indices, mapping
conflicts and limits, immense terms), bad input, and an unreachable queue or cluster: what
``batchItemFailures`` says and what reaches the dead-letter queue (real SQS)."""

from __future__ import annotations

import copy
import socket
from decimal import Decimal
from typing import Any

import pytest

from ddb_opensearch_sync.core.mapping import concrete_index_name
from ddb_opensearch_sync.index.client import make_client
from ddb_opensearch_sync.sync.batch import DeadLetterError
from ddb_opensearch_sync.sync.deadletter import MESSAGE_SOURCE
from tests.support.aws import new_queue, receive_all
from tests.support.names import unique
from tests.support.opensearch import stored_documents, visible_ids, without_sync
from tests.support.pipeline import make_syncer, sqs_dead_letters, within
from tests.support.streams import Stream

pytestmark = pytest.mark.stack

RETRY_WINDOW = 1.5
"""Seconds a test lets the writer retry a cluster-side failure before it reports it."""


def seq(record: dict[str, Any]) -> str:
    return record["dynamodb"]["SequenceNumber"]


def keys_only(record: dict[str, Any]) -> dict[str, Any]:
    """The same change as a KEYS_ONLY stream would deliver it."""
    stripped = copy.deepcopy(record)
    stripped["dynamodb"].pop("NewImage", None)
    stripped["dynamodb"].pop("OldImage", None)
    stripped["dynamodb"]["StreamViewType"] = "KEYS_ONLY"
    return stripped


def books(count: int, prefix: str) -> list[dict[str, Any]]:
    return [{"book_id": f"{prefix}-{i}", "title": f"Book {i}"} for i in range(count)]


@pytest.mark.parametrize("block", ["write-block", "closed"])
def test_blocked_index_reports_the_earliest_record_and_recovers(
    opensearch_client, alias, syncer, sqs_client, queue_url, block
):
    # GIVEN an index that refuses writes, and a batch whose first record is malformed
    index = concrete_index_name(alias)
    stream = Stream()
    items = books(3, unique("blocked"))
    records = [keys_only(stream.insert(items[0]))] + [stream.insert(i) for i in items[1:]]
    if block == "write-block":
        opensearch_client.indices.put_settings(index=index, body={"index.blocks.write": True})
    else:
        opensearch_client.indices.close(index=index)

    # WHEN the batch is synced
    response, report = syncer.sync_records(records, deadline=within(RETRY_WINDOW))

    # THEN the malformed record is dead-lettered (done) and the retry starts at the first
    # record the cluster refused
    assert response == {"batchItemFailures": [{"itemIdentifier": seq(records[1])}]}
    assert (report.failed, report.dead_lettered, report.written) == (2, 1, 0)
    assert report.retry_rounds >= 1
    (letter,) = receive_all(sqs_client, queue_url, 1)
    assert (letter["kind"], letter["record"]) == ("malformed_record", records[0])

    # WHEN the cluster accepts writes again and Lambda retries from that record
    if block == "write-block":
        opensearch_client.indices.put_settings(index=index, body={"index.blocks.write": False})
    else:
        opensearch_client.indices.open(index=index, wait_for_active_shards=1)
    response, report = syncer.sync_records(records[1:], deadline=within(10))

    # THEN everything is indexed
    assert response == {"batchItemFailures": []}
    ids = [i["book_id"] for i in items[1:]]
    assert visible_ids(opensearch_client, alias, ids) == set(ids)


def test_mapping_conflict_is_dead_lettered_with_record_and_error(
    opensearch_client, alias, syncer, sqs_client, queue_url
):
    # GIVEN an attribute first indexed as a map
    stream = Stream()
    prefix = unique("conflict")
    first = {"book_id": f"{prefix}-map", "shape": {"sides": Decimal(4)}}
    syncer.sync_records([stream.insert(first)], deadline=within(10))

    # WHEN another item has a string there, beside a good item
    clash = {"book_id": f"{prefix}-string", "shape": "round"}
    good = {"book_id": f"{prefix}-good", "title": "fine"}
    records = [stream.insert(clash), stream.insert(good)]
    response, report = syncer.sync_records(records, deadline=within(10))

    # THEN the clash is dead-lettered, the batch is done and the good item indexed
    assert response == {"batchItemFailures": []}
    assert (report.rejected, report.dead_lettered, report.written) == (1, 1, 1)
    (letter,) = receive_all(sqs_client, queue_url, 1)
    assert letter["source"] == MESSAGE_SOURCE
    assert letter["kind"] == "rejected_document"
    assert letter["record"] == records[0]
    assert letter["document_id"] == clash["book_id"]
    assert letter["sequence_number"] == seq(records[0])
    assert letter["error"]["type"] == "mapper_parsing_exception"
    assert letter["error"]["status"] == 400
    assert visible_ids(opensearch_client, alias, [clash["book_id"], good["book_id"]]) == {
        good["book_id"]
    }


def test_total_fields_limit_is_dead_lettered(
    opensearch_client, alias, syncer, sqs_client, queue_url
):
    # GIVEN an index allowing few fields
    index = concrete_index_name(alias)
    opensearch_client.indices.put_settings(
        index=index, body={"index.mapping.total_fields.limit": 40}
    )
    item = {"book_id": unique("wide")} | {f"extra_{i}": f"v{i}" for i in range(60)}

    response, report = syncer.sync_records([Stream().insert(item)], deadline=within(10))

    assert response == {"batchItemFailures": []}
    (letter,) = receive_all(sqs_client, queue_url, 1)
    assert letter["error"]["type"] == "illegal_argument_exception"
    assert "Limit of total fields" in letter["error"]["reason"]
    assert letter["record"]["dynamodb"]["NewImage"]["extra_59"] == {"S": "v59"}
    assert report.rejected == 1


def test_oversized_term_is_dead_lettered(opensearch_client, alias, syncer, sqs_client, queue_url):
    # GIVEN a field mapped as a plain keyword (Lucene refuses terms over 32766 bytes)
    index = concrete_index_name(alias)
    opensearch_client.indices.put_mapping(
        index=index, body={"properties": {"fingerprint": {"type": "keyword"}}}
    )
    item = {"book_id": unique("huge"), "fingerprint": "f" * 40_000}

    response, _ = syncer.sync_records([Stream().insert(item)], deadline=within(10))

    assert response == {"batchItemFailures": []}
    (letter,) = receive_all(sqs_client, queue_url, 1)
    assert "immense term" in letter["error"]["reason"]
    assert letter["record"]["dynamodb"]["NewImage"]["fingerprint"] == {"S": "f" * 40_000}


def test_malformed_records_are_dead_lettered_and_the_rest_indexed(
    opensearch_client, alias, syncer, sqs_client, queue_url
):
    stream = Stream()
    good = {"book_id": unique("good"), "title": "fine"}
    unknown_event = stream.insert({"book_id": unique("odd")})
    unknown_event["eventName"] = "UPDATE"
    keys_only_record = keys_only(stream.insert({"book_id": unique("keys")}))
    records: list[Any] = [42, unknown_event, keys_only_record, stream.insert(good)]

    response, report = syncer.sync_records(records, deadline=within(10))

    assert response == {"batchItemFailures": []}
    assert (report.malformed, report.dead_lettered, report.written) == (3, 3, 1)
    letters = receive_all(sqs_client, queue_url, 3)
    by_position = {letter["position"]: letter for letter in letters}
    assert by_position[0]["record"] == 42
    assert by_position[0]["sequence_number"] is None
    assert "unknown eventName 'UPDATE'" in by_position[1]["error"]["reason"]
    assert by_position[1]["record"] == unknown_event
    assert "no NewImage" in by_position[2]["error"]["reason"]
    assert {letter["kind"] for letter in letters} == {"malformed_record"}
    assert visible_ids(opensearch_client, alias, [good["book_id"]]) == {good["book_id"]}


def test_malformed_event_is_dead_lettered(syncer, sqs_client, queue_url):
    response, report = syncer.sync_event({"not": "a batch"}, deadline=within(10))

    assert response == {"batchItemFailures": []}
    assert report.dead_lettered == 1
    (letter,) = receive_all(sqs_client, queue_url, 1)
    assert (letter["kind"], letter["event"]) == ("malformed_event", {"not": "a batch"})


def test_unreachable_queue_retries_from_the_malformed_record(opensearch_client, alias, sqs_client):
    # GIVEN a dead-letter queue that no longer exists
    with new_queue(sqs_client, "gone") as gone:
        pass  # deleted on leaving the block
    syncer = make_syncer(opensearch_client, alias, sqs_dead_letters(sqs_client, gone))
    stream = Stream()
    first, last = books(2, unique("dlq-down"))
    records = [stream.insert(first), keys_only(stream.insert(last)), stream.insert(last)]

    response, report = syncer.sync_records(records, deadline=within(10))

    # THEN the batch resumes at the record that could not be dead-lettered
    assert response == {"batchItemFailures": [{"itemIdentifier": seq(records[1])}]}
    assert (report.dead_lettered, report.failed) == (0, 1)
    # A record without a sequence number cannot be reported: the whole batch fails.
    with pytest.raises(DeadLetterError):
        syncer.sync_records([{"dynamodb": {}}], deadline=within(10))


def test_unreachable_cluster_fails_from_the_first_record(sqs_client, queue_url):
    # GIVEN a cluster address nothing listens on (a port just freed)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}", timeout=1)
    syncer = make_syncer(client, "books", sqs_dead_letters(sqs_client, queue_url))
    stream = Stream()
    records = [stream.insert(item) for item in books(3, unique("down"))]

    response, report = syncer.sync_records(records, deadline=within(RETRY_WINDOW))

    assert response == {"batchItemFailures": [{"itemIdentifier": seq(records[0])}]}
    assert (report.failed, report.written, report.dead_lettered) == (3, 0, 0)
    assert report.retry_rounds >= 1


def test_superseded_changes_are_not_reported_before_their_successor(
    opensearch_client, alias, syncer
):
    # GIVEN a batch "a1, b1, a2" on a write-blocked index
    index = concrete_index_name(alias)
    stream = Stream()
    a, b = books(2, unique("order"))
    a2 = {**a, "title": "a, second version"}
    records = [stream.insert(a), stream.insert(b), stream.modify(a, a2)]
    opensearch_client.indices.put_settings(index=index, body={"index.blocks.write": True})
    try:
        response, report = syncer.sync_records(records, deadline=within(RETRY_WINDOW))
    finally:
        opensearch_client.indices.put_settings(index=index, body={"index.blocks.write": False})

    # THEN a1 needs no retry of its own (a2 carries item a): the retry starts at b1
    assert response == {"batchItemFailures": [{"itemIdentifier": seq(records[1])}]}
    assert report.superseded == 1

    # AND retrying from b1 gives the final state
    response, _ = syncer.sync_records(records[1:], deadline=within(10))
    assert response == {"batchItemFailures": []}
    stored = stored_documents(opensearch_client, alias, [a["book_id"], b["book_id"]])
    assert without_sync(stored[a["book_id"]]) == a2
    assert without_sync(stored[b["book_id"]]) == b

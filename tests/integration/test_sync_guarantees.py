"""The sync's guarantees at its edges, on the real OpenSearch node and real SQS: content errors
whose text misleads, a writer racing past the bump limit, dead letters that are sent once and
keep records of any size, and items whose attribute names or counts stretch the mapping."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.records import SYNC_FIELD, attribute_name, index_name, to_change
from ddb_opensearch_sync.index.writer import BulkWriter, Outcome
from ddb_opensearch_sync.sync.deadletter import LogDeadLetters, SqsDeadLetters
from tests.support.aws import new_queue, receive_all
from tests.support.names import unique
from tests.support.opensearch import stored_documents, without_sync
from tests.support.pipeline import make_syncer, sqs_dead_letters, within
from tests.support.streams import Stream, as_indexed

pytestmark = pytest.mark.stack


def seq(record: dict[str, Any]) -> str:
    return record["dynamodb"]["SequenceNumber"]


def no_more_messages(sqs_client, queue_url: str) -> list[dict[str, Any]]:
    """What else the queue holds after a long poll (nothing, when dead letters are sent once)."""
    response = sqs_client.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    )
    return response.get("Messages", [])


# --- 1. classification by error type, never by words in the error's text ---------------------

# Ids and values that quote the words a text search for cluster problems would look for.
MISLEADING_IDS = [
    "alias-1",
    "index_not_found",
    "cluster_block_exception",
    "es_rejected_execution",
    "no write index is defined for alias [books]",
    "Limit of total fields [1] has been exceeded",
]


@pytest.mark.parametrize("book_id", MISLEADING_IDS)
def test_content_error_with_misleading_text_is_dead_lettered_at_once(
    syncer, sqs_client, queue_url, book_id
):
    # GIVEN a book whose year is not a number, under an id (and a value) that quote cluster
    # problems -- OpenSearch's mapping error repeats both
    stream = Stream()
    bad = {"book_id": book_id, "year": "alias index_not_found cluster_block write index"}
    good = {"book_id": unique("good"), "title": "fine"}
    records = [stream.insert(bad), stream.insert(good)]

    # WHEN the batch is synced
    response, report = syncer.sync_records(records, deadline=within(20))

    # THEN the book is dead-lettered at once (no retry round), exactly once, with its record
    assert response == {"batchItemFailures": []}
    assert (report.rejected, report.dead_lettered, report.written) == (1, 1, 1)
    assert report.retry_rounds == 0
    (letter,) = receive_all(sqs_client, queue_url, 1)
    assert letter["record"] == records[0]
    assert letter["error"]["type"] == "mapper_parsing_exception"
    assert letter["error"]["status"] == 400
    assert no_more_messages(sqs_client, queue_url) == []


# --- 5. a writer racing past the bump limit ----------------------------------------------------


@dataclass
class RacingWriter:
    """Another writer of one document: before each of the first ``rounds_left`` ``_bulk``
    requests of the client it wraps, it indexes the document with the next external version
    and an older sequence number, so that the change under test keeps meeting a newer
    version. Everything else goes straight to the client."""

    _client: OpenSearch
    _alias: str
    _doc_id: str
    rounds_left: int
    _first_version: int

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def bulk(self, **kwargs: Any) -> Any:
        if self.rounds_left > 0:
            self.rounds_left -= 1
            found = self._client.get(index=self._alias, id=self._doc_id, ignore=404)
            version = found["_version"] + 1 if found.get("found") else self._first_version
            self._client.index(
                index=self._alias,
                id=self._doc_id,
                body={"book_id": self._doc_id, "title": "racer", SYNC_FIELD: {"seq": "1"}},
                version=version,
                version_type="external",
                refresh=False,
            )
        return self._client.bulk(**kwargs)


def test_change_racing_past_the_bump_limit_is_written_once_the_race_ends(opensearch_client, alias):
    # GIVEN a writer that bumps the document's version before each of 6 requests, and a
    # BulkWriter that sends conflict rounds back to back only twice
    stream = Stream()
    book = {"book_id": unique("storm"), "title": "the newest change"}
    change = to_change(stream.insert(book), position=0)
    racer = RacingWriter(opensearch_client, alias, book["book_id"], 6, change.version + 1)
    writer = BulkWriter(racer, alias, max_bumps=2, backoff_base=0.01, backoff_cap=0.05)  # type: ignore[arg-type]

    # WHEN the change is written (the racer stops after 6 requests)
    report = writer.write([change], deadline=within(20))

    # THEN the change wins as soon as the race ends: its version was refreshed every round
    assert racer.rounds_left == 0
    assert [r.outcome for r in report.results] == [Outcome.WRITTEN]
    stored = stored_documents(opensearch_client, alias, [book["book_id"]])
    assert without_sync(stored[book["book_id"]]) == book


# --- 11. ordering without trusting ApproximateCreationDateTime --------------------------------


def test_replay_of_an_older_change_with_a_later_second_is_stale(opensearch_client, alias, syncer):
    # GIVEN an item's insert stamped 100 s later than its (newer) modification -- AWS does not
    # promise the creation time never goes backwards -- synced together in one batch, so that
    # only the modification is stored
    stream = Stream()
    first = {"book_id": unique("clock"), "title": "older change, later second"}
    second = {**first, "title": "newer change, earlier second"}
    insert = stream.insert(first, seconds=100)
    modify = stream.modify(first, second, seconds=-100)
    assert (
        modify["dynamodb"]["ApproximateCreationDateTime"]
        < (insert["dynamodb"]["ApproximateCreationDateTime"])
    )
    syncer.sync_records([insert, modify], deadline=within(10))

    # WHEN the insert is delivered again (a retry or a replay of its batch)
    response, report = syncer.sync_records([insert], deadline=within(10))

    # THEN it is stale: the sequence numbers decide, not the clock
    assert response == {"batchItemFailures": []}
    assert (report.stale, report.written) == (1, 0)
    stored = stored_documents(opensearch_client, alias, [first["book_id"]])
    assert without_sync(stored[first["book_id"]]) == second
    assert stored[first["book_id"]][SYNC_FIELD]["seq"] == modify["dynamodb"]["SequenceNumber"]


def test_a_document_written_a_moment_ago_is_compared_without_a_read(opensearch_client, alias):
    # GIVEN a book the function's writer has just written
    syncer = make_syncer(opensearch_client, alias, LogDeadLetters())
    stream = Stream()
    book = {"book_id": unique("recent"), "title": "first"}
    syncer.sync_records([stream.insert(book)], deadline=within(10))

    # WHEN its next change comes, before the index's next refresh
    changed = {**book, "title": "second"}
    _, report = syncer.sync_records([stream.modify(book, changed)], deadline=within(10))

    # THEN it is written without reading the stored document (a real-time read of a document
    # not yet refreshed would refresh the shard), at the version that writer left it
    assert (report.written, report.lookups, report.conflicts) == (1, 0, 0)
    stored = stored_documents(opensearch_client, alias, [book["book_id"]])
    assert without_sync(stored[book["book_id"]]) == changed


def test_a_write_by_another_writer_in_between_is_caught_by_the_compare_and_set(
    opensearch_client, alias
):
    # GIVEN a book writer A has just written, then a newer change written by writer B (another
    # execution environment, or replay), which A has not seen
    a = make_syncer(opensearch_client, alias, LogDeadLetters())
    b = make_syncer(opensearch_client, alias, LogDeadLetters())
    stream = Stream()
    book = {"book_id": unique("between"), "title": "first"}
    insert = stream.insert(book)
    older = stream.modify(book, {**book, "title": "older"})
    newer = stream.modify(book, {**book, "title": "newer"})
    a.sync_records([insert], deadline=within(10))
    b.sync_records([newer], deadline=within(10))

    # WHEN A is handed the change between the two (a replayed batch, say)
    _, report = a.sync_records([older], deadline=within(10))

    # THEN its write at the version it remembers conflicts, the stored document is read and
    # the older change is stale: nothing goes back
    assert (report.stale, report.written, report.conflicts, report.lookups) == (1, 0, 1, 1)
    stored = stored_documents(opensearch_client, alias, [book["book_id"]])
    assert stored[book["book_id"]]["title"] == "newer"
    assert stored[book["book_id"]][SYNC_FIELD]["seq"] == seq(newer)


@dataclass
class MeetingWriter:
    """The node's client, whose ``_bulk`` requests each wait (up to 10 s) until another one is
    in flight too: a writer that sent them one after the other breaks the barrier."""

    _client: OpenSearch
    barrier: threading.Barrier

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def bulk(self, **kwargs: Any) -> Any:
        self.barrier.wait()
        return self._client.bulk(**kwargs)


def test_a_large_batch_goes_as_requests_in_flight_together_settled_item_by_item(
    opensearch_client, alias
):
    # GIVEN 600 new books, the 500th one refused for its content (a year that is not a
    # number), and the first one already stored from a newer change
    stream = Stream()
    prefix = unique("together")
    books = [{"book_id": f"{prefix}-{n:03d}", "title": f"book {n}"} for n in range(600)]
    books[500]["year"] = "not a number"
    records = [stream.insert(book) for book in books]
    newer = stream.modify(books[0], {**books[0], "title": "newer"})
    make_syncer(opensearch_client, alias, LogDeadLetters()).sync_records(
        [newer], deadline=within(10)
    )

    # WHEN the function's writer (two requests in flight) syncs the batch, through a client
    # on which each request waits for the other
    meeting = MeetingWriter(opensearch_client, threading.Barrier(2, timeout=10))
    syncer = make_syncer(meeting, alias, LogDeadLetters())  # type: ignore[arg-type]
    response, report = syncer.sync_records(records, deadline=within(30))

    # THEN both requests were in flight at once, and each item is settled as if alone
    assert response == {"batchItemFailures": []}
    assert (report.requests, report.written, report.rejected, report.stale) == (2, 598, 1, 1)
    stored = stored_documents(opensearch_client, alias, [book["book_id"] for book in books])
    assert stored[books[0]["book_id"]]["title"] == "newer"
    assert books[500]["book_id"] not in stored
    assert len(stored) == 599


# --- 9. dead letters: once, and whole however large -------------------------------------------


def test_rejected_record_after_the_retry_point_is_dead_lettered_once(
    opensearch_client, alias, sqs_client, queue_url
):
    # GIVEN a batch "a, bad b (year not a number), c" where another writer keeps changing a's
    # document for as long as the first two attempts last, so that they end with a not written
    # and Lambda retries the batch from a -- while b is refused at once each time
    stream = Stream()
    prefix = unique("once")
    a = {"book_id": f"{prefix}-a", "title": "a"}
    b = {"book_id": f"{prefix}-b", "year": "not a number"}
    records = [stream.insert(a), stream.insert(b), stream.insert({"book_id": f"{prefix}-c"})]
    first_version = to_change(records[0], position=0).version + 1
    racer = RacingWriter(opensearch_client, alias, a["book_id"], 10**6, first_version)
    dead_letters = sqs_dead_letters(sqs_client, queue_url)
    racing = make_syncer(racer, alias, dead_letters, max_bumps=1)  # type: ignore[arg-type]

    # WHEN the batch fails twice (as Lambda retries it) and then succeeds
    for _ in range(2):
        response, report = racing.sync_records(records, deadline=within(1.0))
        assert response == {"batchItemFailures": [{"itemIdentifier": seq(records[0])}]}
        assert report.rejected == 1
    response, report = make_syncer(opensearch_client, alias, dead_letters).sync_records(
        records, deadline=within(10)
    )

    # THEN b was dead-lettered once: with the attempt that committed it, not with the failures
    assert response == {"batchItemFailures": []}
    assert report.dead_lettered == 1
    (letter,) = receive_all(sqs_client, queue_url, 1)
    assert letter["record"] == records[1]
    assert no_more_messages(sqs_client, queue_url) == []


def test_dead_letters_stop_at_the_first_not_sent(opensearch_client, alias, sqs_client):
    # GIVEN a queue that refuses messages over 4 KiB (SQS's MaximumMessageSize), and a batch
    # with a small bad record, a large bad record and a second small bad record
    with new_queue(sqs_client, "small-dlq") as url:
        sqs_client.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": str(4096)})
        syncer = make_syncer(opensearch_client, alias, sqs_dead_letters(sqs_client, url))
        stream = Stream()
        prefix = unique("stop")
        bad = [
            {"book_id": f"{prefix}-0", "year": "x"},
            {"book_id": f"{prefix}-1", "year": "x", "blurb": "y" * 8000},
            {"book_id": f"{prefix}-2", "year": "x"},
        ]
        records = [stream.insert(item) for item in bad]

        response, report = syncer.sync_records(records, deadline=within(10))

        # THEN the retry starts at the large one, and the one after it was not sent (it is
        # delivered again with the retry): nothing will be dead-lettered twice
        assert response == {"batchItemFailures": [{"itemIdentifier": seq(records[1])}]}
        assert report.dead_lettered == 1
        (letter,) = receive_all(sqs_client, url, 1)
        assert letter["record"] == records[0]
        assert no_more_messages(sqs_client, url) == []


@pytest.fixture
def bucket(aws_client):
    s3 = aws_client("s3")
    name = unique("dead-letters").lower()
    s3.create_bucket(Bucket=name)
    yield name
    for entry in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=entry["Key"])
    s3.delete_bucket(Bucket=name)


def test_record_over_the_queue_limit_is_kept_whole_in_the_bucket(
    opensearch_client, alias, aws_client, sqs_client, queue_url, bucket
):
    # GIVEN a rejected record of about 600 KB (two images of a 300 KB item), over SQS's 256 KiB
    s3 = aws_client("s3")
    dead_letters = SqsDeadLetters(
        queue_url, sqs=sqs_client, s3=s3, bucket=bucket, context={"function": "test"}
    )
    syncer = make_syncer(opensearch_client, alias, dead_letters)
    stream = Stream()
    old = {"book_id": unique("huge"), "title": "t"}
    new = {**old, "year": "not a number", "blurb": "z" * 300_000}
    record = stream.modify({**old, "blurb": "w" * 300_000}, new)

    response, report = syncer.sync_records([record], deadline=within(20))

    # THEN the queue's message points to an object holding the whole record
    assert response == {"batchItemFailures": []}
    assert report.dead_lettered == 1
    (letter,) = receive_all(sqs_client, queue_url, 1)
    assert letter["record_truncated"] is True
    assert letter["record"]["dynamodb"]["SequenceNumber"] == seq(record)
    location = letter["record_location"]
    assert location["bucket"] == bucket
    kept = json.loads(s3.get_object(Bucket=bucket, Key=location["key"])["Body"].read())
    assert kept["record"] == record
    assert kept["error"]["type"] == "mapper_parsing_exception"


# --- 12. mapping limits and awkward attribute names -------------------------------------------


def field_count(client: OpenSearch, alias: str) -> int:
    """Fields the index maps (what ``index.mapping.total_fields.limit`` counts, roughly)."""

    def count(properties: dict[str, Any]) -> int:
        total = 0
        for spec in properties.values():
            total += 1 + len(spec.get("fields", {})) + count(spec.get("properties", {}))
        return total

    (mapping,) = client.indices.get_mapping(index=alias).values()
    return count(mapping["mappings"]["properties"])


def test_thousands_of_distinct_paths_in_maps_are_indexed(
    opensearch_client, exact_client, alias, syncer, sqs_client, queue_url
):
    # GIVEN 30 items whose maps hold 1500 distinct paths between them (5 times the ~330 that
    # three fields per path allowed), one of them a 38-digit number
    stream = Stream()
    prefix = unique("paths")
    items = [
        {
            "book_id": f"{prefix}-{n}",
            "scores": {f"user{n}_{k}": Decimal(k) for k in range(40)},
            "shelf": {"room": {f"row{n}": {f"slot{k}": f"s{k}" for k in range(10)}}},
        }
        for n in range(30)
    ]
    items[0]["scores"]["exact"] = Decimal("12345678901234567890123456789012345678")

    # WHEN they are synced
    response, report = syncer.sync_records([stream.insert(i) for i in items], deadline=within(60))

    # THEN every one is indexed (nothing dead-lettered), the mapping stays small, numbers stay
    # exact, and a path inside a map is searchable
    assert response == {"batchItemFailures": []}
    assert (report.written, report.dead_lettered) == (30, 0)
    assert no_more_messages(sqs_client, queue_url) == []
    assert field_count(opensearch_client, alias) < 100
    ids = [i["book_id"] for i in items]
    stored = stored_documents(exact_client, alias, ids)
    assert [without_sync(stored[i]) for i in ids] == [as_indexed(i) for i in items]
    exact = {"term": {"scores.exact": "12345678901234567890123456789012345678"}}
    hits = opensearch_client.search(index=alias, body={"query": exact})["hits"]["hits"]
    assert [h["_id"] for h in hits] == [ids[0]]


NAMES = ["_id", "_source", "_sync_x", "a.b", "a", "~tilde", "x..y", "_"]


def test_reserved_and_dotted_names_are_escaped_reversibly(
    opensearch_client, alias, syncer, sqs_client, queue_url
):
    # GIVEN an item with attributes OpenSearch refuses (_id, _source) or reads as paths that
    # collide with a map (a.b beside a map a holding b)
    item = {
        "book_id": unique("names"),
        "_id": "not the id",
        "_source": {"nested": "x"},
        "_sync_x": 1,
        "a.b": "dotted",
        "a": {"b": "in the map", "c.d": "dotted key in a map"},
        "~tilde": "t",
        "x..y": "two dots",
        "_": "underscore",
    }

    response, report = syncer.sync_records([Stream().insert(item)], deadline=within(10))

    # THEN it is indexed, each name escaped, and unescaping gives the item back
    assert response == {"batchItemFailures": []}
    assert (report.written, report.dead_lettered) == (1, 0)
    stored = without_sync(
        stored_documents(opensearch_client, alias, [item["book_id"]])[item["book_id"]]
    )
    assert set(stored) == {"book_id", *(index_name(n) for n in NAMES)}
    assert unescaped(stored) == item


def unescaped(value: Any) -> Any:
    if isinstance(value, dict):
        return {attribute_name(k): unescaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unescaped(v) for v in value]
    return value

"""The sync function's write path against a real OpenSearch node: documents, numbers, ids,
ordering, tombstones, TTL and batching."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.mapping import concrete_index_name
from ddb_opensearch_sync.core.records import SYNC_FIELD, TtlPolicy, document_id, to_change
from tests.support.aws import new_queue
from tests.support.names import unique
from tests.support.opensearch import (
    exact_json,
    raw_request,
    scratch_alias,
    stored_documents,
    visible_ids,
    without_sync,
)
from tests.support.pipeline import make_syncer, sqs_dead_letters, within
from tests.support.streams import Stream, typed

pytestmark = pytest.mark.stack

FIXTURES = Path(__file__).parent.parent / "unit" / "fixtures"


@pytest.fixture(scope="module")
def alias(opensearch_client: OpenSearch):
    with scratch_alias(opensearch_client, "behaviour") as name:
        yield name


@pytest.fixture(scope="module")
def dead_letters(sqs_client):
    with new_queue(sqs_client, "behaviour-dlq") as queue_url:
        yield sqs_dead_letters(sqs_client, queue_url)


@pytest.fixture
def sync(opensearch_client: OpenSearch, alias: str, dead_letters):
    syncer = make_syncer(opensearch_client, alias, dead_letters)

    def run(records: list[Any]) -> Any:
        response, report = syncer.sync_records(records, deadline=within(10))
        assert response == {"batchItemFailures": []}
        assert report.dead_lettered == 0
        return report

    return run


@pytest.fixture
def ids():
    """A unique prefix for this test's item ids (the index is shared by the module)."""
    prefix = unique("item")
    return lambda name: f"{prefix}-{name}"


def search(client: OpenSearch, alias: str, query: dict[str, Any]) -> set[str]:
    client.indices.refresh(index=alias)
    hits = client.search(index=alias, body={"query": query, "_source": False, "size": 100})
    return {hit["_id"] for hit in hits["hits"]["hits"]}


def test_aws_sample_event_ends_as_a_tombstone(opensearch_client, alias, sync):
    # GIVEN the AWS documentation's sample batch: INSERT, MODIFY, REMOVE of Id 101
    records = json.loads((FIXTURES / "aws_docs_sample_event.json").read_text())["Records"]

    # WHEN it is synced, then its INSERT is delivered again later
    report = sync(records)
    replay = sync(records[:1])

    # THEN one request wrote the tombstone, and the replay was stale
    assert (report.requests, report.superseded, report.written) == (1, 2, 1)
    assert (replay.stale, replay.written) == (1, 0)
    index = concrete_index_name(alias)
    assert stored_documents(opensearch_client, index, ["~N:101"]) == {
        "~N:101": {"Id": 101, SYNC_FIELD: {"seq": "333", "deleted": True, "event": "REMOVE"}}
    }
    assert visible_ids(opensearch_client, alias, ["~N:101"]) == set()


def test_numbers_keep_every_digit(opensearch_client, alias, sync, ids):
    # GIVEN an attribute that is an integer in one item and a decimal in another, a 38-digit
    # number and a tiny exponent
    stream = Stream()
    items = [
        {"book_id": ids("int"), "rating": Decimal(4), "big": Decimal("1" * 38)},
        {"book_id": ids("dec"), "rating": Decimal("4.25"), "tiny": Decimal("1E-130")},
        {
            "book_id": ids("exact"),
            "rating": Decimal("4.2500000000000000000000000000000000001"),
            "big": Decimal("12345678901234567890123456789012345678"),
        },
    ]

    sync([stream.insert(item) for item in items])

    # THEN the sources hold the exact values
    stored = stored_documents(opensearch_client, alias, [item["book_id"] for item in items])
    assert [without_sync(stored[item["book_id"]]) for item in items] == items
    # ... the exact keyword finds each value, never a rounded neighbour
    assert search(opensearch_client, alias, {"term": {"rating": "4.25"}}) == {ids("dec")}
    assert search(opensearch_client, alias, {"term": {"big": "1" * 38}}) == {ids("int")}
    # ... and the numeric sub-field answers ranges (4.25 was not truncated to 4)
    above = search(opensearch_client, alias, {"range": {"rating.num": {"gt": 4.1}}})
    assert above >= {ids("dec"), ids("exact")} and ids("int") not in above
    assert search(opensearch_client, alias, {"range": {"tiny.num": {"lt": 1e-100}}}) == {ids("dec")}


def test_every_type_and_unknown_attributes_are_indexed(opensearch_client, alias, sync, ids):
    record = json.loads((FIXTURES / "all_types_event.json").read_text())["Records"][0]
    book_id = ids("types")
    record["dynamodb"]["Keys"]["book_id"]["S"] = book_id
    record["dynamodb"]["NewImage"]["book_id"]["S"] = book_id

    sync([record])

    stored = stored_documents(opensearch_client, alias, [book_id])[book_id]
    assert stored["exact"] == Decimal("12345678901234567890123456789012345678")
    assert stored["ratings"] == [-3, Decimal("4.5"), 10]
    assert stored["publisher"]["offices"] == [{"city": "Philadelphia"}, None]
    # Attributes the API does not know are mapped by the explicit dynamic rules: a map is one
    # flat_object field whose leaves are exact keywords under their paths.
    properties = opensearch_client.indices.get_mapping(index=alias)
    mapping = next(iter(properties.values()))["mappings"]["properties"]
    assert mapping["publisher"]["type"] == "flat_object"
    name = stored["publisher"]["name"]
    assert search(opensearch_client, alias, {"term": {"publisher.name": name}}) >= {book_id}


def test_deepest_dynamodb_nesting_is_accepted(opensearch_client, alias, sync, ids):
    # DynamoDB nests up to 32 levels; OpenSearch's default depth limit (20) would refuse it.
    value: Any = {"leaf": "bottom"}
    for _ in range(31):
        value = {"level": value}
    item = {"book_id": ids("deep"), "nested": value}

    sync([Stream().insert(item)])

    assert (
        without_sync(stored_documents(opensearch_client, alias, [item["book_id"]])[item["book_id"]])
        == item
    )


def test_stale_change_counts_as_done(opensearch_client, alias, sync, ids):
    stream = Stream()
    old = {"book_id": ids("stale"), "title": "old"}
    new = {"book_id": ids("stale"), "title": "new"}
    insert, modify = stream.insert(old), stream.modify(old, new)

    sync([modify])
    report = sync([insert])

    # Found stale by comparing first: no write, no conflict.
    assert (report.stale, report.conflicts, report.written) == (1, 0, 0)
    stored = stored_documents(opensearch_client, alias, [new["book_id"]])
    assert without_sync(stored[new["book_id"]]) == new


@pytest.mark.parametrize("order", ["in order", "reversed"])
def test_changes_within_one_second_resolve_exactly(opensearch_client, alias, sync, ids, order):
    # GIVEN three changes of one item in the same second, each delivered in its own batch
    stream = Stream()
    versions = [{"book_id": ids("second"), "title": f"v{i}"} for i in range(3)]
    records = [stream.insert(versions[0], seconds=0)]
    records += [stream.modify(versions[i - 1], versions[i], seconds=0) for i in (1, 2)]
    if order == "reversed":
        records.reverse()

    reports = [sync([record]) for record in records]

    # THEN the newest wins, whatever the order, and each batch said what it did
    stored = stored_documents(opensearch_client, alias, [versions[2]["book_id"]])
    assert without_sync(stored[versions[2]["book_id"]]) == versions[2]
    if order == "in order":
        assert [r.bumped for r in reports] == [0, 1, 1]
    else:
        assert [r.stale for r in reports] == [0, 1, 1]


def test_old_insert_replayed_after_gc_deletes_does_not_resurrect(
    opensearch_client, alias, sync, ids
):
    # GIVEN an index that forgets delete versions at once
    index = concrete_index_name(alias)
    opensearch_client.indices.put_settings(index=index, body={"index": {"gc_deletes": "0s"}})
    stream = Stream()
    item = {"book_id": ids("ghost"), "title": "ghost"}
    changed = {**item, "title": "changed"}
    history = [stream.insert(item), stream.modify(item, changed), stream.remove(changed)]
    sync(history)
    opensearch_client.indices.flush(index=index)

    # WHEN the whole history is replayed, one record at a time, much later
    reports = [sync([record]) for record in history]

    # THEN the item stays deleted
    assert [r.stale for r in reports] == [1, 1, 1]
    assert visible_ids(opensearch_client, alias, [item["book_id"]]) == set()
    stored = stored_documents(opensearch_client, alias, [item["book_id"]])
    assert stored[item["book_id"]][SYNC_FIELD]["deleted"] is True


def test_item_recreated_after_delete_is_visible_again(opensearch_client, alias, sync, ids):
    stream = Stream()
    first = {"book_id": ids("again"), "title": "first life"}
    second = {"book_id": ids("again"), "title": "second life"}

    sync([stream.insert(first), stream.remove(first)])
    sync([stream.insert(second)])

    assert visible_ids(opensearch_client, alias, [first["book_id"]]) == {first["book_id"]}
    stored = stored_documents(opensearch_client, alias, [first["book_id"]])
    assert without_sync(stored[first["book_id"]]) == second


@pytest.mark.parametrize(("policy", "visible"), [(TtlPolicy.DELETE, False), (TtlPolicy.KEEP, True)])
def test_ttl_expiry_follows_the_policy(
    opensearch_client, alias, dead_letters, ids, policy, visible
):
    syncer = make_syncer(opensearch_client, alias, dead_letters, ttl_policy=policy)
    stream = Stream()
    item = {"book_id": ids("ttl"), "title": "expiring", "expires_at": Decimal(1_700_000_000)}

    syncer.sync_records([stream.insert(item)], deadline=within(10))
    _, report = syncer.sync_records([stream.remove(item, ttl=True)], deadline=within(10))

    assert report.ttl_expiries == 1
    assert report.actions == ({"skip": 1} if policy is TtlPolicy.KEEP else {"delete": 1})
    found = visible_ids(opensearch_client, alias, [item["book_id"]])
    assert found == ({item["book_id"]} if visible else set())


@pytest.mark.parametrize(
    ("key_names", "keys"),
    [
        (("pk", "sk"), {"pk": "tenant#1", "sk": Decimal("42.5")}),
        (("pk",), {"pk": b"\x00\x01binary-key"}),
        (("pk", "sk"), {"pk": "a|b", "sk": "c"}),
    ],
)
def test_any_key_schema(opensearch_client, alias, sync, ids, key_names, keys):
    stream = Stream(key_names=key_names)
    unique = {
        name: (ids(value) if isinstance(value, str) else value) for name, value in keys.items()
    }
    item = {**unique, "title": "keyed"}

    sync([stream.insert(item)])

    doc_id = document_id(typed(unique))
    stored = stored_documents(opensearch_client, alias, [doc_id])
    assert stored[doc_id]["title"] == "keyed"


@pytest.mark.parametrize(
    ("writer_options", "requests"),
    [({}, range(1, 2)), ({"max_actions": 100}, range(3, 4)), ({"max_bytes": 64 * 1024}, None)],
)
def test_a_batch_takes_as_few_requests_as_the_caps_allow(
    opensearch_client, alias, dead_letters, ids, writer_options, requests
):
    # GIVEN 250 inserts of about 1 KiB each
    stream = Stream()
    items = [{"book_id": ids(f"bulk-{i}"), "summary": "x" * 1000} for i in range(250)]
    records = [stream.insert(i) for i in items]
    syncer = make_syncer(opensearch_client, alias, dead_letters, **writer_options)

    response, report = syncer.sync_records(records, deadline=within(20))

    assert response == {"batchItemFailures": []}
    if requests is None:  # byte cap: no fewer than the bytes need, at most one more (packing)
        body = sum(len(to_change(r).document.encode()) + 80 for r in records)
        fewest = math.ceil(body / writer_options["max_bytes"])
        requests = range(fewest, fewest + 2)
    assert report.requests in requests
    assert report.written == 250
    opensearch_client.indices.refresh(index=alias)
    query = {"query": {"prefix": {"book_id": ids("bulk-")}}}
    _, text = raw_request(opensearch_client, "POST", f"/{alias}/_count", query)
    assert exact_json(text)["count"] == 250

"""The operator commands never regress or resurrect what the stream decided (issue 12, items 2,
3, 4 and 8), against the real OpenSearch node and the real LocalStack DynamoDB.

Stream changes are written by the function's own batch syncer in-process, from stream records
whose creation times the test sets (hours in the past, as a stream replay carries them).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.records import SYNC_FIELD, TtlPolicy
from ddb_opensearch_sync.core.settings import (
    DEFAULT_MARGIN,
    ENV_MAINTENANCE_FUNCTION,
    STREAM_RETENTION,
)
from ddb_opensearch_sync.index.writer import BulkWriter
from ddb_opensearch_sync.ops.reconcile import ReconcileOptions, reconcile
from ddb_opensearch_sync.ops.table import TableInfo
from ddb_opensearch_sync.sync.deadletter import LogDeadLetters
from tests.support import aws
from tests.support.aws import Table, book, new_table
from tests.support.names import unique
from tests.support.opensearch import scratch_alias, stored_documents, visible_ids
from tests.support.pipeline import make_syncer, run_cli, target_options, within
from tests.support.polling import eventually
from tests.support.settings import SYNC_FUNCTION_NAME, Settings
from tests.support.streams import Stream

pytestmark = pytest.mark.stack

HOUR = 3600


class Writer:
    """The sync function's batch syncer on ``alias``, fed records from a `Stream` whose clock
    starts ``ago`` seconds in the past."""

    def __init__(self, client: OpenSearch, alias: str, *, ago: float) -> None:
        self.syncer = make_syncer(client, alias, LogDeadLetters({"function": "ops-test"}))
        self.stream = Stream(clock=int(time.time() - ago))

    def sync(self, *records: dict[str, Any]) -> None:
        response, report = self.syncer.sync_records(list(records), deadline=within(30))
        assert response == {"batchItemFailures": []}, report

    def at(self, seconds_ago: float) -> Stream:
        """The stream with its clock set to ``seconds_ago`` (sequence numbers keep growing)."""
        self.stream.clock = int(time.time() - seconds_ago)
        return self.stream


@pytest.fixture
def table(settings: Settings) -> Iterator[Table]:
    with new_table(settings, stream=False) as made:
        yield made


@pytest.fixture
def scratch(exact_client: OpenSearch) -> Iterator[str]:
    with scratch_alias(exact_client, "ops") as alias:
        yield alias


def sync_meta(client: OpenSearch, alias: str, doc_id: str) -> dict[str, Any]:
    return stored_documents(client, alias, [doc_id])[doc_id][SYNC_FIELD]


# --- item 2: reindex carries what a stale replay would otherwise undo ------------------------


def test_a_reindex_carries_old_tombstones_and_sequence_numbers(
    exact_client, settings, table, scratch, tmp_path
):
    # GIVEN changes from hours ago: a book created then deleted, another created then changed
    writer = Writer(exact_client, scratch, ago=3 * HOUR)
    gone, kept = book(1), book(2)
    created_gone = writer.at(3 * HOUR).insert(gone, seconds=0)
    created_kept = writer.at(3 * HOUR).insert(kept, seconds=0)
    changed = {**kept, "title": "changed two hours ago"}
    writer.sync(created_gone, created_kept)
    writer.sync(writer.at(2 * HOUR).remove(gone, seconds=0), writer.stream.modify(kept, changed))
    table.put_all([changed])

    # WHEN the index is rebuilt (its margin covers minutes, not hours)
    options = (*target_options(settings, table, scratch), "--state-dir", str(tmp_path / "ri"))
    code, result = run_cli("reindex", *options)
    assert code == 0, result

    # AND the stream replays the old creations, as a replay from TRIM_HORIZON does
    writer.sync(created_gone, created_kept)

    # THEN the deleted book stays deleted and the changed one keeps its change
    assert visible_ids(exact_client, scratch, [gone["book_id"], kept["book_id"]]) == {
        kept["book_id"]
    }
    assert stored_documents(exact_client, scratch, [kept["book_id"]])[kept["book_id"]]["title"] == (
        "changed two hours ago"
    )


def test_backfill_and_reconcile_repairs_carry_the_stream_bookkeeping(
    exact_client, settings, table, scratch, tmp_path
):
    table.put_all([book(n) for n in range(4)])
    options = target_options(settings, table, scratch)
    before = int(time.time())
    code, _ = run_cli("backfill", *options, "--checkpoint-dir", str(tmp_path / "cp"))
    assert code == 0
    meta = sync_meta(exact_client, scratch, "book-00000")
    assert meta["seq"] == "0" and meta["event"] == "INSERT" and meta["deleted"] is False
    assert meta["ts"] >= before, "a backfilled document carries the time it was read"

    # Drift of each kind, made behind the sync's back
    index = exact_client.indices.get_alias(name=scratch).popitem()[0]
    exact_client.delete(index=index, id="book-00001", refresh=True)  # missing
    table.put_all([{**book(2), "title": "changed in the table only"}])  # stale
    table.table.delete_item(Key={"book_id": "book-00003"})  # extra
    code, result = run_cli("reconcile", *options, "--repair", "--settle", "0")
    assert result["counts"]["missing"] == 1 and result["counts"]["stale"] == 1, result
    assert result["counts"]["extra"] == 1 and code == 0, result

    for doc_id, deleted in (("book-00001", False), ("book-00002", False), ("book-00003", True)):
        meta = sync_meta(exact_client, scratch, doc_id)
        assert meta["deleted"] is deleted
        assert meta["ts"] >= before, f"the repair of {doc_id} carries its time: {meta}"
        assert meta["event"] == ("REMOVE" if deleted else "INSERT")


# --- item 3: the TTL policy ------------------------------------------------------------------


def test_reconcile_and_reindex_keep_documents_of_expired_items_under_keep(
    exact_client, settings, table, scratch, tmp_path, monkeypatch
):
    table.dynamodb.update_time_to_live(
        TableName=table.name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
    expired = book(7, expires_at=int(time.time()) - HOUR)
    lasting = book(8, expires_at=int(time.time()) + HOUR)
    # (written 30 h ago: only the TTL policy, not the retention, makes a reindex carry it)
    writer = Writer(exact_client, scratch, ago=30 * HOUR)
    writer.sync(writer.stream.insert(expired), writer.stream.insert(lasting))
    table.put_all([lasting])  # the expired item is gone from the table; its document stays
    info = TableInfo.describe(table.dynamodb, table.name)
    assert info.ttl_attribute == "expires_at"

    kept = ReconcileOptions(segments=1, settle=0, repair=True, ttl_policy=TtlPolicy.KEEP)
    report = reconcile(table.dynamodb, exact_client, BulkWriter(exact_client, scratch), info, kept)
    assert report.in_sync and not report.drift, report.summary()
    assert report.kept_expired == 1
    assert visible_ids(exact_client, scratch, ["book-00007"]) == {"book-00007"}

    options = (*target_options(settings, table, scratch), "--state-dir", str(tmp_path / "ri"))
    monkeypatch.setenv("TTL_EXPIRY_POLICY", "keep")  # as the function is configured
    code, result = run_cli("reindex", *options)
    assert code == 0, result
    assert visible_ids(exact_client, scratch, ["book-00007", "book-00008"]) == {
        "book-00007",
        "book-00008",
    }

    # Under the default policy the same document is drift: extra
    deleting = ReconcileOptions(segments=1, settle=0)
    report = reconcile(
        table.dynamodb, exact_client, BulkWriter(exact_client, scratch), info, deleting
    )
    assert [(d.kind.value, d.doc_id) for d in report.drift] == [("extra", "book-00007")]


# --- item 4: a repair never overwrites a change that lands after the observation -------------


def test_a_delete_between_observation_and_repair_is_never_overwritten(
    exact_client, settings, table, scratch
):
    # GIVEN an item the index misses, and one whose document is stale
    missing, stale = book(11), book(12)
    writer = Writer(exact_client, scratch, ago=60)
    writer.sync(writer.stream.insert(stale))
    table.put_all([missing, {**stale, "title": "newer in the table"}])

    def delete_both_through_the_stream(drift: list[Any]) -> None:
        assert sorted(d.doc_id for d in drift) == ["book-00011", "book-00012"]
        # WHEN both are deleted between reconcile's last observation and its repair
        table.table.delete_item(Key={"book_id": "book-00011"})
        table.table.delete_item(Key={"book_id": "book-00012"})
        now = writer.at(0)
        writer.sync(now.remove(missing, seconds=0), now.remove(stale, seconds=0))

    info = TableInfo.describe(table.dynamodb, table.name)
    options = ReconcileOptions(segments=1, settle=0, repair=True, repair_rounds=1)
    report = reconcile(
        table.dynamodb,
        exact_client,
        BulkWriter(exact_client, scratch),
        info,
        options,
        before_repair=delete_both_through_the_stream,
    )

    # THEN the repairs lose to the deletes: nothing comes back, nothing is left to do
    assert report.repair is not None
    assert report.repair["superseded"] == 2 and report.repair["written"] == 0, report.repair
    assert visible_ids(exact_client, scratch, ["book-00011", "book-00012"]) == set()
    assert report.in_sync, report.summary()


# --- item 8: purging tombstones ----------------------------------------------------------


def test_purge_deletes_only_tombstones_older_than_the_retention(exact_client, settings, scratch):
    limit = STREAM_RETENTION + DEFAULT_MARGIN
    writer = Writer(exact_client, scratch, ago=limit + HOUR)
    ancient, old, young, alive = book(21), book(22), book(23), book(24)
    records = [writer.at(limit + HOUR).insert(item, seconds=0) for item in (ancient, old, alive)]
    writer.sync(*records)
    writer.sync(writer.at(limit + 120).remove(ancient, seconds=0))
    writer.sync(writer.at(limit + 5).remove(old, seconds=0))
    writer.sync(writer.at(limit - 120).insert(young, seconds=0))
    writer.sync(writer.at(limit - 60).remove(young, seconds=0))
    ids = [item["book_id"] for item in (ancient, old, young, alive)]

    code, result = run_cli(
        "purge-tombstones", "--alias", scratch, "--endpoint", settings.opensearch_url,
        "--progress", "plain",
    )  # fmt: skip

    assert code == 0, result
    assert result["deleted"] == 2 and result["completed"] is True, result
    stored = stored_documents(exact_client, scratch, ids)
    assert sorted(stored) == ["book-00023", "book-00024"]
    assert stored["book-00023"][SYNC_FIELD]["deleted"] is True, "a young tombstone stays"
    # A replay from within the retention still finds the young tombstone and stays stale
    writer.sync(writer.stream.emitted[5])  # the young book's creation
    assert visible_ids(exact_client, scratch, ids) == {"book-00024"}


def scheduled_event(settings: Settings, rule: str, function: str) -> dict[str, Any]:
    """The input of ``rule``'s one target, which must be ``function``."""
    events = aws.client(settings, "events")
    (target,) = events.list_targets_by_rule(Rule=rule)["Targets"]
    assert target["Arn"].endswith(f":function:{function}"), target
    return json.loads(target["Input"])


def invoke(settings: Settings, function: str, event: dict[str, Any]) -> dict[str, Any]:
    response = aws.client(settings, "lambda").invoke(
        FunctionName=function, Payload=json.dumps(event).encode()
    )
    answer = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, answer
    return answer


@pytest.mark.deployed
def test_the_schedule_purges_through_the_deployed_maintenance_function(
    exact_client, settings, index_alias
):
    """The rules `infra/modules/sync` deploys, and what their events make the maintenance
    function do (the sync function's role may not purge: it names the maintenance function)."""
    sync = settings.require(SYNC_FUNCTION_NAME)
    lambda_client = aws.client(settings, "lambda")
    variables = lambda_client.get_function_configuration(FunctionName=sync)["Environment"]
    function = variables["Variables"][ENV_MAINTENANCE_FUNCTION]
    purge_event = scheduled_event(settings, f"{sync}-purge-tombstones", function)
    lease_event = scheduled_event(settings, f"{sync}-lease-check", function)
    assert purge_event == {"action": "purge-tombstones"}
    assert lease_event == {"action": "lift-expired-lease"}

    # GIVEN, in the deployed index, a tombstone past the retention and one within it
    limit = STREAM_RETENTION + DEFAULT_MARGIN
    writer = Writer(exact_client, index_alias, ago=limit + HOUR)
    old, young = book(31, book_id=unique("purge-old")), book(32, book_id=unique("purge-young"))
    writer.sync(writer.at(limit + 60).remove(old, seconds=0))
    writer.sync(writer.at(limit - 300).remove(young, seconds=0))
    ids = [old["book_id"], young["book_id"]]

    # WHEN the schedule's event invokes the function
    answer = invoke(settings, function, purge_event)
    assert answer["purge"]["task"], answer

    # THEN the old tombstone goes and the young one stays
    eventually(
        lambda: sorted(stored_documents(exact_client, index_alias, ids)),
        lambda left: left == [young["book_id"]],
        "the scheduled purge to finish",
    )

    # AND the lease check finds no block to lift (there is no reindex)
    assert invoke(settings, function, lease_event) == {"lifted_block": False}

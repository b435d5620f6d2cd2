"""Reconcile against the local stack: zero drift when healthy; drift injected directly into
OpenSearch is found, reported exactly, and repaired; a repaired document still loses to the
next stream change."""

from __future__ import annotations

import json

import pytest
from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.records import SYNC_FIELD, dumps
from tests.support.aws import book
from tests.support.opensearch import scratch_alias, stored_documents, without_sync
from tests.support.pipeline import check, run_cli, synced_pipeline, target_options
from tests.support.polling import eventually
from tests.support.streams import as_indexed

pytestmark = pytest.mark.stack

ITEMS = 120


@pytest.fixture
def backfilled(exact_client, filled_table, settings, tmp_path):
    """An alias holding exactly the table, and the options that reach both."""
    with scratch_alias(exact_client, "reconcile") as alias:
        options = target_options(settings, filled_table, alias)
        code, _ = run_cli("backfill", *options, "--checkpoint-dir", str(tmp_path / "cp"))
        assert code == 0
        yield alias, options


def inject_drift(exact_client: OpenSearch, alias: str) -> None:
    """Damage the index behind the sync's back, one way per kind of drift."""
    index = exact_client.indices.get_alias(name=alias).popitem()[0]
    exact_client.delete(index=index, id="book-00003")  # missing
    altered = stored_documents(exact_client, alias, ["book-00004", "book-00005"])
    # (records.dumps keeps every digit; the client's own serializer would write floats.)
    exact_client.index(
        index=alias, id="book-00004", body=dumps({**altered["book-00004"], "title": "x"})
    )
    del altered["book-00005"]["tags"]  # stale: a field lost
    exact_client.index(index=alias, id="book-00005", body=dumps(altered["book-00005"]))
    exact_client.index(index=alias, id="book-99999", body={"book_id": "book-99999"})  # extra
    exact_client.index(index=alias, id="no-key", body={"title": "not from this table"})  # extra


def test_a_healthy_index_has_zero_drift(backfilled, tmp_path):
    _, options = backfilled
    report_file = tmp_path / "report.json"

    code, printed = run_cli("reconcile", *options, "--report", str(report_file))

    assert code == 0
    report = json.loads(report_file.read_text())
    assert report == printed
    assert report["in_sync"] is True
    assert report["counts"] == {
        "table_items": ITEMS,
        "index_documents": ITEMS,
        "candidates": 0,
        "settled": 0,
        "kept_expired": 0,
        "unindexable": 0,
        "missing": 0,
        "extra": 0,
        "stale": 0,
    }


def test_injected_drift_is_reported_and_repaired(exact_client, backfilled, tmp_path):
    alias, options = backfilled
    inject_drift(exact_client, alias)

    # WHEN reconcile runs without --repair
    code, report = run_cli("reconcile", *options, "--settle", "0.5")

    # THEN it fails with the drift exit code and names every damaged document
    assert code == 3
    assert report["in_sync"] is False
    found = {d["id"]: d["kind"] for d in report["drift"]}
    assert found == {
        "book-00003": "missing",
        "book-00004": "stale",
        "book-00005": "stale",
        "book-99999": "extra",
        "no-key": "extra",
    }
    fields = {d["id"]: d["fields"] for d in report["drift"] if d["kind"] == "stale"}
    assert fields["book-00004"] == {"changed": ["title"], "only_in_table": [], "only_in_index": []}
    assert fields["book-00005"]["only_in_table"] == ["tags"]

    # WHEN it runs with --repair
    code, repaired = run_cli("reconcile", *options, "--settle", "0.5", "--repair")

    # THEN everything is fixed through the write path, and a fresh run agrees
    assert code == 0, repaired
    assert repaired["repair"]["written"] == 4  # 3 documents and 1 tombstone
    assert repaired["repair"]["deleted"] == 1  # the document no key maps to
    assert repaired["remaining"] == []
    assert run_cli("reconcile", *options)[0] == 0
    stored = stored_documents(exact_client, alias, ["book-00004", "book-99999", "no-key"])
    assert without_sync(stored["book-00004"]) == as_indexed(book(4))
    assert stored["book-99999"][SYNC_FIELD]["deleted"] is True
    assert "no-key" not in stored


@pytest.mark.deployed
def test_repairs_lose_to_later_stream_changes(exact_client, settings):
    # GIVEN items synced by the stream, then damaged in the index
    items = [book(n) for n in range(10)]
    with synced_pipeline(settings, exact_client, "reconcile", items) as (table, alias):
        inject_drift(exact_client, alias)

        # WHEN reconcile repairs while the stream is live
        report = check(exact_client, table, alias)()
        assert {d.doc_id for d in report.drift} >= {"book-00003", "book-00004"}
        repair = check(exact_client, table, alias, repair=True)()
        assert repair.in_sync, repair.as_dict()

        # THEN changes made after the repair still win over the repaired documents
        for n in (3, 4, 5):
            table.table.update_item(
                Key={"book_id": f"book-{n:05d}"},
                UpdateExpression="SET title = :t",
                ExpressionAttributeValues={":t": "after repair"},
            )
        ids = ["book-00003", "book-00004", "book-00005"]
        eventually(
            lambda: stored_documents(exact_client, alias, ids),
            lambda docs: all(docs[i]["title"] == "after repair" for i in ids),
            "the later changes to reach the index",
        )
        assert eventually(
            check(exact_client, table, alias), lambda r: r.in_sync, "no drift"
        ).in_sync

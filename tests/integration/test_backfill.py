"""Backfill against the local stack: a table filled before any stream, an interrupted run
resumed, and a backfill racing live writes through a real stream and sync function."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.records import SYNC_FIELD
from tests.support.aws import Table, book, new_table
from tests.support.opensearch import scratch_alias, stored_documents, without_sync
from tests.support.pipeline import check, new_pipeline, run_cli, target_options
from tests.support.polling import eventually
from tests.support.settings import Settings
from tests.support.streams import as_indexed

pytestmark = pytest.mark.stack

ITEMS = 240


def backfill_args(settings: Settings, table: Table, alias: str) -> list[str]:
    return ["backfill", *target_options(settings, table, alias)]


def all_documents(
    exact_client: OpenSearch, alias: str, ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The stored documents, ``_sync.ts`` (when the page was read) aside."""
    stored = stored_documents(exact_client, alias, ids)
    for document in stored.values():
        document[SYNC_FIELD].pop("ts", None)
    return stored


def test_backfill_of_a_table_filled_before_the_stream(
    exact_client, filled_table, settings, tmp_path
):
    checkpoints = tmp_path / "checkpoints"
    with scratch_alias(exact_client, "backfill") as alias:
        # WHEN the table is backfilled in parallel, in small pages
        code, report = run_cli(
            *backfill_args(settings, filled_table, alias),
            *("--segments", "3", "--page-size", "25", "--checkpoint-dir", str(checkpoints)),
        )

        # THEN every item is written once, as the function's own mapping makes it
        assert code == 0
        assert (report["scanned"], report["written"], report["stale"]) == (ITEMS, ITEMS, 0)
        assert report["completed"] is True
        ids = [f"book-{n:05d}" for n in range(ITEMS)]
        documents = all_documents(exact_client, alias, ids)
        assert set(documents) == set(ids)
        document = documents["book-00007"]
        assert without_sync(document) == as_indexed(book(7))  # every digit, every type
        assert document[SYNC_FIELD]["seq"] == "0"  # a scanned item ranks below every change
        # AND the checkpoints are gone: nothing left to resume
        assert not checkpoints.exists()

        # AND reconcile finds nothing to say
        reconciled = check(exact_client, filled_table, alias)()
        assert reconciled.in_sync, reconciled.as_dict()
        assert (reconciled.table_items, reconciled.index_documents) == (ITEMS, ITEMS)

        # AND a second backfill writes nothing: everything is indexed already
        code, again = run_cli(
            *backfill_args(settings, filled_table, alias),
            *("--checkpoint-dir", str(checkpoints)),
        )
        assert code == 0
        assert (again["written"], again["stale"]) == (0, ITEMS)


def test_interrupted_backfill_resumes_to_the_same_state(
    exact_client, filled_table, settings, tmp_path
):
    ids = [f"book-{n:05d}" for n in range(ITEMS)]
    args = ("--segments", "4", "--page-size", "20", "--checkpoint-dir", str(tmp_path))
    with (
        scratch_alias(exact_client, "backfill") as reference,
        scratch_alias(exact_client, "backfill") as resumed,
    ):
        run_cli(*backfill_args(settings, filled_table, reference), *args)

        # WHEN a backfill stops after 3 pages, then resumes
        code, first = run_cli(
            *backfill_args(settings, filled_table, resumed),
            *args,
            *("--max-pages", "3"),
        )
        assert code == 5  # stopped, resumable
        assert (first["pages"], first["completed"], first["stopped"]) == (3, False, "max_pages")
        assert len(list(tmp_path.glob("segment-*.json"))) >= 1
        code, second = run_cli(
            *backfill_args(settings, filled_table, resumed),
            *args,
            "--resume",
        )

        # THEN the resumed run wrote exactly what was left, and the result is the same
        assert code == 0
        assert second["resumed"] is True
        assert first["written"] + second["written"] == ITEMS
        assert second["stale"] == 0  # no page was written twice
        assert all_documents(exact_client, resumed, ids) == all_documents(
            exact_client, reference, ids
        )


@pytest.mark.deployed
def test_backfill_beside_live_writes_ends_without_drift(exact_client, settings, tmp_path):
    with (
        new_table(settings, stream=True) as table,
        scratch_alias(exact_client, "backfill") as alias,
    ):
        # GIVEN a table with data written before the sync was attached
        table.put_all([book(n) for n in range(ITEMS)])
        with new_pipeline(settings, table, alias, exact_client):
            # WHEN a backfill runs while the application keeps writing
            writes = threading.Thread(target=churn, args=(table,))
            writes.start()
            code, report = run_cli(
                *backfill_args(settings, table, alias),
                *("--segments", "4", "--page-size", "15", "--checkpoint-dir", str(tmp_path)),
            )
            writes.join()
            assert code == 0, report

            # THEN once the stream has caught up, table and index agree exactly
            eventually(
                check(exact_client, table, alias),
                lambda r: r.in_sync,
                "reconcile to report no drift",
            )
            # AND deleted items are tombstones, updated ones show their last change
            deleted = [f"book-{n:05d}" for n in range(0, ITEMS, 10)]
            stored = eventually(
                lambda: stored_documents(exact_client, alias, [*deleted, "book-00001"]),
                lambda docs: all(d in docs and docs[d][SYNC_FIELD]["deleted"] for d in deleted),
                "the deletes to arrive as tombstones",
            )
            assert stored["book-00001"]["title"] == "updated 1"


def churn(table: Table) -> None:
    """Deletes, updates and inserts, as an application would make them."""
    for n in range(ITEMS):
        if n % 10 == 0:
            table.table.delete_item(Key={"book_id": f"book-{n:05d}"})
        elif n % 3 == 1:
            table.table.update_item(
                Key={"book_id": f"book-{n:05d}"},
                UpdateExpression="SET title = :t",
                ExpressionAttributeValues={":t": f"updated {n}"},
            )
        elif n % 7 == 0:
            table.table.put_item(Item=book(ITEMS + n))

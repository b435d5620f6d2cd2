"""Reindex against the local stack: the alias moves to a fresh index built from the table
while the sync function keeps writing, readers never see fewer documents than there are, and
nothing is lost; an interrupted reindex resumes or aborts cleanly."""

from __future__ import annotations

import threading

import pytest
from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.mapping import INDEX_GENERATION, concrete_index_name
from ddb_opensearch_sync.index.setup import current_index
from ddb_opensearch_sync.ops.reindex import work_alias
from tests.support.aws import Table, book, new_table
from tests.support.opensearch import scratch_alias, stored_documents
from tests.support.pipeline import check, new_pipeline, run_cli, target_options
from tests.support.polling import eventually
from tests.support.settings import Settings

pytestmark = pytest.mark.stack

ITEMS = 150


def options(settings: Settings, table: Table, alias: str, state: str) -> tuple[str, ...]:
    return (*target_options(settings, table, alias), "--state-dir", state)


def write_blocked(exact_client: OpenSearch, index: str) -> bool:
    settings = exact_client.indices.get_settings(index=index, name="index.blocks.write")
    return settings[index]["settings"].get("index", {}).get("blocks", {}).get("write") == "true"


class Reader(threading.Thread):
    """Counts the documents visible through the alias, as fast as it can, until stopped."""

    def __init__(self, exact_client: OpenSearch, alias: str) -> None:
        super().__init__()
        self.client, self.alias = exact_client, alias
        self.stop = threading.Event()
        self.counts: list[int] = []
        self.errors: list[Exception] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.counts.append(self.client.count(index=self.alias)["count"])
            except Exception as error:
                self.errors.append(error)


def churn(table: Table) -> None:
    """Updates every other item and adds new ones; deletes only what it added, so that the
    number of visible documents never drops below ``ITEMS``."""
    for n in range(0, ITEMS, 2):
        table.table.update_item(
            Key={"book_id": f"book-{n:05d}"},
            UpdateExpression="SET title = :t",
            ExpressionAttributeValues={":t": f"during reindex {n}"},
        )
        table.table.put_item(Item=book(10_000 + n))
        if n % 10 == 0:
            table.table.delete_item(Key={"book_id": f"book-{10_000 + n:05d}"})


@pytest.mark.deployed
def test_reindex_while_the_function_writes(exact_client, settings, tmp_path):
    with (
        new_table(settings, stream=True) as table,
        scratch_alias(exact_client, "reindex") as alias,
        new_pipeline(settings, table, alias, exact_client),
    ):
        # GIVEN an index the stream filled
        table.put_all([book(n) for n in range(ITEMS)])
        eventually(check(exact_client, table, alias), lambda r: r.in_sync, "the stream to sync")
        eventually(
            lambda: exact_client.count(index=alias)["count"],
            lambda count: count > ITEMS,  # the items and the pipeline's probe
            "every document to be searchable",
        )
        old = current_index(exact_client, alias)

        # WHEN the index is rebuilt while the application writes and readers read
        reader = Reader(exact_client, alias)
        writes = threading.Thread(target=churn, args=(table,))
        reader.start()
        writes.start()
        try:
            code, report = run_cli(
                "reindex",
                *options(settings, table, alias, str(tmp_path)),
                *("--segments", "3", "--page-size", "20"),
            )
            writes.join()
        finally:
            reader.stop.set()
            reader.join()

        # THEN the alias moved to the next generation; the old index is kept, write-blocked
        assert code == 0, report
        new = concrete_index_name(alias, INDEX_GENERATION + 1)
        assert (report["old_index"], report["new_index"], report["switched"]) == (old, new, True)
        assert current_index(exact_client, alias) == new
        assert list(exact_client.indices.get_alias(name=alias)) == [new]
        assert not exact_client.indices.exists_alias(name=work_alias(alias))
        assert write_blocked(exact_client, old)
        # AND readers never saw an empty or partial index, nor an error
        assert reader.errors == []
        assert reader.counts and min(reader.counts) >= ITEMS
        # AND no change was lost: once the stream caught up, table and index agree
        eventually(check(exact_client, table, alias), lambda r: r.in_sync, "no drift after reindex")
        # AND the function now writes to the new index
        table.table.put_item(Item=book(20_000))
        eventually(
            lambda: stored_documents(exact_client, new, ["book-20000"]),
            lambda docs: "book-20000" in docs,
            "a new change to reach the new index",
        )


def test_interrupted_reindex_resumes_aborts_and_deletes_old(exact_client, settings, tmp_path):
    with (
        new_table(settings, stream=False) as table,
        scratch_alias(exact_client, "reindex") as alias,
    ):
        table.put_all([book(n) for n in range(ITEMS)])
        args = options(settings, table, alias, str(tmp_path))
        assert run_cli("backfill", *args[:-2], "--checkpoint-dir", str(tmp_path / "b"))[0] == 0
        # v1 is the index the alias starts on; each reindex makes the next generation.
        v1, v2, v3 = (concrete_index_name(alias, INDEX_GENERATION + n) for n in (0, 1, 2))

        # WHEN a reindex stops after one page of its backfill
        code, stopped = run_cli("reindex", *args, "--page-size", "20", "--max-pages", "1")
        # THEN the alias has not moved, and a new run without --resume refuses to start over
        assert (code, stopped["switched"], stopped["stopped"]) == (5, False, "max_pages")
        assert current_index(exact_client, alias) == v1
        assert exact_client.indices.exists(index=v2)
        assert run_cli("reindex", *args)[0] == 1

        # WHEN it resumes
        code, resumed = run_cli("reindex", *args, "--page-size", "20", "--resume")
        # THEN it finishes the backfill where it stopped and switches
        assert code == 0, resumed
        assert resumed["backfill"]["resumed"] is True
        assert current_index(exact_client, alias) == v2
        assert eventually(
            check(exact_client, table, alias), lambda r: r.in_sync, "no drift"
        ).in_sync

        # WHEN the next reindex is aborted half-way, THEN its index goes and v2 stays writable
        assert run_cli("reindex", *args, "--page-size", "20", "--max-pages", "1")[0] == 5
        code, aborted = run_cli("reindex", *args, "--abort")
        assert (code, aborted["deleted"], aborted["unfrozen"]) == (0, [v3], v2)
        assert not exact_client.indices.exists(index=v3)
        assert not write_blocked(exact_client, v2)

        # WHEN a reindex runs with --delete-old, THEN the index it replaced is deleted
        code, report = run_cli("reindex", *args, "--delete-old")
        assert (code, report["deleted_old"]) == (0, True)
        assert current_index(exact_client, alias) == v3
        assert not exact_client.indices.exists(index=v2)
        assert check(exact_client, table, alias)().in_sync

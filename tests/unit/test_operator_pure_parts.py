"""The operator commands' pure parts: scanned items as changes, keys, checkpoints, progress
lines, comparison, copied documents, exit codes."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from ddb_opensearch_sync.core.mapping import generation_of
from ddb_opensearch_sync.core.records import SYNC_FIELD, Action, document_id
from ddb_opensearch_sync.ops import cli
from ddb_opensearch_sync.ops.backfill import BackfillError, CheckpointStore, SegmentState
from ddb_opensearch_sync.ops.progress import (
    NullProgress,
    PlainProgress,
    format_duration,
    make_progress,
)
from ddb_opensearch_sync.ops.reconcile import canonical
from ddb_opensearch_sync.ops.reindex import _stored_change
from ddb_opensearch_sync.ops.table import (
    TableInfo,
    decode_key,
    encode_key,
    item_change,
    keys_from_document,
    stream_image,
    tombstone_change,
)

BOOKS = TableInfo("books", {"book_id": "S"}, 0)
COMPOSITE = TableInfo("shelves", {"shelf": "N", "slot": "B"}, 0)


def test_a_scanned_item_is_an_insert_ranked_below_every_stream_change():
    item = {"book_id": {"S": "b1"}, "cover": {"B": b"\x00\xff"}, "n": {"N": "1.50"}}

    change = item_change(item, BOOKS)

    assert (change.doc_id, change.action, change.version) == ("b1", Action.UPSERT, 0)
    assert change.sequence_number == "0"
    assert change.document == (
        '{"_sync":{"deleted":false,"event":"INSERT","seq":"0"},'
        '"book_id":"b1","cover":"AP8=","n":1.5}'
    )
    assert item_change(item, BOOKS, sequence_number="7", version=42).version == 42


def test_client_items_become_stream_encoded():
    assert stream_image({"M": {"b": {"B": b"\x01"}, "l": {"L": [{"BS": [b"\x02"]}]}}}) == {
        "M": {"b": {"B": "AQ=="}, "l": {"L": [{"BS": ["Ag=="]}]}}
    }


def test_checkpoint_keys_round_trip_through_json():
    key = {"shelf": {"N": "12"}, "slot": {"B": b"\x00\x01"}}
    assert decode_key(encode_key(key)) == key


def test_keys_come_back_from_a_document_only_when_they_make_its_id():
    keys = {"shelf": {"N": "12"}, "slot": {"B": "AAE="}}
    doc_id = document_id(keys)
    source = {"shelf": 12, "slot": "AAE=", "title": "x"}

    assert keys_from_document(doc_id, source, COMPOSITE) == keys
    assert keys_from_document("other", source, COMPOSITE) is None
    assert keys_from_document(doc_id, {"shelf": 12}, COMPOSITE) is None
    assert keys_from_document("b1", {"book_id": "b1"}, BOOKS) == {"book_id": {"S": "b1"}}
    assert tombstone_change({"book_id": {"S": "b1"}}, version=5).version == 5


def test_checkpoints_resume_with_their_own_segment_count(tmp_path):
    store = CheckpointStore(tmp_path, table="t", target="a")
    states, resumed = store.start(3, resume=True)  # nothing to resume: a fresh start
    assert (len(states), resumed) == (3, False)
    store.save(SegmentState(1, {"k": {"S": "x"}}, False, 10, 1))

    states, resumed = CheckpointStore(tmp_path, table="t", target="a").start(8, resume=True)

    assert resumed is True
    assert [s.last_key for s in states] == [None, {"k": {"S": "x"}}, None]
    with pytest.raises(BackfillError, match="not"):
        CheckpointStore(tmp_path, table="other", target="a").start(3, resume=True)
    CheckpointStore(tmp_path, table="t", target="a").start(2, resume=False)
    assert not list(tmp_path.glob("segment-*"))


def test_plain_progress_prints_count_rate_and_eta():
    out = io.StringIO()
    progress = PlainProgress(out, interval=0)
    progress.start("backfill", 100)
    progress.advance(25)
    progress.finish()

    running, final = out.getvalue().splitlines()
    assert running.startswith("backfill: 25/100 items (25%), ")
    assert " items/s, ETA " in running
    assert final.startswith("backfill: 25/100 items, ") and " in " in final


def test_progress_modes_and_durations():
    assert isinstance(make_progress("auto", io.StringIO()), PlainProgress)  # not a terminal
    assert isinstance(make_progress("none"), NullProgress)
    assert [format_duration(s) for s in (4.4, 75, 3725)] == ["4s", "1m15s", "1h02m"]


def test_comparison_ignores_bookkeeping_and_number_spelling():
    stored = {"n": Decimal("1.50"), "i": 1000, SYNC_FIELD: {"seq": "9"}}
    assert canonical(stored) == canonical({"i": Decimal("1E+3"), "n": Decimal("1.5")})
    assert canonical(stored) != canonical({"n": Decimal("1.5")})


def test_a_copied_document_keeps_version_sequence_and_kind():
    hit = {
        "_id": "b1",
        "_version": 1_782_000_000 << 20,
        "_source": {"book_id": "b1", SYNC_FIELD: {"seq": "123", "deleted": True, "ts": 5}},
    }

    change = _stored_change(hit)

    assert (change.version, change.sequence_number, change.action) == (
        1_782_000_000 << 20,
        "123",
        Action.DELETE,
    )
    assert change.document == '{"_sync":{"deleted":true,"seq":"123","ts":5},"book_id":"b1"}'
    assert _stored_change({**hit, "_source": {"book_id": "b1"}}).sequence_number == "0"


def test_generations_are_read_from_index_names():
    assert generation_of("books-v12", "books") == 12
    assert generation_of("books", "books") is None
    assert generation_of("books-vx", "books") is None


def test_help_documents_the_exit_codes():
    text = cli.build_parser().format_help()
    for code in cli.ExitCode:
        assert f"\n  {code.value} " in text


def test_a_missing_table_name_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.delenv("TABLE_NAME", raising=False)

    code = cli.main(["backfill", "--endpoint", "http://localhost:1"])

    assert code == cli.ExitCode.USAGE
    assert "TABLE_NAME is not set" in capsys.readouterr().err

"""Pure pieces around the writer: error classification, dead-letter messages, settings,
endpoint parsing and the index definition."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ddb_opensearch_sync.core.mapping import (
    INDEX_GENERATION,
    alias_filter,
    concrete_index_name,
    index_body,
    index_mappings,
    index_template,
)
from ddb_opensearch_sync.core.records import SYNC_FIELD, TtlPolicy
from ddb_opensearch_sync.core.settings import Auth, ConfigurationError, Settings
from ddb_opensearch_sync.index.client import parse_endpoint
from ddb_opensearch_sync.index.writer import ErrorKind, RecentlyStored, classify
from ddb_opensearch_sync.sync.deadletter import (
    MESSAGE_SOURCE,
    DeadLetter,
    DeadLetterKind,
    message_body,
)
from ddb_opensearch_sync.sync.maintenance import UnknownActionError, action_of
from ddb_opensearch_sync.sync.types import MaintenanceAction

FIXTURES = Path(__file__).parent / "fixtures"
ITEMS = json.loads((FIXTURES / "opensearch_bulk_items.json").read_text())


def item(name: str) -> dict[str, Any]:
    (result,) = ITEMS[name].values()
    return result


# --- classification of real bulk item results --------------------------------------------


BULK_ITEMS_BY_KIND = {
    ErrorKind.OK: ["created"],
    ErrorKind.CONFLICT: ["version_conflict"],
    ErrorKind.CONTENT: ["mapping_conflict", "depth_limit", "total_fields_limit", "immense_term"],
    # The cluster's state, not the document: retried, never dead-lettered.
    ErrorKind.RETRY: [
        *("write_block", "closed_index", "missing_alias", "no_write_index"),
        *("rejected_execution", "unavailable_shards"),
    ],
}


@pytest.mark.parametrize(
    ("name", "kind"),
    [(name, kind) for kind, names in BULK_ITEMS_BY_KIND.items() for name in names],
)
def test_bulk_item_results_are_classified(name: str, kind: ErrorKind):
    result = item(name)
    assert classify(result["status"], result.get("error")) is kind


@pytest.mark.parametrize(
    ("status", "kind"),
    [(413, ErrorKind.TOO_LARGE), ("N/A", ErrorKind.RETRY), (None, ErrorKind.RETRY)],
)
def test_request_level_errors_are_classified(status: Any, kind: ErrorKind):
    # 413: the request body exceeded http.max_content_length; "N/A": connection errors.
    assert classify(status, {"type": "ConnectionError", "reason": "refused"}) is kind


# --- dead-letter messages ---------------------------------------------------------------------


def test_dead_letter_message_is_self_describing():
    record = {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "123456789012345678901"}}
    letter = DeadLetter(
        DeadLetterKind.REJECTED_DOCUMENT,
        item("mapping_conflict")["error"],
        record,
        position=3,
        sequence_number="123456789012345678901",
        document_id="b-1",
    )

    body = json.loads(
        message_body(
            letter,
            context={"function": "sync", "index_alias": "books"},
            now=datetime(2030, 1, 2, tzinfo=UTC),
        )
    )

    assert body == {
        "source": MESSAGE_SOURCE,
        "kind": "rejected_document",
        "error": item("mapping_conflict")["error"],
        "sequence_number": "123456789012345678901",
        "document_id": "b-1",
        "position": 3,
        "dead_lettered_at": "2030-01-02T00:00:00+00:00",
        "function": "sync",
        "index_alias": "books",
        "record": record,
        "record_truncated": False,
    }


def test_oversized_dead_letter_keeps_keys_and_stream_metadata():
    stream = {
        "Keys": {"book_id": {"S": "b-big"}},
        "SequenceNumber": "123456789012345678901",
        "ApproximateCreationDateTime": 1700000000,
        "SizeBytes": 400000,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
        "NewImage": {"book_id": {"S": "b-big"}, "blob": {"S": "x" * 300_000}},
    }
    record = {"eventID": "e1", "eventName": "MODIFY", "dynamodb": stream}
    letter = DeadLetter(DeadLetterKind.REJECTED_DOCUMENT, {"type": "t", "reason": "r"}, record)

    text = message_body(letter, max_bytes=256 * 1024)
    body = json.loads(text)

    assert len(text.encode()) < 256 * 1024
    assert body["record_truncated"] is True
    assert body["record_bytes"] > 300_000
    assert body["record"] == {
        "eventID": "e1",
        "eventName": "MODIFY",
        "dynamodb": {k: v for k, v in stream.items() if k != "NewImage"},
    }


def test_malformed_event_is_sent_under_event():
    letter = DeadLetter(DeadLetterKind.MALFORMED_EVENT, {"type": "malformed_event"}, [1, 2])

    body = json.loads(message_body(letter))

    assert body["kind"] == "malformed_event"
    assert body["event"] == [1, 2]
    assert "record" not in body


# --- settings ---------------------------------------------------------------------------------


def test_settings_come_from_the_environment():
    settings = Settings.from_env(
        {
            "OPENSEARCH_ENDPOINT": "http://localhost:4566/opensearch/us-east-1/books",
            "OPENSEARCH_AUTH": "none",
            "INDEX_ALIAS": "library",
            "DLQ_URL": "http://localhost:4566/000000000000/dlq",
            "TTL_EXPIRY_POLICY": "keep",
            "AWS_REGION": "eu-west-1",
            "MAINTENANCE_FUNCTION_NAME": "bookstore-sync-maintenance",
            "BULK_CONCURRENCY": "3",
        }
    )

    assert settings == Settings(
        endpoint="http://localhost:4566/opensearch/us-east-1/books",
        alias="library",
        auth=Auth.NONE,
        region="eu-west-1",
        dlq_url="http://localhost:4566/000000000000/dlq",
        maintenance_function="bookstore-sync-maintenance",
        ttl_policy=TtlPolicy.KEEP,
        bulk_concurrency=3,
    )


def test_explicit_settings_beat_the_environment():
    env = {"OPENSEARCH_ENDPOINT": "http://env:9200", "INDEX_ALIAS": "env-alias"}

    settings = Settings.from_env(env, endpoint="http://explicit:9200", alias=None)

    assert (settings.endpoint, settings.alias) == ("http://explicit:9200", "env-alias")


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OPENSEARCH_ENDPOINT": "http://x", "OPENSEARCH_AUTH": "basic"},
        {"OPENSEARCH_ENDPOINT": "http://x", "TTL_EXPIRY_POLICY": "archive"},
        {"OPENSEARCH_ENDPOINT": "https://x", "OPENSEARCH_AUTH": "sigv4"},  # no region
        {"OPENSEARCH_ENDPOINT": "http://x", "BULK_MAX_BYTES": "ten"},
        {"OPENSEARCH_ENDPOINT": "http://x", "BULK_CONCURRENCY": "0"},
    ],
)
def test_invalid_settings_are_refused(env: dict[str, str]):
    with pytest.raises(ConfigurationError):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        (
            "http://localhost:4566/opensearch/us-east-1/books",
            {
                "host": "localhost",
                "port": 4566,
                "use_ssl": False,
                "url_prefix": "/opensearch/us-east-1/books",
            },
        ),
        (
            "https://search-books-abc.us-east-1.es.amazonaws.com",
            {"host": "search-books-abc.us-east-1.es.amazonaws.com", "port": 443, "use_ssl": True},
        ),
        ("http://localhost:9200/", {"host": "localhost", "port": 9200, "use_ssl": False}),
        ("http://search.internal", {"host": "search.internal", "port": 80, "use_ssl": False}),
    ],
)
def test_endpoints_keep_their_path_prefix(endpoint: str, expected: dict[str, Any]):
    assert parse_endpoint(endpoint) == expected


def test_endpoint_must_be_a_url():
    with pytest.raises(ConfigurationError):
        parse_endpoint("localhost:9200")


# --- index definition -----------------------------------------------------------------------


def test_every_scalar_of_an_unknown_attribute_gets_one_mapping():
    templates = {
        spec["match_mapping_type"]: spec["mapping"]
        for entry in index_mappings()["dynamic_templates"]
        for spec in entry.values()
    }

    # A map is one flat_object field, whatever paths it holds (field limits).
    assert templates.pop("object") == {"type": "flat_object"}
    # One mapping whatever the JSON type, so that a list mixing them indexes.
    assert set(templates) == {"string", "long", "double", "boolean"}
    assert len({json.dumps(m, sort_keys=True) for m in templates.values()}) == 1
    mapping = templates["long"]
    assert mapping["type"] == "keyword"  # exact digits of a number
    assert mapping["fields"]["num"] == {"type": "double", "ignore_malformed": True}
    assert mapping["fields"]["text"]["type"] == "text"
    assert index_mappings()["date_detection"] is False


def test_known_fields_and_bookkeeping_are_mapped_explicitly():
    properties = index_mappings()["properties"]

    assert properties["year"] == {"type": "integer", "coerce": False}
    assert properties["book_id"] == {"type": "keyword"}
    assert properties[SYNC_FIELD]["dynamic"] == "strict"
    assert alias_filter() == {"bool": {"must_not": [{"term": {"_sync.deleted": True}}]}}


def test_index_body_creates_the_alias_with_the_filter():
    body = index_body("books")

    assert concrete_index_name("books") == f"books-v{INDEX_GENERATION}"
    assert body["aliases"] == {"books": {"is_write_index": True, "filter": alias_filter()}}
    assert index_template("books")["index_patterns"] == ["books-v*"]
    assert body["settings"]["index"]["mapping"]["depth"]["limit"] >= 32


# --- the maintenance function's events --------------------------------------------------------


def test_the_maintenance_function_knows_its_two_actions_and_refuses_the_rest():
    assert action_of({"action": "purge-tombstones"}) is MaintenanceAction.PURGE_TOMBSTONES
    assert action_of({"action": "lift-expired-lease"}) is MaintenanceAction.LIFT_EXPIRED_LEASE
    for event in ({"action": "delete-index"}, {"Records": []}, None):
        with pytest.raises(UnknownActionError):
            action_of(event)


# --- the writer's memory of what it stored (`writer.RecentlyStored`) ---------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_recently_stored_answers_as_an_mget_would_within_its_time() -> None:
    clock = _Clock()
    recent = RecentlyStored(seconds=60, size=10, clock=clock)
    recent.saw("book-1", "100000000000000000001", 7)

    clock.now = 60.0
    assert recent.stored("book-1") == {
        "found": True,
        "_version": 7,
        "_source": {"_sync": {"seq": "100000000000000000001"}},
    }
    clock.now = 60.5
    assert recent.stored("book-1") is None  # too old: read it again
    assert recent.stored("book-2") is None  # never seen: absence is not remembered


def test_recently_stored_forgets_the_oldest_beyond_its_size() -> None:
    recent = RecentlyStored(seconds=60, size=2, clock=_Clock())
    for number in range(3):
        recent.saw(f"book-{number}", None, number)
    recent.saw("book-1", None, 5)  # seen again: the newest now

    assert recent.stored("book-0") is None
    assert [recent.stored(f"book-{n}")["_version"] for n in (1, 2)] == [5, 2]

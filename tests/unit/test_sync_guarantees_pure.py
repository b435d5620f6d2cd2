"""Pure parts of the sync's guarantees: error classification that no document text can steer,
the on-failure record's schema (as AWS documents it and as LocalStack 4.14 sends it), stream
records read back from GetRecords in Lambda's shape, and dead letters that point to S3."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from ddb_opensearch_sync.index.writer import ErrorKind, classify, is_block
from ddb_opensearch_sync.ops.replay import OnFailureMessage, lambda_record
from ddb_opensearch_sync.sync.deadletter import DeadLetter, DeadLetterKind, message_body

# --- classification ----------------------------------------------------------------------------

WORDS_OF_CLUSTER_PROBLEMS = [
    "alias",
    "no write index is defined for alias [books]",
    "index_not_found_exception",
    "cluster_block_exception",
    "es_rejected_execution_exception",
    "Limit of total fields [1000] has been exceeded",
]


@pytest.mark.parametrize("text", WORDS_OF_CLUSTER_PROBLEMS)
def test_a_mapping_error_is_content_whatever_the_id_and_value_say(text: str) -> None:
    error = {
        "type": "mapper_parsing_exception",
        "reason": f"failed to parse field [year] of type [integer] in document with id "
        f"'{text}'. Preview of field's value: '{text}'",
        "caused_by": {"type": "number_format_exception", "reason": f'For input string: "{text}"'},
    }
    assert classify(400, error) is ErrorKind.CONTENT


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("Limit of total fields [1000] has been exceeded", ErrorKind.CONTENT),
        (
            "Limit of mapping depth [20] has been exceeded due to object field [a]",
            ErrorKind.CONTENT,
        ),
        ('Document contains at least one immense term in field="alias"', ErrorKind.CONTENT),
        ("mapper [a] cannot be changed from type [keyword] to [long]", ErrorKind.CONTENT),
        (
            "Field [_id] is a metadata field and cannot be added inside a document",
            ErrorKind.CONTENT,
        ),
        # The alias is broken, not the document; and a reason that merely quotes a template
        # later in its text is not one.
        (
            "no write index is defined for alias [books]. The write index may be ...",
            ErrorKind.RETRY,
        ),
        ("Alias [books] has more than one index associated with it", ErrorKind.RETRY),
        ("something new 'Limit of total fields [1] has been exceeded'", ErrorKind.RETRY),
    ],
)
def test_illegal_argument_is_content_only_for_the_document_s_own_reasons(
    reason: str, kind: ErrorKind
) -> None:
    assert classify(400, {"type": "illegal_argument_exception", "reason": reason}) is kind


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (404, "index_not_found_exception"),
        (403, "cluster_block_exception"),
        (429, "es_rejected_execution_exception"),
        (503, "unavailable_shards_exception"),
        (500, "mapper_parsing_exception"),  # a content type with a server status: not final
    ],
)
def test_cluster_errors_are_retried(status: int, kind: str) -> None:
    assert classify(status, {"type": kind, "reason": "failed to parse"}) is ErrorKind.RETRY


@pytest.mark.parametrize(
    ("error", "blocked"),
    [
        ({"type": "cluster_block_exception", "reason": "index [books-v1] blocked by: [...]"}, True),
        # Words in a reason (a document's id or value quoted back) never make a block.
        ({"type": "mapper_parsing_exception", "reason": "id 'cluster_block_exception'"}, False),
        ({"type": "deadline", "reason": "not sent"}, False),
        (None, False),
    ],
)
def test_a_block_is_known_by_its_error_type_only(error: Any, blocked: bool) -> None:
    assert is_block(error) is blocked


# --- the on-failure record -------------------------------------------------------------------

BATCH_INFO = {
    "shardId": "shardId-00000001573689847184-864758bb",
    "startSequenceNumber": "800000000003126276362",
    "endSequenceNumber": "800000000003126276362",
    "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04Z",
    "approximateArrivalOfLastRecord": "2019-11-14T00:38:05Z",
    "batchSize": 1,
    "streamArn": (
        "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"
    ),
}
# The example of AWS's "Retaining records" section for DynamoDB streams.
AWS_EXAMPLE = {
    "requestContext": {
        "requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
        "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 1,
    },
    "responseContext": {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    },
    "version": "1.0",
    "timestamp": "2019-11-14T00:38:06.021Z",
    "DDBStreamBatchInfo": BATCH_INFO,
}
# LocalStack 4.14 (stream_poller.create_dlq_event) leaves out both contexts when no invocation
# ran (a record that aged out).
LOCALSTACK_AGED_OUT = {
    "DDBStreamBatchInfo": BATCH_INFO,
    "timestamp": "2019-11-14T00:38:06.021Z",
    "version": "1.0",
}


@pytest.mark.parametrize("message", [AWS_EXAMPLE, LOCALSTACK_AGED_OUT], ids=["aws", "localstack"])
def test_on_failure_records_parse(message: dict[str, Any]) -> None:
    parsed = OnFailureMessage.model_validate(message)
    info = parsed.ddb_stream_batch_info
    assert (info.start_sequence_number, info.end_sequence_number) == (
        "800000000003126276362",
        "800000000003126276362",
    )
    assert info.shard_id == BATCH_INFO["shardId"]


@pytest.mark.parametrize(
    "message",
    [
        {"source": "ddb-opensearch-sync", "kind": "rejected_document", "record": {}},
        {**AWS_EXAMPLE, "DDBStreamBatchInfo": {**BATCH_INFO, "shardId": None}},
        "not json at all",
    ],
)
def test_other_messages_are_not_on_failure_records(message: Any) -> None:
    with pytest.raises(ValidationError):
        OnFailureMessage.model_validate(message)


def test_get_records_records_take_lambda_s_shape() -> None:
    record = {
        "eventID": "1",
        "eventName": "INSERT",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2030, 1, 1, tzinfo=UTC),
            "Keys": {"book_id": {"S": "b"}},
            "NewImage": {"book_id": {"S": "b"}, "cover": {"B": b"\x00\xff"}},
            "SequenceNumber": "100000000000000000001",
        },
    }
    shaped = lambda_record(record, "arn:stream")
    assert shaped["eventSourceARN"] == "arn:stream"
    assert shaped["dynamodb"]["ApproximateCreationDateTime"] == 1893456000.0
    assert shaped["dynamodb"]["NewImage"]["cover"] == {"B": "AP8="}


# --- dead letters over the queue's limit -------------------------------------------------------


def test_oversized_dead_letter_is_kept_whole_and_pointed_to() -> None:
    record = {"dynamodb": {"SequenceNumber": "123", "NewImage": {"x": {"S": "y" * 5000}}}}
    letter = DeadLetter(DeadLetterKind.REJECTED_DOCUMENT, {"type": "t"}, record, 0, "123", "d")
    kept: dict[str, str] = {}

    def keep(key: str, full: str) -> dict[str, str]:
        kept[key] = full
        return {"bucket": "b", "key": key}

    body = json.loads(message_body(letter, max_bytes=1024, keep=keep))

    assert body["record_truncated"] is True
    assert body["record_location"] == {
        "bucket": "b",
        "key": "dead-letters/rejected_document/123.json",
    }
    assert json.loads(kept[body["record_location"]["key"]])["record"] == record

"""DynamoDB and DynamoDB Streams as the running LocalStack serves them (the moto-backed plugin,
``stack/localstack-plugins/ddbsync_localstack/dynamodb_provider.py``).

What the project relies on: the table operations Terraform and the API make, stream records
shaped as on AWS (what the sync function reads), the stream API as LocalStack's Lambda poller
drives it, and an event source mapping delivering the records to a function. The assertions
state AWS's behaviour, not moto's, so that they hold against AWS-compatible backends too.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import json
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.aws import Client
from tests.support.polling import eventually

pytestmark = pytest.mark.stack

Record = dict[str, Any]
NewTable = Callable[..., dict[str, Any]]

KEYS_S = [{"AttributeName": "pk", "KeyType": "HASH"}]
ATTRS_S = [{"AttributeName": "pk", "AttributeType": "S"}]
KEYS_S_N = [*KEYS_S, {"AttributeName": "sk", "KeyType": "RANGE"}]
ATTRS_S_N = [*ATTRS_S, {"AttributeName": "sk", "AttributeType": "N"}]


# ---
# fixtures and helpers
# ---


@pytest.fixture(scope="module")
def client(aws_client: Callable[..., Client]) -> Callable[..., Client]:
    """Clients that give up after one retry (the plugin answers at once or not at all)."""

    def make(service: str, **config: Any) -> Client:
        return aws_client(
            service, Config(retries={"mode": "standard", "max_attempts": 2}, **config)
        )

    return make


@pytest.fixture(scope="module")
def ddb(client: Callable[..., Client]) -> Client:
    return client("dynamodb")


@pytest.fixture(scope="module")
def streams(client: Callable[..., Client]) -> Client:
    return client("dynamodbstreams")


@pytest.fixture()
def new_table(ddb: Client) -> Iterator[NewTable]:
    """Create tables with unique names (stream NEW_AND_OLD_IMAGES by default); delete them after."""
    names: list[str] = []

    def create(
        *, keys: list[dict] = KEYS_S, attrs: list[dict] = ATTRS_S, stream: str | None = None
    ) -> dict[str, Any]:
        name = f"plugin-test-{uuid.uuid4().hex[:12]}"
        extra: dict[str, Any] = {}
        if stream != "none":
            view_type = stream or "NEW_AND_OLD_IMAGES"
            extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view_type}
        ddb.create_table(
            TableName=name,
            KeySchema=keys,
            AttributeDefinitions=attrs,
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
        names.append(name)
        return eventually(
            lambda: ddb.describe_table(TableName=name)["Table"],
            lambda table: table["TableStatus"] == "ACTIVE",
            f"table {name} to be ACTIVE",
        )

    yield create
    for name in names:
        with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
            ddb.delete_table(TableName=name)


def shard_iterator(streams: Client, stream_arn: str, iterator_type: str, **extra: str) -> str:
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    return streams.get_shard_iterator(
        StreamArn=stream_arn,
        ShardId=shards[0]["ShardId"],
        ShardIteratorType=iterator_type,
        **extra,
    )["ShardIterator"]


def read_records(streams: Client, iterator: str, count: int) -> list[Record]:
    """Read a shard from ``iterator`` on until ``count`` records have arrived."""
    records: list[Record] = []

    def poll() -> list[Record]:
        nonlocal iterator
        page = streams.get_records(ShardIterator=iterator)
        records.extend(page["Records"])
        iterator = page["NextShardIterator"]
        return records

    return eventually(poll, lambda seen: len(seen) >= count, f"{count} stream records")


def table_names(ddb: Client) -> list[str]:
    pages = ddb.get_paginator("list_tables").paginate()
    return [name for page in pages for name in page["TableNames"]]


def error_code(call: Callable[[], object]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def item(pk: str, **attributes: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": pk}, **{name: {"S": value} for name, value in attributes.items()}}


def set_title(ddb: Client, table: str, pk: str, title: str) -> None:
    """An ``UpdateItem`` that sets the title (and creates the item when absent)."""
    ddb.update_item(
        TableName=table,
        Key=item(pk),
        UpdateExpression="SET title = :t",
        ExpressionAttributeValues={":t": {"S": title}},
    )


# ---
# tables and items
# ---


def test_table_lifecycle_with_stream(
    ddb: Client, streams: Client, new_table: NewTable, aws_region: str
) -> None:
    table = new_table()
    name, stream_arn = table["TableName"], table["LatestStreamArn"]

    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert stream_arn == f"{table['TableArn']}/stream/{table['LatestStreamLabel']}"
    assert f":{aws_region}:" in stream_arn
    assert name in table_names(ddb)
    listed = streams.list_streams(TableName=name)["Streams"]
    assert [s["StreamArn"] for s in listed] == [stream_arn]

    stream = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
    assert stream["StreamStatus"] == "ENABLED"
    assert stream["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert stream["TableName"] == name
    assert stream["KeySchema"] == KEYS_S
    assert len(stream["Shards"]) >= 1
    assert stream["Shards"][0]["SequenceNumberRange"]["StartingSequenceNumber"].isdigit()

    ddb.delete_table(TableName=name)
    eventually(lambda: name in table_names(ddb), lambda listed: not listed, f"{name} to be gone")
    assert error_code(lambda: ddb.describe_table(TableName=name)) == "ResourceNotFoundException"


def test_conditional_writes_and_return_values(ddb: Client, new_table: NewTable) -> None:
    name = new_table(stream="none")["TableName"]
    create_only = {"ConditionExpression": "attribute_not_exists(pk)"}

    first = ddb.put_item(TableName=name, Item=item("b1", title="Dune"), **create_only)
    assert "Attributes" not in first
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException) as caught:
        ddb.put_item(
            TableName=name,
            Item=item("b1", title="Other"),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
            **create_only,
        )
    assert caught.value.response["Item"] == item("b1", title="Dune")

    updated = ddb.update_item(
        TableName=name,
        Key=item("b1"),
        UpdateExpression="SET title = :new",
        ConditionExpression="title = :old",
        ExpressionAttributeValues={":new": {"S": "Dune Messiah"}, ":old": {"S": "Dune"}},
        ReturnValues="ALL_NEW",
    )
    assert updated["Attributes"] == item("b1", title="Dune Messiah")
    stale = error_code(
        lambda: ddb.update_item(
            TableName=name,
            Key=item("b1"),
            UpdateExpression="SET title = :new",
            ConditionExpression="title = :old",
            ExpressionAttributeValues={":new": {"S": "X"}, ":old": {"S": "Dune"}},
        )
    )
    assert stale == "ConditionalCheckFailedException"

    missing = error_code(
        lambda: ddb.delete_item(
            TableName=name, Key=item("nope"), ConditionExpression="attribute_exists(pk)"
        )
    )
    assert missing == "ConditionalCheckFailedException"
    assert "Attributes" not in ddb.delete_item(TableName=name, Key=item("nope"))
    deleted = ddb.delete_item(TableName=name, Key=item("b1"), ReturnValues="ALL_OLD")
    assert deleted["Attributes"] == item("b1", title="Dune Messiah")
    assert "Item" not in ddb.get_item(TableName=name, Key=item("b1"), ConsistentRead=True)


def test_query_pages_through_a_partition(
    ddb: Client, client: Callable[..., Client], new_table: NewTable
) -> None:
    name = new_table(keys=KEYS_S_N, attrs=ATTRS_S_N, stream="none")["TableName"]
    for start in range(0, 30, 25):
        ddb.batch_write_item(
            RequestItems={
                name: [
                    {"PutRequest": {"Item": {"pk": {"S": "p"}, "sk": {"N": str(n)}}}}
                    for n in range(start, min(start + 25, 30))
                ]
            }
        )
    query = {
        "TableName": name,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "p"}},
        "Limit": 7,
    }

    pages = list(ddb.get_paginator("query").paginate(**query))
    seen = [int(row["sk"]["N"]) for page in pages for row in page["Items"]]
    assert seen == list(range(30))
    assert [page["Count"] for page in pages[:4]] == [7, 7, 7, 7]
    assert "LastEvaluatedKey" not in pages[-1]

    unchecked = client("dynamodb", parameter_validation=False)
    assert error_code(lambda: unchecked.query(**{**query, "Limit": 0})) == "ValidationException"


def test_parallel_scan_covers_every_item_once(ddb: Client, new_table: NewTable) -> None:
    name = new_table(stream="none")["TableName"]
    keys = {f"k{n:03}" for n in range(80)}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda pk: ddb.put_item(TableName=name, Item=item(pk)), keys))

    segments = []
    for segment in range(4):
        pages = ddb.get_paginator("scan").paginate(
            TableName=name, Segment=segment, TotalSegments=4, Limit=9
        )
        segments.append([row["pk"]["S"] for page in pages for row in page["Items"]])

    everything = [pk for rows in segments for pk in rows]
    assert sorted(everything) == sorted(keys)  # every item, none twice
    assert sum(1 for rows in segments if rows) > 1, "segments should split the table"


def test_scan_pages_continue_after_their_key_even_when_it_is_gone(
    ddb: Client, new_table: NewTable
) -> None:
    # GIVEN a hash + range table (numbers sort as numbers, not text) with binary values
    name = new_table(keys=KEYS_S_N, attrs=ATTRS_S_N, stream="none")["TableName"]
    rows = [(pk, sk) for pk in ("a", "b", "c") for sk in (1, 2, 10, 11)]
    for pk, sk in rows:
        ddb.put_item(
            TableName=name,
            Item={"pk": {"S": pk}, "sk": {"N": str(sk)}, "blob": {"B": bytes([sk, 0, 255])}},
        )

    # WHEN the scan is paged, and the item a page ended on is deleted before the next page
    seen: list[tuple[str, int]] = []
    page = ddb.scan(TableName=name, Limit=5)
    while True:
        seen += [(row["pk"]["S"], int(row["sk"]["N"])) for row in page["Items"]]
        for row in page["Items"]:
            assert row["blob"]["B"] == bytes([int(row["sk"]["N"]), 0, 255])
        last = page.get("LastEvaluatedKey")
        if last is None:
            break
        ddb.delete_item(TableName=name, Key=last)
        page = ddb.scan(TableName=name, Limit=5, ExclusiveStartKey=last)

    # THEN every item is read once, in key order, none skipped after a vanished start key
    assert seen == sorted(rows)


def test_transactions_commit_or_change_nothing(
    ddb: Client, streams: Client, new_table: NewTable
) -> None:
    table = new_table()
    name = table["TableName"]
    ddb.put_item(TableName=name, Item=item("stock", count="1"))
    iterator = shard_iterator(streams, table["LatestStreamArn"], "LATEST")

    with pytest.raises(ddb.exceptions.TransactionCanceledException) as caught:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": item("order-1")}},
                {"Delete": {"TableName": name, "Key": item("stock")}},
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": item("missing"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    reasons = [reason["Code"] for reason in caught.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    rows = ddb.scan(TableName=name, ConsistentRead=True)["Items"]
    assert rows == [item("stock", count="1")]

    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": item("order-2")}},
            {
                "Update": {
                    "TableName": name,
                    "Key": item("order-3"),
                    "UpdateExpression": "SET note = :n",
                    "ExpressionAttributeValues": {":n": {"S": "gift"}},
                }
            },
            {"Delete": {"TableName": name, "Key": item("stock")}},
        ]
    )
    # The failed transaction left no records, and the iterator opened before it still reads on.
    records = read_records(streams, iterator, 3)
    assert sorted((r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records) == [
        ("INSERT", "order-2"),
        ("INSERT", "order-3"),
        ("REMOVE", "stock"),
    ]


def test_ttl_pitr_and_tags_settings(ddb: Client, new_table: NewTable) -> None:
    table = new_table(stream="none")
    name, arn = table["TableName"], table["TableArn"]

    ddb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] in ("ENABLING", "ENABLED")
    assert ttl["AttributeName"] == "expires_at"

    ddb.update_continuous_backups(
        TableName=name,
        PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True,
            "RecoveryPeriodInDays": 7,
        },
    )
    pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert pitr["ContinuousBackupsStatus"] == "ENABLED"
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert pitr["PointInTimeRecoveryDescription"]["RecoveryPeriodInDays"] == 7
    ddb.update_continuous_backups(
        TableName=name,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
    )
    pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"

    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "project", "Value": "sync"}])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "project", "Value": "sync"}
    ]
    ddb.untag_resource(ResourceArn=arn, TagKeys=["project"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == []


# ---
# streams
# ---


def test_stream_records_for_insert_modify_remove(
    ddb: Client, streams: Client, new_table: NewTable, aws_region: str
) -> None:
    table = new_table()
    name, stream_arn = table["TableName"], table["LatestStreamArn"]
    started = datetime.now(UTC) - timedelta(seconds=5)

    ddb.put_item(TableName=name, Item=item("b1", title="Dune"))
    ddb.put_item(TableName=name, Item=item("b1", title="Dune"))  # changes nothing: no record
    set_title(ddb, name, "b1", "Dune Messiah")
    ddb.delete_item(TableName=name, Key=item("b1"))

    records = read_records(streams, shard_iterator(streams, stream_arn, "TRIM_HORIZON"), 3)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert (insert["NewImage"], "OldImage" in insert) == (item("b1", title="Dune"), False)
    assert modify["OldImage"] == item("b1", title="Dune")
    assert modify["NewImage"] == item("b1", title="Dune Messiah")
    assert (remove["OldImage"], "NewImage" in remove) == (item("b1", title="Dune Messiah"), False)

    for record in records:
        assert record["eventSource"] == "aws:dynamodb"
        assert record["eventVersion"] == "1.1"
        assert record["awsRegion"] == aws_region
        assert len(record["eventID"]) > 0
        body = record["dynamodb"]
        assert body["Keys"] == item("b1")
        assert body["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert body["SizeBytes"] > 0
        assert started <= body["ApproximateCreationDateTime"] <= datetime.now(UTC)
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == sorted(set(numbers)), "sequence numbers must increase"
    assert len({r["eventID"] for r in records}) == 3

    # The iterator types a consumer resumes with.
    second = records[1]["dynamodb"]["SequenceNumber"]
    at = read_records(
        streams, shard_iterator(streams, stream_arn, "AT_SEQUENCE_NUMBER", SequenceNumber=second), 1
    )
    assert at[0]["eventID"] == records[1]["eventID"]
    after = read_records(
        streams,
        shard_iterator(streams, stream_arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=second),
        1,
    )
    assert after[0]["eventID"] == records[2]["eventID"]
    latest = shard_iterator(streams, stream_arn, "LATEST")
    assert streams.get_records(ShardIterator=latest)["Records"] == []
    set_title(ddb, name, "b2", "Emma")  # creates the item: one INSERT with the whole new image
    [created] = read_records(streams, latest, 1)
    assert created["eventName"] == "INSERT"
    assert created["dynamodb"]["NewImage"] == item("b2", title="Emma")


def test_concurrent_writes_get_distinct_increasing_sequence_numbers(
    ddb: Client, streams: Client, new_table: NewTable
) -> None:
    table = new_table(stream="KEYS_ONLY")
    keys = [f"k{n:03}" for n in range(200)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda pk: ddb.put_item(TableName=table["TableName"], Item=item(pk)), keys))

    iterator = shard_iterator(streams, table["LatestStreamArn"], "TRIM_HORIZON")
    records = read_records(streams, iterator, len(keys))
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == sorted(set(numbers))
    assert sorted(r["dynamodb"]["Keys"]["pk"]["S"] for r in records) == keys
    assert all("NewImage" not in r["dynamodb"] for r in records)  # KEYS_ONLY


def test_stream_api_errors(streams: Client, new_table: NewTable) -> None:
    stream_arn = new_table()["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]

    unknown_stream = stream_arn.replace("plugin-test-", "plugin-none-")
    assert (
        error_code(lambda: streams.describe_stream(StreamArn=unknown_stream))
        == "ResourceNotFoundException"
    )
    unknown_shard = error_code(
        lambda: streams.get_shard_iterator(
            StreamArn=stream_arn,
            ShardId="shardId-00000000000000000000-00000000",
            ShardIteratorType="TRIM_HORIZON",
        )
    )
    assert unknown_shard == "ResourceNotFoundException"
    below_shard = str(int(shard["SequenceNumberRange"]["StartingSequenceNumber"]) - 1)
    bad_number = error_code(
        lambda: streams.get_shard_iterator(
            StreamArn=stream_arn,
            ShardId=shard["ShardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=below_shard,
        )
    )
    assert bad_number in ("ValidationException", "TrimmedDataAccessException")
    forged = f"{stream_arn}|1|{'A' * 100}"  # an iterator no server issued
    assert error_code(lambda: streams.get_records(ShardIterator=forged)) in (
        "ExpiredIteratorException",
        "ValidationException",
    )


def test_stream_disable_and_enable_again(ddb: Client, streams: Client, new_table: NewTable) -> None:
    table = new_table()
    name, first_arn = table["TableName"], table["LatestStreamArn"]

    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    described = ddb.describe_table(TableName=name)["Table"]
    assert described.get("StreamSpecification", {}).get("StreamEnabled", False) is False
    assert described["LatestStreamArn"] == first_arn
    status = streams.describe_stream(StreamArn=first_arn)["StreamDescription"]["StreamStatus"]
    assert status in ("DISABLING", "DISABLED")
    ddb.put_item(TableName=name, Item=item("while-disabled"))

    ddb.update_table(
        TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    )
    second_arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    assert second_arn != first_arn
    stream = streams.describe_stream(StreamArn=second_arn)["StreamDescription"]
    assert (stream["StreamStatus"], stream["StreamViewType"]) in {
        ("ENABLING", "KEYS_ONLY"),
        ("ENABLED", "KEYS_ONLY"),
    }
    ddb.put_item(TableName=name, Item=item("after"))
    records = read_records(streams, shard_iterator(streams, second_arn, "TRIM_HORIZON"), 1)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["after"]
    assert "NewImage" not in records[0]["dynamodb"]


def test_expired_items_endpoint_deletes_like_ttl(
    ddb: Client, streams: Client, new_table: NewTable, aws_endpoint_url: str
) -> None:
    table = new_table()
    name = table["TableName"]
    ddb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    now = int(time.time())
    rows = {
        "expired": {"N": str(now - 60)},
        "later": {"N": str(now + 3600)},
        "not-a-number": {"S": str(now - 60)},
        "too-old": {"N": str(now - 6 * 365 * 24 * 3600)},  # AWS ignores > 5 years ago
    }
    for pk, expires_at in rows.items():
        ddb.put_item(TableName=name, Item={"pk": {"S": pk}, "expires_at": expires_at})
    iterator = shard_iterator(streams, table["LatestStreamArn"], "LATEST")

    request = urllib.request.Request(f"{aws_endpoint_url}/_aws/dynamodb/expired", method="DELETE")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.load(response)["ExpiredItems"] >= 1

    left = {row["pk"]["S"] for row in ddb.scan(TableName=name, ConsistentRead=True)["Items"]}
    assert left == {"later", "not-a-number", "too-old"}
    [removed] = read_records(streams, iterator, 1)
    assert removed["eventName"] == "REMOVE"
    assert removed["dynamodb"]["Keys"] == item("expired")
    assert removed["userIdentity"] == {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}


# ---
# the stream feeding a Lambda function
# ---

RECORDER = """
import json
import os

import boto3

sink = boto3.client("dynamodb")


def handler(event, context):
    for record in event["Records"]:
        sink.put_item(
            TableName=os.environ["SINK_TABLE"],
            Item={
                "pk": {"S": record["dynamodb"]["SequenceNumber"]},
                "record": {"S": json.dumps(record)},
            },
        )
    return {"batchItemFailures": []}
"""


@pytest.fixture()
def recorder_function(
    client: Callable[..., Client], new_table: NewTable
) -> Iterator[tuple[str, str]]:
    """A python3.12 function that stores each stream record it receives in a sink table.

    Yields the function's name and the sink table's name.
    """
    iam, lambda_ = client("iam"), client("lambda")
    suffix = uuid.uuid4().hex[:12]
    sink = new_table(stream="none")["TableName"]
    role = iam.create_role(
        RoleName=f"plugin-test-{suffix}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("recorder.py", RECORDER)
    function = f"plugin-test-{suffix}"
    lambda_.create_function(
        FunctionName=function,
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="recorder.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": {"SINK_TABLE": sink}},
        Timeout=30,
    )
    try:
        config = eventually(
            lambda: lambda_.get_function(FunctionName=function)["Configuration"],
            lambda config: config["State"] != "Pending",
            f"function {function} to leave Pending",
        )
        assert config["State"] == "Active", config.get("StateReason")
        yield function, sink
    finally:
        lambda_.delete_function(FunctionName=function)
        iam.delete_role(RoleName=role["RoleName"])


def test_event_source_mapping_delivers_records_to_lambda(
    ddb: Client,
    client: Callable[..., Client],
    new_table: NewTable,
    recorder_function: tuple[str, str],
    aws_region: str,
) -> None:
    lambda_ = client("lambda")
    function, sink = recorder_function
    source = new_table()
    mapping = lambda_.create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=source["LatestStreamArn"],
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
    )
    try:
        eventually(
            lambda: lambda_.get_event_source_mapping(UUID=mapping["UUID"])["State"],
            lambda state: state == "Enabled",
            "the event source mapping to be Enabled",
        )
        name = source["TableName"]
        ddb.put_item(TableName=name, Item=item("b1", title="Dune"))
        set_title(ddb, name, "b1", "Emma")
        ddb.delete_item(TableName=name, Key=item("b1"))

        rows = eventually(
            lambda: ddb.scan(TableName=sink, ConsistentRead=True)["Items"],
            lambda rows: len(rows) >= 3,
            "the function to record 3 stream records",
        )
    finally:
        lambda_.delete_event_source_mapping(UUID=mapping["UUID"])

    events = [json.loads(row["record"]["S"]) for row in rows]
    events.sort(key=lambda event: int(event["dynamodb"]["SequenceNumber"]))
    assert [e["eventName"] for e in events] == ["INSERT", "MODIFY", "REMOVE"]
    for event in events:
        assert event["eventSource"] == "aws:dynamodb"
        assert event["eventSourceARN"] == source["LatestStreamArn"]
        assert event["awsRegion"] == aws_region
        assert event["eventVersion"] == "1.1"
        assert event["dynamodb"]["Keys"] == item("b1")
        assert isinstance(event["dynamodb"]["ApproximateCreationDateTime"], int | float)
    insert, modify, remove = (e["dynamodb"] for e in events)
    assert (insert["NewImage"], "OldImage" in insert) == (item("b1", title="Dune"), False)
    assert (modify["OldImage"], modify["NewImage"]) == (
        item("b1", title="Dune"),
        item("b1", title="Emma"),
    )
    assert (remove["OldImage"], "NewImage" in remove) == (item("b1", title="Emma"), False)

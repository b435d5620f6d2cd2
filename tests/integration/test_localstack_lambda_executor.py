"""LocalStack's Lambda service on the host-process executor (``LAMBDA_RUNTIME_EXECUTOR=process``).

Functions are created and invoked through the real Lambda API of the running stack
(``AWS_ENDPOINT_URL``), and a DynamoDB stream's event source mapping drives one, so these tests
cover the executor the way the sync function uses it: result and environment, errors, timeouts,
runtime exits, CloudWatch Logs, unsupported runtimes and partial batch failures.
"""

from __future__ import annotations

import contextlib
import json
import os
import textwrap
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from stackctl.processes import running
from tests.support.aws import Client, receive_until
from tests.support.names import unique
from tests.support.polling import eventually

pytestmark = [
    pytest.mark.stack,
    # The compose stack runs LocalStack's own docker executor, with other limits and messages.
    pytest.mark.skipif(
        os.environ.get("STACK_MODE") == "compose", reason="the native stack's executor only"
    ),
]

MakeFunction = Callable[..., dict[str, Any]]
"""``make_function(files, handler=..., runtime=..., timeout=..., environment=...)``."""
# A module for handlers that count the invocations their runtime served: 1 means a new runtime.
COUNTER = """
invocations = 0


def count():
    global invocations
    invocations += 1
    return invocations
"""


def app(source: str) -> dict[str, str]:
    """A function's files: one module, ``app.py``."""
    return {"app.py": source}


def counting_app(flag: str, statement: str, *modules: str) -> dict[str, str]:
    """A function's files: its handler runs ``statement`` when the event has ``flag``, and
    otherwise returns how many invocations its runtime served."""
    imports = "".join(f"import {module}\n" for module in modules)
    handler = (
        f"def handler(event, context):\n"
        f"    if event.get({flag!r}):\n"
        f"        {statement}\n"
        f"    return count()\n"
    )
    return {"counter.py": COUNTER, "app.py": f"{imports}\nfrom counter import count\n\n\n{handler}"}


@pytest.fixture(scope="module")
def role_arn(aws_client: Callable[[str], Client]) -> Iterator[str]:
    iam = aws_client("iam")
    name = unique("executor-test-role")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    yield role["Role"]["Arn"]
    iam.delete_role(RoleName=name)


@pytest.fixture()
def make_function(
    lambda_client: Client, role_arn: str, tmp_path: Path, cleanup: ExitStack
) -> MakeFunction:
    """Create a function from ``{path: source}`` and wait until it leaves Pending."""

    def make(
        files: dict[str, str],
        handler: str = "app.handler",
        runtime: str = "python3.12",
        timeout: int = 3,
        environment: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        archive = tmp_path / f"{uuid.uuid4().hex}.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for path, source in files.items():
                zf.writestr(path, textwrap.dedent(source))
        name = unique("executor-test")
        lambda_client.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": archive.read_bytes()},
            Timeout=timeout,
            Environment={"Variables": environment or {}},
        )
        cleanup.callback(delete_function, lambda_client, name)
        return eventually(
            lambda: lambda_client.get_function_configuration(FunctionName=name),
            lambda config: config["State"] != "Pending",
            f"function {name} to leave Pending",
        )

    return make


def delete_function(lambda_client: Client, name: str) -> None:
    try:
        lambda_client.delete_function(FunctionName=name)
    except lambda_client.exceptions.ResourceNotFoundException:
        pass  # the test deleted it
    except lambda_client.exceptions.ClientError as e:
        # LocalStack 4.14.0 cannot delete a function whose creation failed (any executor): its
        # version manager is already gone. Nothing else to clean up then.
        if "Unable to find version manager" not in str(e):
            raise


def invoke(lambda_client: Client, name: str, event: dict[str, Any]) -> tuple[str | None, Any]:
    """Invoke synchronously: (FunctionError, decoded payload)."""
    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


# python3.12 runs on its own venv; another python3.x may run on LocalStack's interpreter instead.
@pytest.mark.parametrize("runtime", ["python3.12", "python3.11"])
def test_invoke_returns_result_and_sees_environment(
    lambda_client: Client, make_function: MakeFunction, runtime: str
) -> None:
    config = make_function(
        {
            "counter.py": COUNTER,
            "src/entry.py": """
            import os

            import boto3
            from counter import count


            def main(event, context):
                return {
                    "event": event,
                    "greeting": os.environ["GREETING"],
                    "function_name": context.function_name,
                    "log_group_name": context.log_group_name,
                    "arn": context.invoked_function_arn,
                    "remaining_ms": context.get_remaining_time_in_millis(),
                    "boto3": bool(boto3.__version__),
                    "runtime_invocations": count(),
                }
            """,
        },
        handler="src/entry.main",
        runtime=runtime,
        environment={"GREETING": "hello"},
    )
    name = config["FunctionName"]
    assert config["State"] == "Active"

    first = invoke(lambda_client, name, {"n": 1})
    second = invoke(lambda_client, name, {"n": 2})

    assert first[0] is None, first
    result = first[1]
    assert result["event"] == {"n": 1}
    assert result["greeting"] == "hello"
    assert result["function_name"] == name
    assert result["log_group_name"] == f"/aws/lambda/{name}"
    assert result["arn"] == config["FunctionArn"]
    assert 0 < result["remaining_ms"] <= 3000
    assert result["boto3"] is True
    assert second[1]["runtime_invocations"] == 2  # the warm runtime served both


def test_raising_handler_gives_aws_error_shape(
    lambda_client: Client, make_function: MakeFunction
) -> None:
    source = 'def handler(event, context):\n    raise ValueError("boom")\n'
    name = make_function(app(source))["FunctionName"]

    error, body = invoke(lambda_client, name, {})

    assert error == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "boom"
    assert any("app.py" in frame for frame in body["stackTrace"]), body


@pytest.mark.parametrize(
    "stuck",
    [
        pytest.param("time.sleep(60)", id="sleeping"),
        # Catastrophic backtracking: C code that never releases the GIL.
        pytest.param('re.match(r"(a+)+$", "a" * 64 + "b")', id="holding-the-gil"),
    ],
)
def test_timeout_kills_the_runtime_and_the_next_invoke_works(
    lambda_client: Client, make_function: MakeFunction, stuck: str
) -> None:
    name = make_function(counting_app("stuck", stuck, "re", "time"), timeout=1)["FunctionName"]

    error, body = invoke(lambda_client, name, {"stuck": True})
    assert error == "Unhandled"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"], body

    assert invoke(lambda_client, name, {}) == (None, 1)  # served by a new runtime


@pytest.mark.parametrize(
    ("crash", "status"),
    [("sys.exit(3)", "exit status 3"), ("os.abort()", "signal: aborted")],
)
def test_runtime_exit_is_an_error_and_the_runtime_is_replaced(
    lambda_client: Client, make_function: MakeFunction, crash: str, status: str
) -> None:
    name = make_function(counting_app("crash", crash, "os", "sys"))["FunctionName"]

    assert invoke(lambda_client, name, {}) == (None, 1)
    error, body = invoke(lambda_client, name, {"crash": True})
    assert error == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith(f"Runtime exited with error: {status}"), body

    assert invoke(lambda_client, name, {}) == (None, 1)


def test_deleting_the_function_leaves_no_processes(
    lambda_client: Client, make_function: MakeFunction
) -> None:
    name = make_function(
        app(
            """
            import os
            import subprocess
            import sys


            def handler(event, context):
                child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
                return [os.getpid(), child.pid]
            """
        )
    )["FunctionName"]
    error, pids = invoke(lambda_client, name, {})
    assert error is None, pids
    assert all(running(pid) for pid in pids)

    lambda_client.delete_function(FunctionName=name)

    eventually(
        lambda: [pid for pid in pids if running(pid)],
        lambda running: not running,
        "the runtime and the process its handler started to end",
    )


def test_missing_handler_module_fails_invocations_like_aws(
    lambda_client: Client, make_function: MakeFunction
) -> None:
    config = make_function(
        {"app.py": "def handler(event, context):\n    return 1\n"}, "nope.handler"
    )
    assert config["State"] == "Active"  # as on AWS: the code is only imported on invocation

    error, body = invoke(lambda_client, config["FunctionName"], {})

    assert error == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'nope'" in body["errorMessage"]


def test_logs_reach_cloudwatch_logs(
    aws_client: Callable[[str], Client],
    lambda_client: Client,
    make_function: MakeFunction,
) -> None:
    name = make_function(
        app(
            """
            import logging
            import sys

            logging.getLogger().setLevel(logging.INFO)


            def handler(event, context):
                print("printed", event["marker"])
                print("on stderr", event["marker"], file=sys.stderr)
                logging.info("logged %s", event["marker"])
            """
        )
    )["FunctionName"]
    marker = uuid.uuid4().hex
    logs = aws_client("logs")

    invoke(lambda_client, name, {"marker": marker})

    def messages() -> list[str]:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [event["message"] for event in events]

    seen = eventually(
        messages,
        lambda lines: sum(marker in line for line in lines) == 3,
        f"the invocation's logs of {name} in CloudWatch Logs",
    )
    text = "".join(seen)
    assert f"printed {marker}" in text
    assert f"on stderr {marker}" in text
    assert f"\tlogged {marker}" in text  # AWS's log format: [INFO] <time> <request id> message
    assert text.startswith("START RequestId:")
    assert "END RequestId:" in text


def test_unsupported_runtime_makes_the_function_failed_with_a_reason(
    make_function: MakeFunction,
) -> None:
    config = make_function(
        {"index.js": "exports.handler = async () => 1;\n"},
        handler="index.handler",
        runtime="nodejs20.x",
    )

    assert config["State"] == "Failed"
    assert "nodejs20.x is not supported" in config["StateReason"]
    assert "python3.x" in config["StateReason"]
    assert "LAMBDA_RUNTIME_EXECUTOR" in config["StateReason"]


def test_stream_mapping_retries_from_the_reported_failure(
    aws_client: Callable[[str], Client],
    lambda_client: Client,
    make_function: MakeFunction,
    cleanup: ExitStack,
) -> None:
    dynamodb, sqs = aws_client("dynamodb"), aws_client("sqs")
    table, stream_arn = stream_table(dynamodb, cleanup, "pk")
    queue_url = new_test_queue(sqs, cleanup)
    # Reports what each invocation saw to the queue; fails record "b" the first time it sees it.
    name = make_function(
        {
            "counter.py": COUNTER,
            "app.py": """
            import json
            import os

            import boto3
            from counter import count

            sqs = boto3.client("sqs")
            failed_once = set()


            def handler(event, context):
                keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
                failures = [
                    r["dynamodb"]["SequenceNumber"]
                    for r in event["Records"]
                    if r["dynamodb"]["Keys"]["pk"]["S"] == "b" and "b" not in failed_once
                ]
                if failures:
                    failed_once.add("b")
                sqs.send_message(
                    QueueUrl=os.environ["QUEUE_URL"],
                    MessageBody=json.dumps({"n": count(), "keys": keys, "failed": bool(failures)}),
                )
                return {"batchItemFailures": [{"itemIdentifier": s} for s in failures]}
            """,
        },
        environment={"QUEUE_URL": queue_url},
    )["FunctionName"]
    map_stream(
        lambda_client,
        cleanup,
        stream_arn,
        name,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        MaximumRetryAttempts=3,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )

    dynamodb.batch_write_item(
        RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": k}}}} for k in "abc"]}
    )

    received = receive_until(
        sqs,
        queue_url,
        lambda seen: any("b" in i["keys"] and not i["failed"] for i in seen),
        "record b to be delivered again and processed",
        timeout=60,
    )
    seen = sorted(received, key=lambda invocation: invocation["n"])

    assert {key for invocation in seen for key in invocation["keys"]} == set("abc")
    failing = next(n for n, invocation in enumerate(seen) if invocation["failed"])
    # The retry starts at the reported record (records after it in that batch come again too).
    assert seen[failing + 1]["keys"][0] == "b", seen


def test_stream_mapping_delivers_a_batch_in_lanes_by_partition_key(
    aws_client: Callable[[str], Client],
    lambda_client: Client,
    make_function: MakeFunction,
    cleanup: ExitStack,
    tmp_path: Path,
) -> None:
    """``ParallelizationFactor`` as on AWS (our poller; LocalStack's ignores it): a batch is
    split into lanes by the partition key's hash, lanes are invoked at the same time, and the
    records of one partition key stay in one invocation, in stream order."""
    dynamodb, sqs = aws_client("dynamodb"), aws_client("sqs")
    table, stream_arn = stream_table(dynamodb, cleanup, "pk", "sk")
    queue_url = new_test_queue(sqs, cleanup)
    meeting_room = tmp_path / "in-flight"
    meeting_room.mkdir()
    # Each invocation says it is in flight (a file) and waits, up to 2 s, for another one to
    # be: only invocations running at the same time can meet (the function runs on the host).
    name = make_function(
        app(
            """
            import json
            import os
            import pathlib
            import time
            import uuid

            import boto3

            sqs = boto3.client("sqs")
            room = pathlib.Path(os.environ["MEETING_ROOM"])


            def handler(event, context):
                me = room / uuid.uuid4().hex
                me.touch()
                deadline = time.monotonic() + 2
                met = False
                while not met and time.monotonic() < deadline:
                    met = any(other != me for other in room.iterdir())
                    time.sleep(0.02)
                me.unlink()
                records = [
                    [
                        r["dynamodb"]["Keys"]["pk"]["S"],
                        r["dynamodb"]["Keys"]["sk"]["S"],
                        int(r["dynamodb"]["SequenceNumber"]),
                    ]
                    for r in event["Records"]
                ]
                sqs.send_message(
                    QueueUrl=os.environ["QUEUE_URL"],
                    MessageBody=json.dumps({"records": records, "met": met}),
                )
            """
        ),
        timeout=10,
        environment={"QUEUE_URL": queue_url, "MEETING_ROOM": str(meeting_room)},
    )["FunctionName"]
    map_stream(
        lambda_client,
        cleanup,
        stream_arn,
        name,
        BatchSize=100,
        MaximumBatchingWindowInSeconds=1,
        ParallelizationFactor=4,
    )

    partitions = [f"p{n}" for n in range(8)]
    for version in ("1", "2"):  # each item twice: its second change must come after its first
        dynamodb.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"pk": {"S": p}, "sk": {"S": s}, "v": {"S": version}}}}
                    for p in partitions
                    for s in ("a", "b")
                ]
            }
        )

    received = receive_until(
        sqs,
        queue_url,
        lambda seen: sum(len(i["records"]) for i in seen) >= 32,
        "32 stream records to be delivered",
        timeout=60,
    )

    delivered = [tuple(record) for invocation in received for record in invocation["records"]]
    assert len(delivered) == len(set(delivered)) == 32, delivered
    assert any(invocation["met"] for invocation in received), f"no two lanes met: {received}"
    lanes = [{record[0] for record in invocation["records"]} for invocation in received]
    assert len(lanes) > 1, f"one invocation for all partitions: {lanes}"
    for invocation in received:
        sequence = [record[2] for record in invocation["records"]]
        assert sequence == sorted(sequence), invocation
    for partition in partitions:
        holding = [lane for lane in lanes if partition in lane]
        # A batch's lanes never share a partition key; here every batch has the same split.
        assert all(lane == holding[0] for lane in holding), (partition, lanes)


def test_a_stream_that_never_runs_dry_stops_when_its_mapping_is_deleted(
    aws_client: Callable[[str], Client],
    lambda_client: Client,
    make_function: MakeFunction,
    cleanup: ExitStack,
) -> None:
    """Our poller reads a stream of one shard on for as long as records come back (it has no
    other shard to give a turn to); a mapping deleted meanwhile must still stop. LocalStack
    lists a deleted mapping until its poller has returned."""
    dynamodb, sqs = aws_client("dynamodb"), aws_client("sqs")
    table, stream_arn = stream_table(dynamodb, cleanup, "pk")
    queue_url = new_test_queue(sqs, cleanup)
    name = make_function(
        app(
            """
            import json
            import os

            import boto3

            sqs = boto3.client("sqs")


            def handler(event, context):
                body = json.dumps({"records": len(event["Records"])})
                sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=body)
            """
        ),
        environment={"QUEUE_URL": queue_url},
    )["FunctionName"]
    mapping = map_stream(
        lambda_client, cleanup, stream_arn, name, BatchSize=10, MaximumBatchingWindowInSeconds=0
    )

    # GIVEN items written without a pause, so that every read of the shard returns records
    writing = threading.Event()
    writing.set()

    def write() -> None:
        written = 0
        while writing.is_set():
            dynamodb.put_item(TableName=table, Item={"pk": {"S": f"item-{written}"}})
            written += 1

    writer = threading.Thread(target=write, name="never-dry", daemon=True)
    writer.start()
    cleanup.callback(writer.join, timeout=10)
    cleanup.callback(writing.clear)  # first out: the writes stop before anything is deleted
    receive_until(sqs, queue_url, lambda seen: len(seen) >= 3, "records delivered", timeout=60)

    # WHEN the mapping is deleted while the writes go on
    lambda_client.delete_event_source_mapping(UUID=mapping)

    # THEN its poller stops reading the shard: the mapping is gone from the list
    eventually(
        lambda: lambda_client.list_event_source_mappings(EventSourceArn=stream_arn),
        lambda listed: not listed["EventSourceMappings"],
        "the deleted mapping's poller to stop while its stream never runs dry",
        timeout=20,
    )
    assert writer.is_alive(), "the writes stopped before the mapping did"


def stream_table(dynamodb: Client, cleanup: ExitStack, *keys: str) -> tuple[str, str]:
    """A new table keyed by ``keys`` (hash, then range) with a ``NEW_IMAGE`` stream: its name
    and stream ARN."""
    table = unique("executor-test")
    kinds = ("HASH", "RANGE")[: len(keys)]
    stream_arn = dynamodb.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": k, "KeyType": kind} for k, kind in zip(keys, kinds, strict=True)
        ],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    cleanup.callback(dynamodb.delete_table, TableName=table)
    return table, stream_arn


def delete_mapping(lambda_client: Client, uuid: str) -> None:
    """Delete a mapping unless a test has deleted it already."""
    with contextlib.suppress(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.delete_event_source_mapping(UUID=uuid)


def new_test_queue(sqs: Client, cleanup: ExitStack) -> str:
    queue_url = sqs.create_queue(QueueName=unique("executor-test"))["QueueUrl"]
    cleanup.callback(sqs.delete_queue, QueueUrl=queue_url)
    return queue_url


def map_stream(
    lambda_client: Client, cleanup: ExitStack, stream_arn: str, function: str, **settings: Any
) -> str:
    """Map the stream to ``function`` from its start and wait until the mapping is enabled;
    its UUID."""
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName=function,
        StartingPosition="TRIM_HORIZON",
        **settings,
    )
    cleanup.callback(delete_mapping, lambda_client, mapping["UUID"])
    eventually(
        lambda: lambda_client.get_event_source_mapping(UUID=mapping["UUID"])["State"],
        lambda state: state == "Enabled",
        "the event source mapping to be enabled",
    )
    return str(mapping["UUID"])

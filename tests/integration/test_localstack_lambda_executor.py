"""LocalStack's Lambda service on the host-process executor (``LAMBDA_RUNTIME_EXECUTOR=process``).

Functions are created and invoked through the real Lambda API of the running stack
(``AWS_ENDPOINT_URL``), and a DynamoDB stream's event source mapping drives one, so these tests
cover the executor the way the sync function uses it: result and environment, errors, timeouts,
runtime exits, CloudWatch Logs, unsupported runtimes and partial batch failures.
"""

from __future__ import annotations

import json
import os
import textwrap
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import pytest

from stackctl.processes import running
from tests.polling import eventually

pytestmark = [
    pytest.mark.stack,
    # The compose stack runs LocalStack's own docker executor, with other limits and messages.
    pytest.mark.skipif(
        os.environ.get("STACK_MODE") == "compose", reason="the native stack's executor only"
    ),
]

Client = Any  # boto3 clients are generated at run time
# A module for handlers that count the invocations their runtime served: 1 means a new runtime.
COUNTER = """
invocations = 0


def count():
    global invocations
    invocations += 1
    return invocations
"""


@pytest.fixture(scope="module")
def aws(aws_endpoint_url: str, aws_region: str) -> Callable[[str], Client]:
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=aws_region
    )
    return lambda service: session.client(service, endpoint_url=aws_endpoint_url)


@pytest.fixture(scope="module")
def lambda_client(aws: Callable[[str], Client]) -> Client:
    return aws("lambda")


@pytest.fixture()
def cleanup() -> Iterator[ExitStack]:
    """Deletes what a test created, newest first."""
    with ExitStack() as stack:
        yield stack


@pytest.fixture(scope="module")
def role_arn(aws: Callable[[str], Client]) -> Iterator[str]:
    iam = aws("iam")
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
) -> Callable[..., dict[str, Any]]:
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


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def invoke(lambda_client: Client, name: str, event: dict[str, Any]) -> tuple[str | None, Any]:
    """Invoke synchronously: (FunctionError, decoded payload)."""
    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


# python3.12 runs on its own venv; another python3.x may run on LocalStack's interpreter instead.
@pytest.mark.parametrize("runtime", ["python3.12", "python3.11"])
def test_invoke_returns_result_and_sees_environment(
    lambda_client: Client, make_function: Callable[..., dict[str, Any]], runtime: str
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
    lambda_client: Client, make_function: Callable[..., dict[str, Any]]
) -> None:
    name = make_function(
        {
            "app.py": """
            def handler(event, context):
                raise ValueError("boom")
            """
        }
    )["FunctionName"]

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
    lambda_client: Client, make_function: Callable[..., dict[str, Any]], stuck: str
) -> None:
    name = make_function(
        {
            "counter.py": COUNTER,
            "app.py": f"""
            import re
            import time

            from counter import count


            def handler(event, context):
                if event.get("stuck"):
                    {stuck}
                return count()
            """,
        },
        timeout=1,
    )["FunctionName"]

    error, body = invoke(lambda_client, name, {"stuck": True})
    assert error == "Unhandled"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"], body

    assert invoke(lambda_client, name, {}) == (None, 1)  # served by a new runtime


@pytest.mark.parametrize(
    ("crash", "status"),
    [("sys.exit(3)", "exit status 3"), ("os.abort()", "signal: aborted")],
)
def test_runtime_exit_is_an_error_and_the_runtime_is_replaced(
    lambda_client: Client, make_function: Callable[..., dict[str, Any]], crash: str, status: str
) -> None:
    name = make_function(
        {
            "counter.py": COUNTER,
            "app.py": f"""
            import os
            import sys

            from counter import count


            def handler(event, context):
                if event.get("crash"):
                    {crash}
                return count()
            """,
        }
    )["FunctionName"]

    assert invoke(lambda_client, name, {}) == (None, 1)
    error, body = invoke(lambda_client, name, {"crash": True})
    assert error == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith(f"Runtime exited with error: {status}"), body

    assert invoke(lambda_client, name, {}) == (None, 1)


def test_deleting_the_function_leaves_no_processes(
    lambda_client: Client, make_function: Callable[..., dict[str, Any]]
) -> None:
    name = make_function(
        {
            "app.py": """
            import os
            import subprocess
            import sys


            def handler(event, context):
                child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
                return [os.getpid(), child.pid]
            """
        }
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
    lambda_client: Client, make_function: Callable[..., dict[str, Any]]
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
    aws: Callable[[str], Client],
    lambda_client: Client,
    make_function: Callable[..., dict[str, Any]],
) -> None:
    name = make_function(
        {
            "app.py": """
            import logging
            import sys

            logging.getLogger().setLevel(logging.INFO)


            def handler(event, context):
                print("printed", event["marker"])
                print("on stderr", event["marker"], file=sys.stderr)
                logging.info("logged %s", event["marker"])
            """
        }
    )["FunctionName"]
    marker = uuid.uuid4().hex
    logs = aws("logs")

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
    make_function: Callable[..., dict[str, Any]],
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
    aws: Callable[[str], Client],
    lambda_client: Client,
    make_function: Callable[..., dict[str, Any]],
    cleanup: ExitStack,
) -> None:
    dynamodb, sqs = aws("dynamodb"), aws("sqs")
    table = unique("executor-test")
    stream_arn = dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    cleanup.callback(dynamodb.delete_table, TableName=table)
    queue_url = sqs.create_queue(QueueName=unique("executor-test"))["QueueUrl"]
    cleanup.callback(sqs.delete_queue, QueueUrl=queue_url)
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
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName=name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        MaximumRetryAttempts=3,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    cleanup.callback(lambda_client.delete_event_source_mapping, UUID=mapping["UUID"])
    eventually(
        lambda: lambda_client.get_event_source_mapping(UUID=mapping["UUID"])["State"],
        lambda state: state == "Enabled",
        "the event source mapping to be enabled",
    )

    dynamodb.batch_write_item(
        RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": k}}}} for k in "abc"]}
    )

    received: list[dict[str, Any]] = []

    def receive() -> list[dict[str, Any]]:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return sorted(received, key=lambda invocation: invocation["n"])

    seen = eventually(
        receive,
        lambda seen: any("b" in i["keys"] and not i["failed"] for i in seen),
        "record b to be delivered again and processed",
        timeout=60,
    )

    assert {key for invocation in seen for key in invocation["keys"]} == set("abc")
    failing = next(n for n, invocation in enumerate(seen) if invocation["failed"])
    # The retry starts at the reported record (records after it in that batch come again too).
    assert seen[failing + 1]["keys"][0] == "b", seen

"""The program each execution environment of the ``process`` Lambda executor runs.

It stands in for both halves of a Lambda container: the runtime (AWS's ``awslambdaric``) and
LocalStack's init. It imports the function's handler once, then serves LocalStack's
executor-endpoint contract (``localstack/services/lambda_/invocation/executor_endpoint.py``):

- start-up: ``POST <endpoint>/status/<runtime id>/ready`` once the handler is imported, or
  ``…/status/<runtime id>/error`` with ``errorMessage/errorType/stackTrace`` (then it exits);
- per invocation: the executor sends ``POST /invoke`` with the event as the body and the request
  id, function ARN and trace id in the headers AWS's Runtime API names them
  (``Lambda-Runtime-Aws-Request-Id``, ``-Invoked-Function-Arn``, ``-Trace-Id``); it is answered
  at once, before the handler runs, because the executor waits on that request; the outcome
  goes to ``<endpoint>/invocations/<request id>/response`` (the result's JSON) or ``…/error``.

The executor (``lambda_executor``) owns everything the runtime cannot do for itself: the
function's timeout, replacing a runtime that exited, and the invocation's logs (this process's
stdout and stderr, which the executor reads from the file they are written to).

Standard library only: it runs on the function's interpreter (a python3.x venv that brings boto3,
as Lambda's runtime does), not on LocalStack's. Its inputs are the environment LocalStack builds
for a Lambda container (``_HANDLER``, ``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_*``,
``LOCALSTACK_RUNTIME_ID``, ``LOCALSTACK_RUNTIME_ENDPOINT``, the function's own variables), the
listening socket in ``_LAMBDA_RUNTIME_LISTEN_FD`` and a stdin that reaches end of file when
LocalStack goes away.
"""

from __future__ import annotations

import decimal
import http.server
import importlib
import json
import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.request
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # only in annotations: subscripting Callable fails on python3.8 at run time
    from collections.abc import Callable

    Handler = Callable[[Any, "LambdaContext"], Any]

# The executor passes a socket it bound for us: no port to pick, no race, nothing to report back.
LISTEN_FD_VAR = "_LAMBDA_RUNTIME_LISTEN_FD"
# LocalStack's own calls must not go through a proxy the function's environment may name.
_LOCALSTACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_POST_TIMEOUT_S = 30
# An invocation's metadata comes in the headers AWS's Runtime API gives its ``/next`` answer
# (the executor sends them: ``lambda_executor`` imports these names).
REQUEST_ID_HEADER = "Lambda-Runtime-Aws-Request-Id"
FUNCTION_ARN_HEADER = "Lambda-Runtime-Invoked-Function-Arn"
TRACE_ID_HEADER = "Lambda-Runtime-Trace-Id"

_request_id = ""  # of the running invocation, for the log format


class LambdaContext:
    """The handler's ``context``: the attributes and method of AWS's python runtime."""

    def __init__(self, aws_request_id: str, invoked_function_arn: str, deadline_ms: int) -> None:
        self.aws_request_id = aws_request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]  # a str on AWS too
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


class HandlerError(Exception):
    """A handler that cannot be loaded, with the error type AWS's runtime reports for it."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def load_handler(spec: str) -> Handler:
    """Import ``module.function`` (``_HANDLER``) the way AWS's python runtime does."""
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError as e:
        raise HandlerError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {e}") from e
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise HandlerError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {e}"
        ) from e
    except SyntaxError as e:
        raise HandlerError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {e}"
        ) from e
    handler = getattr(module, function_name, None)
    if handler is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise HandlerError("Runtime.HandlerNotFound", message)
    return handler


def error_body(error: Exception, request_id: str = "") -> dict[str, Any]:
    """AWS's error shape; the stack trace leaves out this module's frames."""
    if isinstance(error, HandlerError):
        return {
            "errorMessage": str(error),
            "errorType": error.error_type,
            "requestId": request_id,
            "stackTrace": [],
        }
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename != __file__]
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


def log_error(body: dict[str, Any]) -> None:
    """Print an error as AWS's runtime does, so that it shows in the function's logs."""
    lines = [f"[ERROR] {body['errorType']}: {body['errorMessage']}"]
    if body["stackTrace"]:
        lines += ["Traceback (most recent call last):", *body["stackTrace"]]
    print("\n".join(line.rstrip("\n") for line in lines), flush=True)


def to_json(result: Any) -> bytes:
    """Serialise a handler's result; Decimal (boto3's DynamoDB numbers) as a number, as AWS does."""

    def number(value: Any) -> Any:
        if isinstance(value, decimal.Decimal):
            return float(value)
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    try:
        return json.dumps(result, default=number).encode()
    except (TypeError, ValueError) as e:
        raise HandlerError("Runtime.MarshalError", f"Unable to marshal response: {e}") from e


def post(path: str, body: bytes = b"") -> None:
    """Report to LocalStack's executor endpoint (``LOCALSTACK_RUNTIME_ENDPOINT``)."""
    request = urllib.request.Request(
        f"{os.environ['LOCALSTACK_RUNTIME_ENDPOINT']}/{path}",
        data=body,
        # Without a JSON type LocalStack's router parses the body as a form and loses it.
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with _LOCALSTACK.open(request, timeout=_POST_TIMEOUT_S) as response:
        response.read()


class Invocation(NamedTuple):
    """One ``POST /invoke``: the event's JSON and the headers that come with it."""

    request_id: str
    function_arn: str
    trace_id: str
    event: bytes


def invoke(handler: Handler, invocation: Invocation) -> None:
    """Run one invocation and report its result or error."""
    global _request_id
    request_id = _request_id = invocation.request_id
    timeout_ms = int(os.environ["AWS_LAMBDA_FUNCTION_TIMEOUT"]) * 1000
    context = LambdaContext(
        request_id, invocation.function_arn, int(time.time() * 1000) + timeout_ms
    )
    os.environ["_X_AMZN_TRACE_ID"] = invocation.trace_id
    try:
        outcome, body = "response", to_json(handler(json.loads(invocation.event), context))
    except Exception as e:
        error = error_body(e, request_id)
        log_error(error)
        outcome, body = "error", json.dumps(error).encode()
    finally:
        _request_id = ""
    # Output the handler left in buffers of its own belongs to this invocation's logs.
    sys.stdout.flush()
    sys.stderr.flush()
    post(f"invocations/{request_id}/{outcome}", body)


def serve_invokes(listener: socket.socket, invocations: queue.Queue[Invocation]) -> None:
    """Accept ``POST /invoke`` on a thread, answering before the handler runs."""

    class InvokeRequest(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/invoke":
                self.send_error(404)
                return
            invocation = Invocation(
                self.headers.get(REQUEST_ID_HEADER, ""),
                self.headers.get(FUNCTION_ARN_HEADER, ""),
                self.headers.get(TRACE_ID_HEADER, ""),
                body,
            )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            # Only now: a handler holding the GIL (C code) would keep this thread from answering.
            invocations.put(invocation)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # request lines would land in the function's logs

    server = http.server.HTTPServer(listener.getsockname()[:2], InvokeRequest, False)
    server.socket.close()
    server.socket = listener
    threading.Thread(target=server.serve_forever, name="invoke-server", daemon=True).start()


def exit_with_localstack() -> None:
    """End this environment, and whatever the handler started, once LocalStack is gone.

    LocalStack holds the only write end of our stdin, so end of file means it exited, even if
    it was killed and could not stop us itself.
    """
    while os.read(0, 4096):
        pass
    os.killpg(0, signal.SIGKILL)


def setup_logging() -> None:
    """Give the root logger the handler and format of AWS's python runtime."""
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime

    def add_request_id(record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id
        return True

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(add_request_id)
    logging.getLogger().addHandler(handler)


def main() -> None:
    listener = socket.socket(fileno=int(os.environ.pop(LISTEN_FD_VAR)))
    threading.Thread(target=exit_with_localstack, name="lifeline", daemon=True).start()
    # The function's code comes first on the path, as in /var/task on Lambda; this script's own
    # folder (what Python put there) must not be importable by the function.
    sys.path[0] = os.environ["LAMBDA_TASK_ROOT"]
    setup_logging()
    runtime_id = os.environ["LOCALSTACK_RUNTIME_ID"]
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except Exception as e:  # AWS reports any error at import time as an init error
        body = error_body(e)
        log_error(body)
        post(f"status/{runtime_id}/error", json.dumps(body).encode())
        sys.exit(1)
    invocations: queue.Queue[Invocation] = queue.Queue()
    serve_invokes(listener, invocations)
    post(f"status/{runtime_id}/ready")
    while True:
        invoke(handler, invocations.get())


if __name__ == "__main__":
    main()

"""A LocalStack Lambda runtime executor that runs each execution environment as a host process.

Why: LocalStack's only executor (``docker``) starts a container per execution environment, and
the machines this stack runs on have no Docker engine. ``LAMBDA_RUNTIME_EXECUTOR=process``
selects this one instead (a plux plugin in ``localstack.lambda.runtime_executor``).

Each environment is one subprocess running ``lambda_runtime.py`` with the function's unpacked
code as its working directory. It imports the handler and speaks LocalStack's executor-endpoint
contract (``status/…/ready|error``, ``invocations/…/response|error``), so LocalStack's own invoke
path, and the event source mappings built on it (batch size, retries, ``ReportBatchItemFailures``),
drive it unchanged. This side adds what a container's init would:

- the function's timeout: past it the process group is killed, the invocation ends in
  ``Task timed out after N.00 seconds``, and the next invocation starts a new runtime (its init
  counts against that invocation's timeout, as on Lambda); a runtime that exits (``sys.exit``,
  a crash) ends its invocation in ``Runtime.ExitError`` and is replaced the same way;
- logs: the process's stdout and stderr go to one file per environment; an invocation's logs are
  what it added there, between ``START``/``END``/``REPORT`` lines, and LocalStack writes them to
  CloudWatch Logs;
- no orphans: each runtime leads its own process group, killed as a whole on stop, and it kills
  that group itself if LocalStack dies (its stdin, a pipe from LocalStack, reaches end of file).

Python runtimes only: any other runtime, or a container image, makes the function Failed with a
reason that names the fix. A handler module that cannot be imported does not: as on AWS the
function is Active and its invocations fail with ``Runtime.ImportModuleError``.

Setting (LocalStack's environment):

``LAMBDA_PYTHON_RUNTIMES_DIR``
    Folder of one virtualenv per runtime, ``<dir>/python3.12/bin/python``, each with what Lambda's
    python runtime provides beside the standard library (boto3). A runtime without one runs on
    LocalStack's own interpreter (``sys.executable``, which has boto3 too), with a warning.

Not emulated: the memory limit, layers, ``/var/task`` and ``/tmp`` as paths (``LAMBDA_TASK_ROOT``
names the code's folder; the process inherits LocalStack's ``TMPDIR``), filesystem isolation, and
the user: functions run with LocalStack's privileges.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import requests
from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    InvokeSendError,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from ddbsync_localstack import lambda_runtime

LOG = logging.getLogger(__name__)

RUNTIMES_DIR_VAR = "LAMBDA_PYTHON_RUNTIMES_DIR"
RUNTIME_SCRIPT = Path(lambda_runtime.__file__)
LOOPBACK = "127.0.0.1"
# How often a wait for the runtime checks whether its process is still alive.
EXIT_POLL_S = 0.05
# The runtime answers /invoke before running the handler: this only bounds a broken runtime.
SEND_TIMEOUT_S = 10
# How an invocation reaches the runtime: the event as the body, as is (LocalStack's JSON
# text), and the rest in the headers AWS's Runtime API gives its ``/next`` answer. Putting the
# event into a JSON envelope instead cost a second encoding and decoding of it: 5.0 and 2.7 ms
# for a 1.3 MB batch of 1,000 records (bench/README.md).
INVOCATION_HEADERS = {
    "invoke-id": lambda_runtime.REQUEST_ID_HEADER,
    "invoked-function-arn": lambda_runtime.FUNCTION_ARN_HEADER,
    "trace-id": lambda_runtime.TRACE_ID_HEADER,
}
NO_PROXIES = {"http": "", "https": ""}


def runtime_interpreter(runtime: str) -> Path | None:
    """The python of the runtime's venv under ``LAMBDA_PYTHON_RUNTIMES_DIR``, if there is one."""
    root = os.environ.get(RUNTIMES_DIR_VAR)
    if root and (python := Path(root, runtime, "bin", "python")).is_file():
        return python
    return None


def error_payload(message: str, error_type: str | None = None) -> bytes:
    """An error body as Lambda's: a timeout has no ``errorType``."""
    body = {"errorMessage": message} | ({"errorType": error_type} if error_type else {})
    return json.dumps(body).encode()


class ProcessRuntimeExecutor(RuntimeExecutor):
    """One execution environment: a runtime subprocess, replaced when it times out or exits."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        # Receives the runtime's reports; invocations are sent by _send, which bounds the request.
        self.executor_endpoint = ExecutorEndpoint(id)
        self._port = 0  # where the runtime accepts /invoke
        self._python = Path(sys.executable)
        self._env: dict[str, str] = {}
        self._output: IO[bytes] | None = None
        # stop() comes from other threads (start-up timer, deletion) while start/invoke wait.
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._stopped = False

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        runtime, code = self.function_version.config.runtime, self.function_version.config.code
        # prepare_version let only python runtimes with zip code through.
        assert runtime is not None and code is not None
        self._python = runtime_interpreter(runtime) or self._python
        self.executor_endpoint.start()
        self._env = {
            # Only what a process needs from LocalStack's environment: none of its settings.
            "PATH": os.environ.get("PATH", os.defpath),
            "TMPDIR": tempfile.gettempdir(),
            **{name: str(value) for name, value in env_vars.items()},
            "LAMBDA_TASK_ROOT": str(code.get_unzipped_code_location()),  # not /var/task here
        }
        # Open for the environment's life (closed by stop): the runtime writes to it throughout.
        self._output = tempfile.TemporaryFile(prefix=f"lambda-{self.id}-", suffix=".log")  # noqa: SIM115
        self._spawn(deadline=None)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        try:
            # First: cancelling the endpoint's futures ends any wait in start() or invoke().
            self.executor_endpoint.shutdown()
        except Exception as e:  # stopped twice: nothing left to release
            LOG.debug("Error while shutting down executor endpoint %s: %s", self.id, e)
        self._end_process()
        if self._output is not None:
            self._output.close()

    def _spawn(self, deadline: float | None) -> bool:
        """Start a runtime and wait until it is ready; False if the deadline passed first.

        Raises ``StatusErrorException`` when the runtime reports an init error or exits.
        """
        startup: Future[bool] = Future()
        self.executor_endpoint.startup_future = startup
        with socket.create_server((LOOPBACK, 0)) as listener, self._lock:
            if self._stopped:
                raise LambdaRuntimeException(f"Execution environment {self.id} was stopped")
            self._port = listener.getsockname()[1]
            self._process = subprocess.Popen(
                [str(self._python), "-u", str(RUNTIME_SCRIPT)],
                cwd=self._env["LAMBDA_TASK_ROOT"],
                env={**self._env, lambda_runtime.LISTEN_FD_VAR: str(listener.fileno())},
                pass_fds=(listener.fileno(),),
                stdin=subprocess.PIPE,  # its end of file tells the runtime LocalStack is gone
                stdout=self._output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a process group to kill, handler's children included
            )
        if self._wait(startup, deadline):
            self.executor_endpoint.wait_for_startup()  # raises on an init error or a stop
            return True
        if (status := self._exit_status()) is None:
            return False
        self._end_process()
        raise StatusErrorException(
            "Environment startup failed",
            payload=error_payload(f"Runtime exited with error: {status}", "Runtime.ExitError"),
        )

    def _wait(self, future: Future[Any], deadline: float | None) -> bool:
        """Wait for the runtime to settle ``future``: False if it exits or the deadline passes."""
        while not future.done():
            if self._exit_status() is not None:
                return future.done()  # it may have reported just before exiting
            remaining = math.inf if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return False
            concurrent.futures.wait([future], timeout=min(EXIT_POLL_S, remaining))
        return True

    def _exit_status(self) -> str | None:
        """How the runtime ended (``exit status 1``, ``signal: killed``), None while it runs.

        ``WNOWAIT`` leaves the process unreaped, so its pid, and with it the process group id,
        cannot be reused before ``_end_process`` kills the group.
        """
        with self._lock:
            if self._process is None:
                return "signal: killed"  # by _end_process
            info = os.waitid(os.P_PID, self._process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is None:
            return None
        if info.si_code == os.CLD_EXITED:
            return f"exit status {info.si_status}"
        return f"signal: {(signal.strsignal(info.si_status) or str(info.si_status)).lower()}"

    def _end_process(self) -> None:
        """Kill the runtime's process group and reap the runtime, if there is one."""
        with self._lock:
            process, self._process = self._process, None
            if process is None:
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            if process.stdin is not None:
                process.stdin.close()

    # --- invocations -----------------------------------------------------------------------

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        timeout = self.function_version.config.timeout
        started = time.monotonic()
        deadline = started + timeout
        offset = self._output_size()
        ready = True
        if self._exit_status() is not None:
            # The last invocation timed out or the runtime exited since: as on Lambda, the next
            # invocation starts a new runtime, within its own timeout.
            self._end_process()
            ready = self._spawn(deadline)
        future: Future[InvocationResult] = Future()
        self.executor_endpoint.invocation_future = future
        if ready and self._send(payload, future, deadline):
            return self._with_logs(future.result(), offset, started)
        status = self._exit_status()
        self._end_process()
        if future.done():  # the result came in just as the deadline passed
            return self._with_logs(future.result(), offset, started)
        if status is None:
            message = f"{_timestamp()} {request_id} Task timed out after {timeout:.2f} seconds"
            body = error_payload(message)
        else:
            message = f"RequestId: {request_id} Error: Runtime exited with error: {status}"
            body = error_payload(message, "Runtime.ExitError")
        result = InvocationResult(request_id, body, is_error=True, logs=None)
        return self._with_logs(result, offset, started, message)

    def _send(
        self, payload: dict[str, str], future: Future[InvocationResult], deadline: float
    ) -> bool:
        """Hand the invocation to the runtime and wait for its outcome (see ``_wait``)."""
        url = f"http://{LOOPBACK}:{self._port}/invoke"
        headers = {name: payload.get(key) or "" for key, name in INVOCATION_HEADERS.items()}
        headers["Content-Type"] = "application/json"
        body = payload["payload"].encode()
        try:
            response = requests.post(
                url, data=body, headers=headers, timeout=SEND_TIMEOUT_S, proxies=NO_PROXIES
            )
        except requests.RequestException as e:
            raise InvokeSendError(f"Error while sending invocation to {url}: {e}") from e
        if not response.ok:
            raise InvokeSendError(f"Invocation sent to {url} failed: {response.status_code}")
        return self._wait(future, deadline)

    def _with_logs(
        self, result: InvocationResult, offset: int, started: float, error: str | None = None
    ) -> InvocationResult:
        """Attach what the runtime printed since ``offset``, framed as Lambda frames it."""
        request_id = result.request_id
        duration_ms = (time.monotonic() - started) * 1000
        output = self._read_output(offset)
        lines = [
            f"START RequestId: {request_id} Version: {self.function_version.id.qualifier}",
            *([output.rstrip("\n")] if output else []),
            *([error] if error else []),
            f"END RequestId: {request_id}",
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration_ms)} ms\t"
            f"Memory Size: {self.function_version.config.memory_size} MB\t",
        ]
        return dataclasses.replace(result, logs="\n".join(lines) + "\n")

    def _output_size(self) -> int:
        assert self._output is not None
        return os.fstat(self._output.fileno()).st_size

    def _read_output(self, offset: int = 0) -> str:
        if self._output is None or self._output.closed:
            return ""
        size = self._output_size() - offset
        return os.pread(self._output.fileno(), size, offset).decode(errors="replace")

    # --- addresses and logs ----------------------------------------------------------------

    def get_logs(self) -> str:
        return self._read_output()

    def get_address(self) -> str:
        return LOOPBACK

    def get_endpoint_from_executor(self) -> str:
        host = config.GATEWAY_LISTEN[0].host
        return LOOPBACK if host in ("0.0.0.0", "[::]", "::", "") else host

    def get_runtime_endpoint(self) -> str:
        return (
            f"http://{self.get_endpoint_from_executor()}:{config.GATEWAY_LISTEN[0].port}"
            f"{self.executor_endpoint.get_endpoint_prefix()}"
        )

    # --- function versions -----------------------------------------------------------------

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Decide Active or Failed: python runtimes with zip code only; unpack the code."""
        runtime, code = function_version.config.runtime, function_version.config.code
        if not runtime or not runtime.startswith("python") or code is None:
            raise LambdaRuntimeException(
                f"{'runtime ' + runtime if runtime else 'a container image'} is not supported by "
                "LocalStack's host-process Lambda executor (LAMBDA_RUNTIME_EXECUTOR=process runs "
                "python3.x zip functions only): use a python3.x runtime, or run LocalStack with "
                "Docker and LAMBDA_RUNTIME_EXECUTOR=docker"
            )
        code.prepare_for_execution()
        if runtime_interpreter(runtime) is None:
            LOG.warning(
                "No %s interpreter at %s/%s/bin/python: function %s runs on LocalStack's own "
                "Python %d.%d (%s)",
                runtime,
                os.environ.get(RUNTIMES_DIR_VAR, f"${RUNTIMES_DIR_VAR}"),
                runtime,
                function_version.id.function_name,
                *sys.version_info[:2],
                sys.executable,
            )

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Nothing to undo: the unpacked code belongs to LocalStack, which deletes it."""


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    """``LAMBDA_RUNTIME_EXECUTOR=process``."""

    name = "process"

    def load(self, *args: Any, **kwargs: Any) -> type[RuntimeExecutor]:
        return ProcessRuntimeExecutor

"""Where a process spends its CPU, from py-spy's samples: shares by the code the time is in.

`Sampling` runs ``py-spy record`` on a pid (LocalStack's) while a block runs; `shares` reads
the samples back and attributes them to the parts named in `PARTS`. Only samples of threads
holding the GIL are taken (``--gil``): LocalStack is one Python process, so those are its CPU
time in Python; native code running without the GIL (OpenSSL, zlib) is not seen.

A part's share is *inclusive*: the samples whose stack passes through that part's code at
any depth, over all samples. Parts nest (LocalStack's API Gateway calls our DynamoDB plugin,
which calls moto), so shares do not add up to 100%; `PARTS` lists them from the outermost in.

py-spy needs ptrace rights on the process (root, or ``kernel.yama.ptrace_scope=0`` and the
same user). Without py-spy or those rights `Sampling` records nothing, and the section says
why instead of failing.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import TracebackType

__all__ = ["PARTS", "Sampling", "shares"]

RATE = 200  # samples per second

PARTS: dict[str, tuple[str, ...]] = {
    "API Gateway (LocalStack), all of it": ("services/apigateway/",),
    "VTL rendering (LocalStack's engine, airspeed)": (
        "apigateway/next_gen/execute_api/template_mapping.py",
        "utils/aws/templating.py",
        "airspeed/",
    ),
    "request validation (JSON schema)": (
        "execute_api/handlers/method_request.py",
        "jsonschema/",
        "openapi_core/",
        "openapi_schema_validator/",
    ),
    "AWS protocol parse/serialize (LocalStack)": (
        "aws/protocol/parser.py",
        "aws/protocol/serializer.py",
    ),
    "our DynamoDB plugin": ("ddbsync_localstack/dynamodb_provider.py",),
    "moto DynamoDB": ("moto/dynamodb/",),
    "our stream poller": ("ddbsync_localstack/stream_poller.py",),
    "event source mapping (LocalStack)": ("lambda_/event_source_mapping/",),
    "Lambda invoke (LocalStack)": ("services/lambda_/invocation/",),
    "our Lambda executor": ("ddbsync_localstack/lambda_executor.py",),
    "OpenSearch proxy (LocalStack)": ("services/opensearch/",),
    "stream records as the API returns them (ours)": ("_with_binary_as_bytes",),
    "LocalStack's internal AWS clients (botocore)": ("botocore/",),
    "event payload to JSON (LocalStack)": ("to_json_str",),
    "logging": ("/logging/",),
    "HTTP server (hypercorn/werkzeug/rolo)": ("hypercorn/", "werkzeug/", "rolo/"),
}


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Sampling:
    """``with Sampling(pid) as sampling: ...`` then ``sampling.shares()`` (or ``.error``)."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.error: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._folder = Path(tempfile.mkdtemp(prefix="bench-pyspy-"))
        self._output = self._folder / "samples.txt"

    def __enter__(self) -> Sampling:
        binary = _py_spy()
        if self.pid is None:
            self.error = "no LocalStack pid (the native stack's pid file)"
        elif binary is None:
            self.error = "py-spy is not installed (pip install -e '.[bench]')"
        else:
            self._process = subprocess.Popen(
                [
                    *(binary, "record", "--pid", str(self.pid), "--rate", str(RATE), "--gil"),
                    *("--format", "raw", "--output", str(self._output), "--nonblocking"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            _, stderr = self._process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            _, stderr = self._process.communicate()
        if not self._output.exists():
            self.error = f"py-spy recorded nothing: {stderr.decode(errors='replace')[-300:]}"

    def shares(self) -> dict[str, object]:
        """Samples, and each part's inclusive share of them in percent."""
        if self.error or not self._output.exists():
            return {"skipped": self.error or "no samples"}
        try:
            return shares(self._output.read_text())
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)


def shares(raw: str) -> dict[str, object]:
    """Parse py-spy's raw (collapsed) output: ``frame;frame;... count`` per line."""
    total = unattributed = 0
    hits: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        matched = [p for p, markers in PARTS.items() if any(m in stack for m in markers)]
        hits.update(dict.fromkeys(matched, count))
        unattributed += 0 if matched else count
    return {
        "samples": total,
        "sample_rate_hz": RATE,
        "unattributed_pct": round(100 * unattributed / total, 1) if total else 0.0,
        "inclusive_pct": {
            part: round(100 * hits[part] / total, 1) if total else 0.0 for part in PARTS
        },
    }

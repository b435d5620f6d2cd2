"""Where the stack and the deployed system are, and the clients the console talks to them with.

Everything comes from ``stackctl``, the one home of the stack's settings (``stack.env``, the
environment) and of the deployed names (``deployed_values``). The deployed names are read
again every few seconds, so a ``make deploy`` or a restarted LocalStack shows on the page
without restarting the console.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
from opensearchpy import OpenSearch

import stackctl
from ddb_opensearch_sync.index.client import make_client
from ddb_opensearch_sync.ops.table import TableInfo

DEPLOYED_TTL_S = 2.0  # seconds the deployed names are reused before they are read again
# LocalStack accepts any credentials; fixed ones keep boto3 from looking for real ones.
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


class NotReady(Exception):
    """The stack is down or nothing is deployed; ``fix`` is the command that helps."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True)
class Deployment:
    """The deployed names (``make env`` prints them) and clients for the parts they name."""

    names: dict[str, str]
    system: System  # where the stack is (endpoints, region)

    def __post_init__(self) -> None:
        # The names the console uses most, checked once: a deployment lacking one is broken.
        for name in ("API_URL", "TABLE_NAME", "INDEX_ALIAS", "DLQ_URL"):
            if not self.names.get(name):
                raise NotReady(f"The deployment names no {name}.", "make deploy")

    @property
    def api_url(self) -> str:
        return self.names["API_URL"].rstrip("/")

    @property
    def table_name(self) -> str:
        return self.names["TABLE_NAME"]

    @property
    def alias(self) -> str:
        return self.names["INDEX_ALIAS"]

    def aws(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.system.aws_endpoint_url,
            region_name=self.system.settings["AWS_DEFAULT_REGION"],
            **CREDENTIALS,
        )

    @cached_property
    def dynamodb(self) -> Any:
        return self.aws("dynamodb")

    @cached_property
    def index(self) -> OpenSearch:
        """The stack's node, read with exact numbers (as reconcile compares documents)."""
        return make_client(self.system.opensearch_url, exact_numbers=True, timeout=30)

    @cached_property
    def table(self) -> TableInfo:
        return TableInfo.describe(self.dynamodb, self.table_name)


class System:
    """The stack's settings and the current deployment, re-read every ``DEPLOYED_TTL_S``."""

    def __init__(self) -> None:
        self.settings = stackctl.load_settings()
        self.paths = stackctl.Paths.from_env()
        self._lock = threading.Lock()
        self._deployment: Deployment | None = None
        self._read_at = -DEPLOYED_TTL_S

    @property
    def aws_endpoint_url(self) -> str:
        return f"http://localhost:{self.settings['LOCALSTACK_PORT']}"

    @property
    def opensearch_url(self) -> str:
        return f"http://localhost:{self.settings['OPENSEARCH_PORT']}"

    def services_down(self) -> list[str]:
        return [
            f"{s.name} (port {s.port(self.settings)})"
            for s in stackctl.not_answering(self.settings)
        ]

    def deployment(self) -> Deployment:
        """The current deployment; `NotReady` naming the fix when the stack is down or nothing
        is deployed to it."""
        down = self.services_down()
        if down:
            raise NotReady(f"The stack is not up: {', '.join(down)} not answering.", "make up")
        with self._lock:
            if time.monotonic() - self._read_at > DEPLOYED_TTL_S:
                self._deployment = self._read_deployment()
                self._read_at = time.monotonic()
            deployment = self._deployment
        if deployment is None:
            raise NotReady("Nothing is deployed to this stack.", "make deploy")
        return deployment

    def _read_deployment(self) -> Deployment | None:
        names = stackctl.deployed_values(self.settings, self.paths)
        if not names.get("API_URL"):
            return None
        previous = self._deployment
        if previous is not None and previous.names == names:
            return previous  # keep its clients
        return Deployment(names=names, system=self)

"""Where the stack and the deployed system are: the only place that reads their environment.

``make env`` prints these variables (the test and bench commands source it); the stack's own
values default to the native stack's, so a test module can also be run by hand. The deployed
system's names exist once ``make deploy`` ran.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from stackctl.deploy import DEPLOYED_NAMES as DEPLOYED

# The deployed system's names: `make deploy` maps each Terraform output of the local root to
# the variable of the same name upper-cased (stackctl.deploy owns the list).
API_URL = "API_URL"
TABLE_NAME = "TABLE_NAME"
TABLE_STREAM_ARN = "TABLE_STREAM_ARN"
INDEX_ALIAS = "INDEX_ALIAS"
OPENSEARCH_ENDPOINT = "OPENSEARCH_ENDPOINT"
SYNC_FUNCTION_NAME = "SYNC_FUNCTION_NAME"
SEARCH_FUNCTION_NAME = "SEARCH_FUNCTION_NAME"
DLQ_URL = "DLQ_URL"

MAKE_ENV_HINT = 'run `make deploy`, then `set -a; eval "$(make -s env)"; set +a`'


class SettingMissing(LookupError):
    """A deployed name is not in the environment: the system is not deployed, or ``make env``
    was not sourced. The message says what to do."""


@dataclass(frozen=True)
class Settings:
    """The stack's endpoints and credentials, and the deployed system's names (``None`` until
    ``make deploy``)."""

    aws_endpoint_url: str
    opensearch_url: str
    region: str
    access_key_id: str
    secret_access_key: str
    deployed: Mapping[str, str | None]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            aws_endpoint_url=environ.get("AWS_ENDPOINT_URL", "http://localhost:4566"),
            opensearch_url=environ.get("OPENSEARCH_URL", "http://localhost:9200"),
            region=environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            # LocalStack takes any credentials.
            access_key_id=environ.get("AWS_ACCESS_KEY_ID", "test"),
            secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY", "test"),
            deployed={name: environ.get(name) or None for name in DEPLOYED},
        )

    def require(self, name: str) -> str:
        """A deployed name (the API's URL without a trailing slash); `SettingMissing` when it
        is not known."""
        value = self.deployed.get(name)
        if not value:
            raise SettingMissing(f"{name} is not set: {MAKE_ENV_HINT}")
        return value.rstrip("/") if name == API_URL else value

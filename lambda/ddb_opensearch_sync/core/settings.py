"""Configuration: environment variable names, the settings read from them, every default.

The names are the contract with the Terraform module (``infra/modules/sync``). An explicit
argument always beats the environment (`Settings.from_env` takes overrides). The defaults of
the functions and of the operator commands live here only; the writer, the client, the
commands' options and the CLI's help all read them from here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from .records import TtlPolicy

__all__ = [
    "DEFAULT_ALIAS",
    "DEFAULT_BULK_CONCURRENCY",
    "DEFAULT_BULK_MAX_ACTIONS",
    "DEFAULT_BULK_MAX_BYTES",
    "DEFAULT_LEASE",
    "DEFAULT_MARGIN",
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_SEGMENTS",
    "DEFAULT_SETTLE",
    "DEFAULT_STATE_DIR",
    "ENV_AWS_REGION",
    "ENV_BULK_CONCURRENCY",
    "ENV_BULK_MAX_ACTIONS",
    "ENV_BULK_MAX_BYTES",
    "ENV_CORS_ALLOW_ORIGIN",
    "ENV_DEAD_LETTER_BUCKET",
    "ENV_DLQ_URL",
    "ENV_INDEX_ALIAS",
    "ENV_MAINTENANCE_FUNCTION",
    "ENV_OPENSEARCH_AUTH",
    "ENV_OPENSEARCH_ENDPOINT",
    "ENV_TABLE_NAME",
    "ENV_TTL_EXPIRY_POLICY",
    "STREAM_RETENTION",
    "Auth",
    "ConfigurationError",
    "Settings",
]

ENV_OPENSEARCH_ENDPOINT = "OPENSEARCH_ENDPOINT"
"""Base URL of the domain, path prefix included (LocalStack serves domains under a path)."""
ENV_OPENSEARCH_AUTH = "OPENSEARCH_AUTH"
"""``sigv4`` (AWS, service ``es``) or ``none``."""
ENV_INDEX_ALIAS = "INDEX_ALIAS"
"""The alias the function writes to and ``setup-index`` creates."""
ENV_DLQ_URL = "DLQ_URL"
"""SQS queue for records that cannot be indexed."""
ENV_DEAD_LETTER_BUCKET = "DEAD_LETTER_BUCKET"
"""S3 bucket keeping whole the dead letters too large for one SQS message."""
ENV_MAINTENANCE_FUNCTION = "MAINTENANCE_FUNCTION_NAME"
"""The maintenance function (``sync.maintenance``) the sync function asks, asynchronously, to
lift a write block whose reindex lease ran out; unset: nobody is asked."""
ENV_TTL_EXPIRY_POLICY = "TTL_EXPIRY_POLICY"
"""``delete`` (default) or ``keep``: what a TTL expiry does to the document."""
ENV_BULK_MAX_BYTES = "BULK_MAX_BYTES"
"""Optional tuning: byte cap of one ``_bulk`` request body."""
ENV_BULK_MAX_ACTIONS = "BULK_MAX_ACTIONS"
"""Optional tuning: action cap of one ``_bulk`` request."""
ENV_BULK_CONCURRENCY = "BULK_CONCURRENCY"
"""Optional tuning: ``_bulk`` requests the function keeps in flight for one batch."""
ENV_TABLE_NAME = "TABLE_NAME"
"""The DynamoDB table the operator commands (backfill, reconcile, reindex) read; the
function itself never needs it (its events name the stream)."""
ENV_CORS_ALLOW_ORIGIN = "CORS_ALLOW_ORIGIN"
"""The search function's ``Access-Control-Allow-Origin`` (the api module's ``cors``); unset:
no CORS header."""
ENV_AWS_REGION = "AWS_REGION"
"""Set by the Lambda runtime; ``AWS_DEFAULT_REGION`` is the fallback."""

DEFAULT_ALIAS = "books"
DEFAULT_BULK_MAX_BYTES = 5 * 1024 * 1024
"""Well under the smallest AWS OpenSearch request limit (10 MiB)."""
DEFAULT_BULK_MAX_ACTIONS = 1000
DEFAULT_BULK_CONCURRENCY = 2
"""A batch of at least twice `writer.MIN_SPLIT` changes goes as two ``_bulk`` requests at once:
a node indexes one request on one write thread, so two keep two cores busy (1,000 new
documents on the local node: 131 ms as one request, 94 ms as two at once; bench/README.md)."""
DEFAULT_REQUEST_TIMEOUT = 30.0
"""Seconds one OpenSearch request may take (the client's and the writer's bound)."""

# The operator commands' defaults.
DEFAULT_SEGMENTS = 4
"""Parallel scan segments of a backfill or reconcile, one worker thread each."""
DEFAULT_SETTLE = 5.0
"""Seconds a difference may take to resolve itself before reconcile calls it drift."""
DEFAULT_MARGIN = 300.0
"""Seconds of clock difference a reindex allows between this host and DynamoDB."""
DEFAULT_LEASE = 60.0
"""Seconds a reindex may keep the old index write-blocked if it dies (`index.lease`)."""
STREAM_RETENTION = 24 * 3600
"""How long a DynamoDB stream keeps a record (AWS: 24 hours): how far back a replay of an old
change can reach, so how long a tombstone must stay and a reindex must carry it."""
DEFAULT_STATE_DIR = ".ddb-opensearch-sync"
"""Where the commands keep checkpoints and state, relative to the working directory."""


class ConfigurationError(ValueError):
    """A setting is missing or invalid."""


class Auth(StrEnum):
    NONE = "none"
    SIGV4 = "sigv4"


@dataclass(frozen=True, slots=True)
class Settings:
    endpoint: str
    alias: str = DEFAULT_ALIAS
    auth: Auth = Auth.NONE
    region: str | None = None
    dlq_url: str | None = None
    dead_letter_bucket: str | None = None
    maintenance_function: str | None = None
    ttl_policy: TtlPolicy = TtlPolicy.DELETE
    bulk_max_bytes: int = DEFAULT_BULK_MAX_BYTES
    bulk_max_actions: int = DEFAULT_BULK_MAX_ACTIONS
    bulk_concurrency: int = DEFAULT_BULK_CONCURRENCY

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``environ`` (default: the process environment).

        Keyword arguments that are not ``None`` win over the environment.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "endpoint": env.get(ENV_OPENSEARCH_ENDPOINT),
            "alias": env.get(ENV_INDEX_ALIAS) or DEFAULT_ALIAS,
            "auth": env.get(ENV_OPENSEARCH_AUTH) or Auth.NONE,
            "region": env.get(ENV_AWS_REGION) or env.get("AWS_DEFAULT_REGION"),
            "dlq_url": env.get(ENV_DLQ_URL) or None,
            "dead_letter_bucket": env.get(ENV_DEAD_LETTER_BUCKET) or None,
            "maintenance_function": env.get(ENV_MAINTENANCE_FUNCTION) or None,
            "ttl_policy": env.get(ENV_TTL_EXPIRY_POLICY) or TtlPolicy.DELETE,
            "bulk_max_bytes": env.get(ENV_BULK_MAX_BYTES) or DEFAULT_BULK_MAX_BYTES,
            "bulk_max_actions": env.get(ENV_BULK_MAX_ACTIONS) or DEFAULT_BULK_MAX_ACTIONS,
            "bulk_concurrency": env.get(ENV_BULK_CONCURRENCY) or DEFAULT_BULK_CONCURRENCY,
        }
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls._validated(values)

    @classmethod
    def _validated(cls, values: dict[str, Any]) -> Settings:
        if not values["endpoint"]:
            raise ConfigurationError(f"{ENV_OPENSEARCH_ENDPOINT} is not set")
        try:
            auth = Auth(str(values["auth"]).lower())
            ttl_policy = TtlPolicy(str(values["ttl_policy"]).lower())
        except ValueError as error:
            raise ConfigurationError(str(error)) from None
        if auth is Auth.SIGV4 and not values["region"]:
            raise ConfigurationError(f"sigv4 needs a region ({ENV_AWS_REGION})")
        try:
            max_bytes, max_actions = int(values["bulk_max_bytes"]), int(values["bulk_max_actions"])
            concurrency = int(values["bulk_concurrency"])
        except ValueError as error:
            raise ConfigurationError(f"bulk limits must be integers: {error}") from None
        if max_bytes < 1024 or max_actions < 1 or concurrency < 1:
            raise ConfigurationError("bulk limits are too small")
        return cls(
            endpoint=str(values["endpoint"]),
            alias=str(values["alias"]),
            auth=auth,
            region=values["region"],
            dlq_url=values["dlq_url"],
            dead_letter_bucket=values["dead_letter_bucket"],
            maintenance_function=values["maintenance_function"],
            ttl_policy=ttl_policy,
            bulk_max_bytes=max_bytes,
            bulk_max_actions=max_actions,
            bulk_concurrency=concurrency,
        )

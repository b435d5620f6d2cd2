"""The stack's health as the page shows it: each service (up, version) and each deployed part
(the table, both functions, the stream's event source mapping, the dead-letter queue).

Every probe is independent and short: one part that fails to answer is shown as down with
its error, and never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from .system import Deployment, NotReady, System

PROBE_TIMEOUT_S = 2.0
# LocalStack's services the deployment uses (its health endpoint lists every one it has).
USED_SERVICES = ("apigateway", "dynamodb", "dynamodbstreams", "lambda", "sqs", "opensearch")


def _probe(name: str, probe: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return {"name": name, "up": True, **probe()}
    # Any failure means "down", shown with its cause; it must not hide the other parts.
    except requests.ConnectionError:
        return {"name": name, "up": False, "detail": "not answering"}
    except Exception as error:
        return {"name": name, "up": False, "detail": f"{type(error).__name__}: {error}"[:300]}


def _localstack(system: System) -> dict[str, Any]:
    url = f"{system.aws_endpoint_url}/_localstack/health"
    health = requests.get(url, timeout=PROBE_TIMEOUT_S).json()
    services = health.get("services", {})
    used = ", ".join(f"{s} {services.get(s, 'missing')}" for s in USED_SERVICES)
    return {"version": health.get("version"), "detail": used}


def _opensearch(system: System) -> dict[str, Any]:
    root = requests.get(system.opensearch_url, timeout=PROBE_TIMEOUT_S).json()
    url = f"{system.opensearch_url}/_cluster/health"
    cluster = requests.get(url, timeout=PROBE_TIMEOUT_S).json()
    return {
        "version": root["version"]["number"],
        "detail": f"cluster {cluster['cluster_name']} {cluster['status']}",
    }


def services(system: System) -> list[dict[str, Any]]:
    return [
        _probe("localstack", lambda: _localstack(system)),
        _probe("opensearch", lambda: _opensearch(system)),
    ]


def _table(d: Deployment) -> dict[str, Any]:
    table = d.dynamodb.describe_table(TableName=d.table_name)["Table"]
    stream = table.get("StreamSpecification", {}).get("StreamViewType", "no stream")
    return {"version": table["TableStatus"], "detail": f"{d.table_name}, stream {stream}"}


def _function(d: Deployment, setting: str) -> dict[str, Any]:
    name = d.names[setting]
    config = d.aws("lambda").get_function(FunctionName=name)["Configuration"]
    return {"version": config.get("State"), "detail": f"{name} ({config.get('Runtime')})"}


def _mapping(d: Deployment) -> dict[str, Any]:
    function = d.names["SYNC_FUNCTION_NAME"]
    found = d.aws("lambda").list_event_source_mappings(FunctionName=function)
    mappings = found["EventSourceMappings"]
    if not mappings:
        raise LookupError(f"no event source mapping for {function}")
    mapping = mappings[0]
    detail = f"batch {mapping.get('BatchSize')}, retries {mapping.get('MaximumRetryAttempts')}"
    return {"version": mapping.get("State"), "detail": detail}


def _index(d: Deployment) -> dict[str, Any]:
    aliased = d.index.indices.get_alias(name=d.alias)
    count = d.index.count(index=d.alias)["count"]
    return {"version": ", ".join(sorted(aliased)), "detail": f"alias {d.alias}: {count} books"}


def _queue(d: Deployment) -> dict[str, Any]:
    attributes = d.aws("sqs").get_queue_attributes(
        QueueUrl=d.names["DLQ_URL"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return {"version": "ok", "detail": f"{attributes['ApproximateNumberOfMessages']} messages"}


def deployed_parts(d: Deployment) -> list[dict[str, Any]]:
    return [
        _probe("table", lambda: _table(d)),
        _probe("sync function", lambda: _function(d, "SYNC_FUNCTION_NAME")),
        _probe("stream mapping", lambda: _mapping(d)),
        _probe("search function", lambda: _function(d, "SEARCH_FUNCTION_NAME")),
        _probe("index", lambda: _index(d)),
        _probe("dead-letter queue", lambda: _queue(d)),
    ]


def health(system: System) -> dict[str, Any]:
    """Services, deployed parts and, when something is missing, the command that fixes it."""
    report: dict[str, Any] = {"services": services(system), "deployed": [], "names": {}}
    try:
        deployment = system.deployment()
    except NotReady as not_ready:
        return {**report, "problem": str(not_ready), "fix": not_ready.fix}
    return {
        **report,
        "deployed": deployed_parts(deployment),
        "names": deployment.names,
        "problem": None,
        "fix": None,
    }

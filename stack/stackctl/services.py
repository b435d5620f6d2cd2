"""The two services of the stack and how to tell that one answers (plain HTTP: any mode)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str
    port_setting: str
    marker: str  # a string in the native process's command line that identifies it as ours

    def port(self, settings: dict[str, str]) -> int:
        return int(settings[self.port_setting])


OPENSEARCH = Service("opensearch", "OPENSEARCH_PORT", "opensearch-node.jar")
LOCALSTACK = Service("localstack", "LOCALSTACK_PORT", "localstack.runtime.main")
SERVICES = (OPENSEARCH, LOCALSTACK)

COMPOSE_NODE_URL = "http://opensearch:9200"
"""The node on the compose network (docker-compose.yml's ``OPENSEARCH_CUSTOM_BACKEND``)."""


def node_url(mode: str, settings: dict[str, str]) -> str:
    """The OpenSearch node's URL as LocalStack and the functions see it: on the host in native
    mode (functions are host processes), on the compose network otherwise (functions are
    containers on it)."""
    if mode == "native":
        return f"http://127.0.0.1:{OPENSEARCH.port(settings)}"
    return COMPOSE_NODE_URL


def http_get_json(url: str, timeout: float = 2.0) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def healthy(service: Service, settings: dict[str, str]) -> bool:
    """True when the service answers its health endpoint on its host port."""
    port = service.port(settings)
    try:
        if service is OPENSEARCH:
            health = http_get_json(f"http://127.0.0.1:{port}/_cluster/health")
            return isinstance(health, dict) and health.get("status") in ("green", "yellow")
        health = http_get_json(f"http://127.0.0.1:{port}/_localstack/health")
        return isinstance(health, dict) and "services" in health
    except (OSError, urllib.error.URLError, ValueError):
        return False


def not_answering(settings: dict[str, str]) -> list[Service]:
    """The services that do not answer (empty when the stack is up)."""
    return [service for service in SERVICES if not healthy(service, settings)]

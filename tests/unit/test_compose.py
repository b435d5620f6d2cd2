"""docker-compose.yml cannot run on machines without a Docker engine (CI's): keep it honest by
checking that it takes every shared setting from stack.env, as the native mode does."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "stack"))
import stackctl  # noqa: E402

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_images_are_pinned_by_the_shared_settings() -> None:
    assert SERVICES["localstack"]["image"] == "localstack/localstack:${LOCALSTACK_VERSION}"
    assert SERVICES["opensearch"]["image"] == "opensearchproject/opensearch:${OPENSEARCH_VERSION}"


def test_localstack_pins_a_version_that_needs_no_auth_token() -> None:
    assert stackctl.load_settings()["LOCALSTACK_VERSION"] == "4.14.0"


def test_localstack_reads_the_shared_settings_file() -> None:
    assert SERVICES["localstack"]["env_file"] == "stack.env"


def test_host_ports_come_from_the_shared_settings_and_bind_to_loopback() -> None:
    ports = {name: service["ports"] for name, service in SERVICES.items()}
    assert ports["localstack"] == ["127.0.0.1:${LOCALSTACK_PORT}:${LOCALSTACK_PORT}"]
    assert ports["opensearch"] == ["127.0.0.1:${OPENSEARCH_PORT}:9200"]


def test_domains_proxy_to_the_opensearch_container() -> None:
    environment = SERVICES["localstack"]["environment"]
    assert environment["OPENSEARCH_CUSTOM_BACKEND"] == "http://opensearch:9200"
    assert "/var/run/docker.sock:/var/run/docker.sock" in SERVICES["localstack"]["volumes"]


def test_every_variable_the_file_uses_is_a_shared_setting() -> None:
    used = set(re.findall(r"\$\{(\w+)", (ROOT / "docker-compose.yml").read_text()))
    assert used - {"COMPOSE_PROJECT_NAME"} <= set(stackctl.load_settings())


def test_opensearch_runs_without_security_and_with_the_shared_heap() -> None:
    environment = SERVICES["opensearch"]["environment"]
    assert environment["DISABLE_SECURITY_PLUGIN"] == "true"
    assert environment["OPENSEARCH_JAVA_OPTS"] == "-Xms${OPENSEARCH_HEAP} -Xmx${OPENSEARCH_HEAP}"
    assert "healthcheck" in SERVICES["opensearch"]

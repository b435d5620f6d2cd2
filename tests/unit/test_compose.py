"""docker-compose.yml cannot run on machines without a Docker engine (CI's): keep it honest by
reading it with the real Compose parser (``docker compose config``, which needs no engine)
and checking what it resolves to against stack.env, the settings the native mode uses.

Where the Compose plugin is missing, ``stackctl.ensure_compose_cli()`` builds the pinned
Compose once (``make test`` does so up front) and caches it outside the repository.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

import stackctl

COMPOSE_FILE = stackctl.ROOT / "docker-compose.yml"
SETTINGS_FILE = stackctl.ROOT / "stack.env"


@pytest.fixture(scope="module")
def settings() -> Iterator[dict[str, str]]:
    """stack.env as written: none of its variables taken from the environment."""
    with pytest.MonkeyPatch.context() as patch:
        for key in [*stackctl.load_settings(), "COMPOSE_PROJECT_NAME"]:
            patch.delenv(key, raising=False)
        yield stackctl.load_settings()


def resolve(**overrides: str) -> tuple[dict[str, Any], str]:
    """``compose config`` as JSON, and Compose's warnings; ``overrides`` go in its environment."""
    argv = [*stackctl.ensure_compose_cli(), "--env-file", str(SETTINGS_FILE)]
    argv += ["-f", str(COMPOSE_FILE), "config", "--format", "json"]
    result = subprocess.run(
        argv,
        env={**os.environ, **overrides},
        cwd=stackctl.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"compose rejected the file:\n{result.stderr}"
    return json.loads(result.stdout), result.stderr


@pytest.fixture(scope="module")
def resolved(settings: dict[str, str]) -> tuple[dict[str, Any], str]:
    return resolve()  # the settings fixture has cleared stack.env's variables


@pytest.fixture(scope="module")
def services(resolved: tuple[dict[str, Any], str]) -> dict[str, Any]:
    return resolved[0]["services"]


def test_the_file_defines_the_two_services_of_the_stack(resolved, services) -> None:
    assert set(services) == {"localstack", "opensearch"}
    assert resolved[0]["name"] == "ddb-opensearch-sync"


def test_every_variable_the_file_uses_is_set(resolved, settings) -> None:
    assert "is not set" not in resolved[1], resolved[1]
    used = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text()))
    assert used - {"COMPOSE_PROJECT_NAME"} <= set(settings)


def test_images_are_pinned_by_the_shared_settings(services, settings) -> None:
    assert services["localstack"]["image"] == (
        f"localstack/localstack:{settings['LOCALSTACK_VERSION']}"
    )
    assert services["opensearch"]["image"] == (
        f"opensearchproject/opensearch:{settings['OPENSEARCH_VERSION']}"
    )


def test_localstack_pins_a_version_that_needs_no_auth_token(settings) -> None:
    assert settings["LOCALSTACK_VERSION"] == "4.14.0"


def test_localstack_gets_every_shared_setting(services, settings) -> None:
    environment = services["localstack"]["environment"]
    assert {k: environment.get(k) for k in settings} == settings


def test_host_ports_come_from_the_shared_settings_and_bind_to_loopback(services, settings):
    ports = {
        name: [(p["host_ip"], p["published"], p["target"]) for p in service["ports"]]
        for name, service in services.items()
    }
    localstack, opensearch = settings["LOCALSTACK_PORT"], settings["OPENSEARCH_PORT"]
    assert ports == {
        "localstack": [("127.0.0.1", localstack, int(localstack))],
        "opensearch": [("127.0.0.1", opensearch, 9200)],
    }
    assert services["localstack"]["environment"]["GATEWAY_LISTEN"] == f"0.0.0.0:{localstack}"


def test_ports_set_in_the_environment_win(settings) -> None:
    config, _ = resolve(LOCALSTACK_PORT="4999", OPENSEARCH_PORT="9299")
    ports = {name: service["ports"][0]["published"] for name, service in config["services"].items()}
    assert ports == {"localstack": "4999", "opensearch": "9299"}


def test_both_services_have_healthchecks_on_their_own_ports(services, settings) -> None:
    localstack = services["localstack"]["healthcheck"]["test"]
    opensearch = services["opensearch"]["healthcheck"]["test"]
    assert localstack[0] == opensearch[0] == "CMD-SHELL"
    assert f"http://localhost:{settings['LOCALSTACK_PORT']}/_localstack/health" in localstack[1]
    assert "http://localhost:9200/_cluster/health" in opensearch[1]
    depends = services["localstack"]["depends_on"]
    assert depends["opensearch"]["condition"] == "service_healthy"


def test_domains_proxy_to_the_opensearch_container(services) -> None:
    environment = services["localstack"]["environment"]
    assert environment["OPENSEARCH_CUSTOM_BACKEND"] == "http://opensearch:9200"
    binds = {(v["source"], v["target"]) for v in services["localstack"]["volumes"]}
    assert ("/var/run/docker.sock", "/var/run/docker.sock") in binds


def test_opensearch_runs_without_security_and_with_the_shared_heap(services, settings) -> None:
    environment = services["opensearch"]["environment"]
    heap = settings["OPENSEARCH_HEAP"]
    assert environment["DISABLE_SECURITY_PLUGIN"] == "true"
    assert environment["OPENSEARCH_JAVA_OPTS"] == f"-Xms{heap} -Xmx{heap}"
    assert environment["cluster.routing.allocation.disk.threshold_enabled"] == "false"

"""Compose mode: ``docker compose`` with the LocalStack and OpenSearch images.

``docker compose`` starts and stops the stack; what we ask the Docker engine (does one answer,
each container's health, its logs) goes through the Docker SDK for Python, not parsed CLI
output.
"""

from __future__ import annotations

import os
import subprocess

import docker
from docker.errors import DockerException
from docker.models.containers import Container

from stackctl.bootstrap import StackError
from stackctl.processes import check_port_free
from stackctl.services import SERVICES, Service
from stackctl.settings import COMPOSE_FILE, SETTINGS_FILE, Paths
from stackctl.toolchain import ensure_compose_cli

# The project name docker-compose.yml gives itself when COMPOSE_PROJECT_NAME is unset.
DEFAULT_PROJECT = "ddb-opensearch-sync"
LOG_LINES = 15


def engine() -> docker.DockerClient:
    """A client of the Docker engine the environment points at; raises when none answers."""
    return docker.from_env(timeout=10)


def engine_answers() -> bool:
    # No socket, a refused connection or an engine error: all mean "no engine to use".
    try:
        return bool(engine().ping())
    except (DockerException, OSError):
        return False


class ComposeStack:
    def __init__(self, settings: dict[str, str], paths: Paths) -> None:
        self.settings = settings
        self.paths = paths
        self.project = os.environ.get("COMPOSE_PROJECT_NAME") or DEFAULT_PROJECT

    def compose(self, *args: str) -> None:
        env = {**os.environ, **self.settings}
        argv = [*ensure_compose_cli(), "-f", str(COMPOSE_FILE), "--env-file", str(SETTINGS_FILE)]
        # Compose's own progress output is worth seeing: not run quietly.
        subprocess.run([*argv, *args], env=env, check=True)

    # -- what the engine says ---------------------------------------------------------------

    def containers(self) -> dict[str, Container]:
        """This project's containers by service name (stopped ones too)."""
        try:
            found = engine().containers.list(
                all=True, filters={"label": f"com.docker.compose.project={self.project}"}
            )
        except (DockerException, OSError) as error:
            raise StackError(f"the Docker engine does not answer ({error})") from None
        return {c.labels.get("com.docker.compose.service", c.name): c for c in found}

    @staticmethod
    def health(container: Container | None) -> str:
        """The healthcheck's verdict, or the container's state when it has none."""
        if container is None:
            return "stopped"
        state = container.attrs.get("State", {})
        return str(state.get("Health", {}).get("Status") or state.get("Status", "unknown"))

    def healthy(self, service: Service) -> bool:
        return self.health(self.containers().get(service.name)) == "healthy"

    def logs_of_unhealthy(self) -> str:
        containers = self.containers()
        parts = []
        for service in SERVICES:
            container = containers.get(service.name)
            if container is not None and self.health(container) != "healthy":
                tail = container.logs(tail=LOG_LINES).decode(errors="replace").strip()
                parts.append(f"--- {service.name} ({self.health(container)}):\n{tail}")
        return "\n".join(parts)

    # -- commands ---------------------------------------------------------------------------

    def up(self) -> None:
        for service in SERVICES:
            if not self.healthy(service):
                check_port_free(service.port(self.settings), service.port_setting)
        self.paths.run.mkdir(parents=True, exist_ok=True)
        self.paths.mode_file.write_text("compose\n")
        try:
            self.compose("up", "--detach", "--wait")
        except subprocess.CalledProcessError:
            raise StackError(
                f"`docker compose up` failed. Last lines of the containers that are not "
                f"healthy:\n{self.logs_of_unhealthy()}"
            ) from None

    def down(self, volumes: bool = False) -> None:
        self.compose("down", *(["--volumes"] if volumes else []))
        self.paths.mode_file.unlink(missing_ok=True)

    def status(self) -> bool:
        containers = self.containers()
        all_ok = True
        for service in SERVICES:
            container = containers.get(service.name)
            health = self.health(container)
            where = f"(container {container.short_id})" if container is not None else ""
            all_ok = all_ok and health == "healthy"
            print(f"{service.name:<11} :{service.port(self.settings):<6} {health}  {where}")
        return all_ok

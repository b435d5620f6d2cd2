"""Native mode: LocalStack as a host process (a Python 3.13 venv with our plugins for DynamoDB
and Lambda) and OpenSearch as a host JVM process built from Maven Central."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from stackctl import services
from stackctl.bootstrap import StackError, say
from stackctl.processes import (
    check_port_free,
    is_ours,
    kill_leftovers,
    log_tail,
    read_pid_file,
    rss_mib,
    running,
    start_service,
    stop_process_group,
    wait_until_wound_down,
)
from stackctl.services import OPENSEARCH, SERVICES, Service
from stackctl.settings import Paths
from stackctl.toolchain import (
    ensure_lambda_runtimes,
    ensure_localstack_venv,
    ensure_opensearch_build,
)

STARTUP_DEADLINE_S = 180.0


class NativeStack:
    def __init__(self, settings: dict[str, str], paths: Paths) -> None:
        self.settings = settings
        self.paths = paths

    # -- state ------------------------------------------------------------------------------

    def pid(self, service: Service) -> int | None:
        """The pid of a running service of ours; clears a stale pid file.

        A process of ours that was killed and is still winding down is waited for (it may
        hold the port and the node's lock files), then counted as gone.
        """
        pid_file = self.paths.pid_file(service.name)
        tracked = read_pid_file(pid_file)
        if tracked is None:
            return None
        if is_ours(tracked, service.marker):
            if running(tracked.pid):
                return tracked.pid
            if not wait_until_wound_down(tracked.pid):
                raise StackError(
                    f"{service.name}: process {tracked.pid} was killed but has not exited "
                    "yet; try again in a moment"
                )
            say(f"{service.name}: process {tracked.pid} has exited; removing its pid file")
        else:
            say(
                f"{service.name}: removing stale pid file (process {tracked.pid} is gone or "
                "not ours)"
            )
        kill_leftovers(tracked)
        pid_file.unlink(missing_ok=True)
        return None

    def healthy(self, service: Service) -> bool:
        return services.healthy(service, self.settings)

    # -- commands ---------------------------------------------------------------------------

    def up(self) -> None:
        to_start = [s for s in SERVICES if self.pid(s) is None]
        for service in to_start:
            check_port_free(service.port(self.settings), service.port_setting)
        if to_start:
            self.prepare()
        started = {service: self.start(service) for service in to_start}
        for service in SERVICES:
            self.wait_healthy(service, started.get(service))

    def prepare(self) -> None:
        for folder in (self.paths.run, self.paths.logs):
            folder.mkdir(parents=True, exist_ok=True)
        self.paths.mode_file.write_text("native\n")
        self.jar = ensure_opensearch_build(self.settings)
        self.localstack_python = ensure_localstack_venv(self.settings)
        self.runtimes = ensure_lambda_runtimes()

    def start(self, service: Service) -> subprocess.Popen[bytes]:
        argv, env = (
            self.opensearch_command() if service is OPENSEARCH else self.localstack_command()
        )
        return start_service(
            service.name,
            argv,
            env,
            self.paths.log_file(service.name),
            self.paths.pid_file(service.name),
            cwd=self.paths.state,
        )

    def opensearch_command(self) -> tuple[list[str], dict[str, str]]:
        heap = self.settings["OPENSEARCH_HEAP"]
        home = self.paths.state / "opensearch"
        argv = [
            "java",
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-Djava.locale.providers=SPI,COMPAT",
            "-jar",
            str(self.jar),
            "--home",
            str(home),
            "--http-port",
            self.settings["OPENSEARCH_PORT"],
            "--host",
            "127.0.0.1",
            "--cluster-name",
            "ddb-opensearch-sync",
        ]
        return argv, dict(os.environ)

    def localstack_command(self) -> tuple[list[str], dict[str, str]]:
        port = self.settings["LOCALSTACK_PORT"]
        tmp = self.paths.state / "localstack" / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.settings, **native_localstack_settings(self.settings)}
        env.update(
            FILESYSTEM_ROOT=str(self.paths.state / "localstack" / "fs"),
            # LocalStack unzips Lambda code into $TMPDIR/lambda: keep it in our state folder.
            TMPDIR=str(tmp),
            LAMBDA_PYTHON_RUNTIMES_DIR=str(self.runtimes),
            GATEWAY_LISTEN=f"127.0.0.1:{port}",
            LOCALSTACK_HOST=f"localhost:{port}",
        )
        return [str(self.localstack_python), "-m", "localstack.runtime.main"], env

    def wait_healthy(self, service: Service, process: subprocess.Popen[bytes] | None) -> None:
        """Wait until ``service`` answers.

        ``process`` is the one this run started: whether it exited is asked of it (its parent),
        not guessed from ``/proc``. A service that was running already and went away meanwhile
        (killed just before `up`) is started once more. A process of ours that does not become
        healthy in time is stopped, never left running untracked.
        """
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while not self.healthy(service):
            if process is not None and process.poll() is not None:
                self.paths.pid_file(service.name).unlink(missing_ok=True)
                raise StackError(
                    f"{service.name} exited during start-up (exit code {process.returncode}). "
                    f"Last lines of {self.log(service)}:\n{log_tail(self.log(service))}"
                )
            if process is None and self.pid(service) is None:
                check_port_free(service.port(self.settings), service.port_setting)
                self.prepare()
                process = self.start(service)
                deadline = time.monotonic() + STARTUP_DEADLINE_S
            if time.monotonic() > deadline:
                if process is not None:
                    stop_process_group(process.pid, service.name)
                    self.paths.pid_file(service.name).unlink(missing_ok=True)
                raise StackError(
                    f"{service.name} not healthy after {STARTUP_DEADLINE_S:.0f} s (stopped); "
                    f"see {self.log(service)}:\n{log_tail(self.log(service))}"
                )
            time.sleep(0.5)

    def log(self, service: Service) -> Path:
        return self.paths.log_file(service.name)

    def down(self) -> None:
        # LocalStack first: it stops Lambda environments that may still talk to OpenSearch.
        for service in reversed(SERVICES):
            pid = self.pid(service)
            if pid is None:
                say(f"{service.name}: not running")
                continue
            stop_process_group(pid, service.name)
            self.paths.pid_file(service.name).unlink(missing_ok=True)
        self.paths.mode_file.unlink(missing_ok=True)

    def status(self) -> bool:
        all_ok = True
        for service in SERVICES:
            pid = self.pid(service)
            port = service.port(self.settings)
            if pid is None:
                state, all_ok = "stopped", False
            elif self.healthy(service):
                state = f"healthy  (pid {pid}, rss {rss_mib(pid)} MiB)"
            else:
                state, all_ok = f"starting or unhealthy (pid {pid})", False
            print(f"{service.name:<11} :{port:<6} {state}")
        return all_ok


def native_localstack_settings(settings: dict[str, str]) -> dict[str, str]:
    """Settings only the native mode needs (compose sets its own in docker-compose.yml)."""
    return {
        # These machines carry Docker's marker file at /; LocalStack must not believe it.
        "OVERRIDE_IN_DOCKER": "0",
        "DNS_ADDRESS": "0",
        "PROVIDER_OVERRIDE_DYNAMODB": "moto",
        "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": "moto",
        "LAMBDA_RUNTIME_EXECUTOR": "process",
        # The stock twisted server ignores GATEWAY_LISTEN's IPv4 host and listens on 0.0.0.0;
        # ours binds it (and only loopback): functions run as host processes here.
        "GATEWAY_SERVER": "twisted-loopback",
        "OPENSEARCH_CUSTOM_BACKEND": services.node_url("native", settings),
    }

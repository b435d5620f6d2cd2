"""Native mode: LocalStack as a host process (a Python 3.13 venv with our plugins for DynamoDB
and Lambda) and OpenSearch as a host JVM process built from Maven Central."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from stackctl import services
from stackctl.bootstrap import StackError, say, shown
from stackctl.processes import (
    check_port_free,
    log_tail,
    process_alive,
    read_pid,
    rss_mib,
    stop_process_group,
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
        """The pid of a running service of ours; clears a stale pid file."""
        pid_file = self.paths.pid_file(service.name)
        pid = read_pid(pid_file)
        if pid is None:
            return None
        if process_alive(pid, service.marker):
            return pid
        say(f"{service.name}: removing stale pid file (process {pid} is gone or not ours)")
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
        for service in to_start:
            self.start(service)
        for service in SERVICES:
            self.wait_healthy(service)

    def prepare(self) -> None:
        for folder in (self.paths.run, self.paths.logs):
            folder.mkdir(parents=True, exist_ok=True)
        self.paths.mode_file.write_text("native\n")
        self.jar = ensure_opensearch_build(self.settings)
        self.localstack_python = ensure_localstack_venv(self.settings)
        self.runtimes = ensure_lambda_runtimes()

    def start(self, service: Service) -> None:
        argv, env = (
            self.opensearch_command() if service is OPENSEARCH else self.localstack_command()
        )
        log = self.paths.log_file(service.name)
        with log.open("ab") as out:
            out.write(f"\n=== started {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
            out.flush()
            # A session of its own: `down` signals the whole process group, children included.
            process = subprocess.Popen(
                argv,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.paths.state,
                start_new_session=True,
            )
        self.paths.pid_file(service.name).write_text(f"{process.pid}\n")
        say(f"{service.name}: started (pid {process.pid}, log {shown(log)})")

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

    def wait_healthy(self, service: Service) -> None:
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while not self.healthy(service):
            if self.pid(service) is None:
                raise StackError(
                    f"{service.name} exited during start-up. Last lines of "
                    f"{self.log(service)}:\n{log_tail(self.log(service))}"
                )
            if time.monotonic() > deadline:
                raise StackError(
                    f"{service.name} not healthy after {STARTUP_DEADLINE_S:.0f} s; see "
                    f"{self.log(service)}:\n{log_tail(self.log(service))}"
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
        "OPENSEARCH_CUSTOM_BACKEND": f"http://127.0.0.1:{settings['OPENSEARCH_PORT']}",
    }

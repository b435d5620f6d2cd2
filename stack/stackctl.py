#!/usr/bin/env python3
"""Bring the local stack up and down: LocalStack plus a real OpenSearch node.

Two modes serve the same ports with the same settings (``stack.env``):

``native``
    LocalStack 4.14.0 as a host process (a Python 3.13 venv with our plugins for DynamoDB
    and Lambda) and OpenSearch as a host JVM process built from Maven Central.
``compose``
    ``docker compose`` with the LocalStack and OpenSearch images.

``up`` picks ``compose`` when a Docker engine answers and ``native`` otherwise; ``STACK=...``
overrides. Every command is idempotent. Processes are tracked by pid files under the state
folder, never found by name, so two clones of the project (with different ports) can run side
by side and ``down`` stops exactly what ``up`` started.

Only the standard library is used: this script creates the virtualenvs everything else runs in.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = ROOT / "stack.env"
VENV_DIR = ROOT / ".venv"
OPENSEARCH_PROJECT = ROOT / "stack" / "opensearch-node"
PLUGINS_PROJECT = ROOT / "stack" / "localstack-plugins"
LOCALSTACK_REQUIREMENTS = ROOT / "stack" / "localstack-requirements.txt"
RUNTIME_REQUIREMENTS = ROOT / "stack" / "lambda-runtime-requirements.txt"
COMPOSE_FILE = ROOT / "docker-compose.yml"

# Python versions: LocalStack 4.14.0 does not import on 3.11/3.12 despite its metadata.
LOCALSTACK_PYTHON = "3.13"
TOOLS_PYTHONS = ("3.12", "3.13", "3.11")  # 3.12 first: it is the Lambda runtime's version
LAMBDA_RUNTIME_PYTHONS = ("3.12",)
CHECKOV_VERSION = "3.3.30"  # runtimes the functions may declare (python3.x)

STARTUP_DEADLINE_S = 180.0
STOP_DEADLINE_S = 30.0


class StackError(Exception):
    """A problem the user can fix; the message names the fix."""


# --------------------------------------------------------------------------------------------
# Settings and paths
# --------------------------------------------------------------------------------------------


def load_settings() -> dict[str, str]:
    """Read ``stack.env``; a variable already set in the environment wins."""
    settings: dict[str, str] = {}
    for line in SETTINGS_FILE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise StackError(f"{SETTINGS_FILE}: not KEY=VALUE: {line!r}")
        settings[key.strip()] = os.environ.get(key.strip(), value.strip())
    return settings


@dataclass(frozen=True)
class Paths:
    """Everything a running stack writes lives under one state folder."""

    state: Path

    @classmethod
    def from_env(cls) -> Paths:
        return cls(Path(os.environ.get("STACK_STATE_DIR", ROOT / ".state")).resolve())

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def mode_file(self) -> Path:
        return self.run / "mode"

    def pid_file(self, service: str) -> Path:
        return self.run / f"{service}.pid"

    def log_file(self, service: str) -> Path:
        return self.logs / f"{service}.log"


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def say(message: str) -> None:
    print(f"stack: {message}", flush=True)


def shown(path: Path) -> str:
    """A path as short as it can be said: relative to the project when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run(argv: list[str], **kwargs: Any) -> None:
    """Run a set-up step quietly; when it fails, show the end of its output and the command."""
    result = subprocess.run(argv, text=True, capture_output=True, check=False, **kwargs)
    if result.returncode != 0:
        output = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
        raise StackError(f"`{' '.join(argv)}` failed with exit code {result.returncode}:\n{output}")


def digest(*items: Path | str) -> str:
    """A stamp of the inputs of an install step, so that it reruns only when they change."""
    h = hashlib.sha256()
    for item in items:
        if isinstance(item, Path):
            files = sorted(p for p in item.rglob("*") if p.is_file()) if item.is_dir() else [item]
            for f in files:
                if "__pycache__" in f.parts or "target" in f.parts or ".egg-info" in str(f):
                    continue
                h.update(str(f.relative_to(ROOT)).encode())
                h.update(f.read_bytes())
        else:
            h.update(item.encode())
    return h.hexdigest()


def up_to_date(stamp: Path, key: str) -> bool:
    return stamp.exists() and stamp.read_text() == key


def http_get_json(url: str, timeout: float = 2.0) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


# --------------------------------------------------------------------------------------------
# Toolchain: pythons, virtualenvs, the OpenSearch launcher build
# --------------------------------------------------------------------------------------------


def python_version_of(executable: str) -> str | None:
    try:
        out = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def find_python(version: str) -> str | None:
    """Find a working ``python<version>``: on PATH, or installed by pyenv but not selected."""
    candidates = [shutil.which(f"python{version}") or ""]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    # pyenv's shim exists even when the version is not selected; look at its versions directly.
    candidates += sorted(
        (str(p) for p in pyenv_root.glob(f"versions/{version}.*/bin/python{version}")),
        key=lambda p: [int(x) for x in re.findall(r"\d+", Path(p).parts[-3])],
        reverse=True,
    )
    candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    for candidate in candidates:
        if candidate and python_version_of(candidate) == version:
            return candidate
    return None


def require_python(version: str, why: str) -> str:
    python = find_python(version)
    if python is None:
        raise StackError(
            f"Python {version} not found ({why}). Install it, e.g. `pyenv install {version}` "
            f"or `apt-get install python{version}`, then rerun."
        )
    return python


def ensure_venv(venv: Path, python: str, pip_args: list[str], inputs: list[Path | str]) -> Path:
    """Create or refresh a virtualenv; skip all work when its inputs have not changed."""
    stamp = venv / ".installed"
    key = digest(python, *pip_args, *inputs)
    if up_to_date(stamp, key):
        return venv / "bin" / "python"
    say(f"installing {shown(venv)} (first run takes a minute) ...")
    if not (venv / "bin" / "python").exists():
        run([python, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *pip_args], cwd=ROOT)
    stamp.write_text(key)
    return venv / "bin" / "python"


def ensure_tools_venv() -> Path:
    """The project's own venv: tests, Terraform wrapper, demo, CLI."""
    python = next((p for v in TOOLS_PYTHONS if (p := find_python(v))), None)
    if python is None:
        raise StackError("Python 3.11+ not found. Install one (e.g. `pyenv install 3.12`).")
    return ensure_venv(
        VENV_DIR / "tools", python, ["-e", ".[dev,bench]"], [ROOT / "pyproject.toml"]
    )


def ensure_checkov_venv() -> Path:
    """Checkov in a venv of its own: its many pinned dependencies stay out of the tools venv."""
    python = next((p for v in TOOLS_PYTHONS if (p := find_python(v))), None)
    if python is None:
        raise StackError("Python 3.11+ not found. Install one (e.g. `pyenv install 3.12`).")
    return ensure_venv(VENV_DIR / "checkov", python, [f"checkov=={CHECKOV_VERSION}"], [])


def ensure_localstack_venv(settings: dict[str, str]) -> Path:
    python = require_python(LOCALSTACK_PYTHON, "LocalStack 4.14.0 needs it")
    return ensure_venv(
        VENV_DIR / "localstack",
        python,
        [
            f"localstack-core[runtime]=={settings['LOCALSTACK_VERSION']}",
            "-r",
            str(LOCALSTACK_REQUIREMENTS),
            "-e",
            str(PLUGINS_PROJECT),
        ],
        [LOCALSTACK_REQUIREMENTS, PLUGINS_PROJECT / "pyproject.toml"],
    )


def ensure_lambda_runtimes() -> Path:
    """One venv per python Lambda runtime, with what AWS's runtime brings (boto3)."""
    runtimes = VENV_DIR / "runtimes"
    for version in LAMBDA_RUNTIME_PYTHONS:
        python = find_python(version)
        if python is None:
            say(
                f"warning: no Python {version}: python{version} functions will run on "
                f"LocalStack's own Python {LOCALSTACK_PYTHON}"
            )
            continue
        ensure_venv(
            runtimes / f"python{version}",
            python,
            ["-r", str(RUNTIME_REQUIREMENTS)],
            [RUNTIME_REQUIREMENTS],
        )
    return runtimes


def java_major() -> int | None:
    java = shutil.which("java")
    if java is None:
        return None
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)', out.stderr)
    return int(match.group(1)) if match else None


def ensure_opensearch_build(settings: dict[str, str]) -> Path:
    """Build the OpenSearch launcher jar (Maven resolves OpenSearch from Maven Central)."""
    major = java_major()
    if major is None or major < 17:
        raise StackError("Java 17+ not found: install it (e.g. `apt-get install openjdk-17-jdk`).")
    if shutil.which("mvn") is None:
        raise StackError("Maven not found: install it (e.g. `apt-get install maven`).")
    jar = OPENSEARCH_PROJECT / "target" / "opensearch-node.jar"
    stamp = OPENSEARCH_PROJECT / "target" / ".built"
    version = settings["OPENSEARCH_VERSION"]
    key = digest(version, OPENSEARCH_PROJECT / "pom.xml", OPENSEARCH_PROJECT / "src")
    if jar.exists() and up_to_date(stamp, key):
        return jar
    say(f"building the OpenSearch {version} node with Maven (first run takes a few minutes) ...")
    run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(OPENSEARCH_PROJECT / "pom.xml"),
            "package",
            "-DskipTests",
            f"-Dopensearch.version={version}",
        ]
    )
    stamp.write_text(key)
    return jar


def terraform_cli_config(paths: Paths) -> Path:
    """A Terraform CLI config that installs hashicorp/aws from a local mirror when there is one.

    Offline machines carry the provider in a filesystem mirror; Terraform only uses it when a
    CLI config says so.
    """
    mirrors = [
        os.environ.get("TF_PROVIDER_MIRROR", ""),
        "/opt/tf-plugins",
        str(Path.home() / ".terraform.d" / "plugins"),
        "/usr/share/terraform/plugins",
    ]
    mirror = next(
        (
            m
            for m in mirrors
            if m
            and any(Path(m).glob("registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*"))
        ),
        None,
    )
    config = paths.state / "terraformrc"
    config.parent.mkdir(parents=True, exist_ok=True)
    if mirror is None:
        config.write_text("")  # online: the registry as usual
    else:
        config.write_text(
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path    = "{mirror}"\n'
            '    include = ["registry.terraform.io/hashicorp/*"]\n  }\n'
            '  direct {\n    exclude = ["registry.terraform.io/hashicorp/*"]\n  }\n}\n'
        )
    return config


# --------------------------------------------------------------------------------------------
# Ports and processes
# --------------------------------------------------------------------------------------------


def port_owner(port: int) -> str:
    """Describe the process listening on a TCP port, from /proc (no extra tools needed)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                inodes.add(fields[9])
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    return f"pid {proc.name}: {cmd[:160].strip()}"
        except OSError:
            continue
    return "another process"


def check_port_free(port: int, setting: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: connections lingering in TIME_WAIT do not make a port taken; a listener
        # still does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise StackError(
                f"port {port} is taken by {port_owner(port)}. Stop that process (if it is "
                f"another stack: `make down` in its folder), or set {setting}=<free port>."
            ) from None


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def process_alive(pid: int, marker: str) -> bool:
    """True when ``pid`` runs and is the process we started (its command line has ``marker``).

    The marker guards against a stale pid file whose number the kernel gave to another process.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return marker in cmdline and "\nState:\tZ" not in status


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------------------------
# Native mode
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    name: str
    port_setting: str
    marker: str  # a string in the process's command line that identifies it as ours

    def port(self, settings: dict[str, str]) -> int:
        return int(settings[self.port_setting])


OPENSEARCH = Service("opensearch", "OPENSEARCH_PORT", "opensearch-node.jar")
LOCALSTACK = Service("localstack", "LOCALSTACK_PORT", "localstack.runtime.main")
SERVICES = (OPENSEARCH, LOCALSTACK)


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
        port = service.port(self.settings)
        try:
            if service is OPENSEARCH:
                health = http_get_json(f"http://127.0.0.1:{port}/_cluster/health")
                return isinstance(health, dict) and health.get("status") in ("green", "yellow")
            health = http_get_json(f"http://127.0.0.1:{port}/_localstack/health")
            return isinstance(health, dict) and "services" in health
        except (OSError, urllib.error.URLError, ValueError):
            return False

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
        if service is LOCALSTACK:
            forget_deployment(self.paths)
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
                    f"{self.paths.log_file(service.name)}:\n"
                    f"{log_tail(self.paths.log_file(service.name))}"
                )
            if time.monotonic() > deadline:
                raise StackError(
                    f"{service.name} not healthy after {STARTUP_DEADLINE_S:.0f} s; see "
                    f"{self.paths.log_file(service.name)}:\n"
                    f"{log_tail(self.paths.log_file(service.name))}"
                )
            time.sleep(0.5)

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


def forget_deployment(paths: Paths) -> None:
    """A fresh native LocalStack holds no resources: drop the state that described them."""
    for stale in [paths.state / "deploy.env", *(paths.state / "terraform").glob("*.tfstate*")]:
        stale.unlink(missing_ok=True)


def native_localstack_settings(settings: dict[str, str]) -> dict[str, str]:
    """Settings only the native mode needs (compose sets its own in docker-compose.yml)."""
    return {
        # These machines carry Docker's marker file at /; LocalStack must not believe it.
        "OVERRIDE_IN_DOCKER": "0",
        "DNS_ADDRESS": "0",
        "PROVIDER_OVERRIDE_DYNAMODB": "moto",
        "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": "moto",
        "LAMBDA_RUNTIME_EXECUTOR": "process",
        "OPENSEARCH_CUSTOM_BACKEND": f"http://127.0.0.1:{settings['OPENSEARCH_PORT']}",
    }


def stop_process_group(pid: int, name: str) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_DEADLINE_S
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or "\nState:\tZ" in _status(pid):
            say(f"{name}: stopped")
            return
        time.sleep(0.2)
    say(f"{name}: did not stop within {STOP_DEADLINE_S:.0f} s, killing it")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ""


def rss_mib(pid: int) -> int:
    """Resident memory of a process and its children (LocalStack's Lambda runtimes count)."""
    total_kib = 0
    for proc in [pid, *children_of(pid)]:
        match = re.search(r"VmRSS:\s+(\d+)", _status(proc))
        total_kib += int(match.group(1)) if match else 0
    return total_kib // 1024


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *children_of(kid)]
    return found


# --------------------------------------------------------------------------------------------
# Compose mode
# --------------------------------------------------------------------------------------------


class ComposeStack:
    def __init__(self, settings: dict[str, str], paths: Paths) -> None:
        self.settings = settings
        self.paths = paths

    def compose(self, *args: str) -> None:
        env = {**os.environ, **self.settings}
        # Compose's own progress output is worth seeing: not run() quietly.
        subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE_FILE), "--env-file", str(SETTINGS_FILE), *args],
            env=env,
            check=True,
        )

    def up(self) -> None:
        for service in SERVICES:
            if not self.healthy(service):
                check_port_free(service.port(self.settings), service.port_setting)
        self.paths.run.mkdir(parents=True, exist_ok=True)
        self.paths.mode_file.write_text("compose\n")
        self.compose("up", "--detach", "--wait")

    def healthy(self, service: Service) -> bool:
        return NativeStack(self.settings, self.paths).healthy(service)

    def down(self, volumes: bool = False) -> None:
        self.compose("down", *(["--volumes"] if volumes else []))
        self.paths.mode_file.unlink(missing_ok=True)

    def status(self) -> bool:
        self.compose("ps")
        return all(self.healthy(s) for s in SERVICES)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return (
            subprocess.run(
                ["docker", "info"], capture_output=True, timeout=10, check=False
            ).returncode
            == 0
        )
    except subprocess.TimeoutExpired:
        return False


def chosen_mode(paths: Paths, for_up: bool) -> str:
    """STACK wins; else the mode that is up; else (for `up`) compose if Docker answers."""
    requested = os.environ.get("STACK", "").strip()
    if requested and requested not in ("native", "compose"):
        raise StackError(f"STACK={requested!r}: use STACK=native or STACK=compose.")
    if requested:
        return requested
    if paths.mode_file.exists():
        return paths.mode_file.read_text().strip()
    if for_up:
        return "compose" if docker_engine_answers() else "native"
    return "native"


def make_stack(mode: str, settings: dict[str, str], paths: Paths) -> NativeStack | ComposeStack:
    return NativeStack(settings, paths) if mode == "native" else ComposeStack(settings, paths)


def env_values(settings: dict[str, str], paths: Paths, mode: str) -> dict[str, str]:
    """Settings for tools and tests; the deployed names too once `make deploy` ran."""
    values = {
        "STACK_MODE": mode,
        "AWS_ENDPOINT_URL": f"http://localhost:{settings['LOCALSTACK_PORT']}",
        "OPENSEARCH_URL": f"http://localhost:{settings['OPENSEARCH_PORT']}",
        "AWS_DEFAULT_REGION": settings["AWS_DEFAULT_REGION"],
        # LocalStack accepts any credentials; fixed ones keep boto3 from looking elsewhere.
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "TF_CLI_CONFIG_FILE": str(terraform_cli_config(paths)),
    }
    deployed = paths.state / "deploy.env"
    if deployed.exists():
        for line in deployed.read_text().splitlines():
            key, _, value = line.partition("=")
            if key:
                values[key] = value
    return values


def print_env(settings: dict[str, str], paths: Paths, mode: str) -> None:
    for key, value in env_values(settings, paths, mode).items():
        print(f"export {key}={shlex.quote(value)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "command", choices=["up", "down", "status", "env", "clean", "tools", "python"]
    )
    parser.add_argument("--quiet", action="store_true", help="status: exit code only")
    args = parser.parse_args(argv)
    paths = Paths.from_env()
    try:
        settings = load_settings()
        if args.command == "tools":
            ensure_tools_venv()
            ensure_checkov_venv()
            return 0
        if args.command == "python":
            print(ensure_tools_venv())
            return 0
        mode = chosen_mode(paths, for_up=args.command == "up")
        stack = make_stack(mode, settings, paths)
        if args.command == "up":
            say(f"mode {mode} (set STACK=native|compose to choose)")
            stack.up()
            say("up:")
            stack.status()
        elif args.command == "down":
            stack.down()
        elif args.command == "clean":
            stack.down(volumes=True) if isinstance(stack, ComposeStack) else stack.down()
            shutil.rmtree(paths.state, ignore_errors=True)
            say(f"removed {paths.state}")
        elif args.command == "status":
            if args.quiet:
                return 0 if all(stack.healthy(s) for s in SERVICES) else 1
            return 0 if stack.status() else 1
        elif args.command == "env":
            print_env(settings, paths, mode)
    except StackError as error:
        print(f"stack: error: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(
            f"stack: error: `{' '.join(map(str, error.cmd))}` failed with exit code "
            f"{error.returncode}; its output is above.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the stack needs installed: virtualenvs, the OpenSearch node's Maven build, checkov,
Terraform's CLI configuration, the Compose CLI and Chromium (the console's browser test).

Each step stamps its inputs and does nothing while they are unchanged.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from stackctl.bootstrap import (
    ROOT,
    VENV_DIR,
    StackError,
    digest,
    ensure_venv,
    find_python,
    require_python,
    run,
    say,
    tools_python,
    up_to_date,
)

OPENSEARCH_PROJECT = ROOT / "stack" / "opensearch-node"
PLUGINS_PROJECT = ROOT / "stack" / "localstack-plugins"
LOCALSTACK_REQUIREMENTS = ROOT / "stack" / "localstack-requirements.txt"
RUNTIME_REQUIREMENTS = ROOT / "stack" / "lambda-runtime-requirements.txt"

# LocalStack 4.14.0 does not import on 3.11/3.12 despite its metadata.
LOCALSTACK_PYTHON = "3.13"
LAMBDA_RUNTIME_PYTHONS = ("3.12",)  # runtimes the functions may declare (python3.x)
CHECKOV_VERSION = "3.3.30"

COMPOSE_VERSION = "v2.29.7"
GO = "/usr/local/go/bin/go"
# The console's browser test drives Debian's Chromium: Playwright's own browser download is not
# reachable here, Debian's package is.
CHROMIUM = Path("/usr/bin/chromium")
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ddb-opensearch-sync"


def ensure_checkov_venv() -> Path:
    """Checkov in a venv of its own: its many pinned dependencies stay out of the tools venv."""
    return ensure_venv(VENV_DIR / "checkov", tools_python(), [f"checkov=={CHECKOV_VERSION}"], [])


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


def terraform_cli_config(config: Path) -> Path:
    """Write a Terraform CLI config that installs hashicorp/aws from a local mirror when there
    is one; returns its path.

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


def docker_compose_plugin() -> bool:
    """True when ``docker compose`` (the CLI plugin) is installed."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def ensure_compose_cli() -> list[str]:
    """The command that runs Docker Compose v2: ``docker compose`` when the plugin is there,
    else a standalone build of the pinned version, made once from the Go module proxy.

    The build and Go's caches live under ``~/.cache/ddb-opensearch-sync/``, outside the repo;
    Compose parses and resolves a file (``config``) without a Docker engine.
    """
    if docker_compose_plugin():
        return ["docker", "compose"]
    folder = CACHE_DIR / "compose" / COMPOSE_VERSION
    binary = folder / "docker-compose"
    if binary.exists():
        return [str(binary)]
    go = shutil.which("go") or GO
    if not Path(go).exists():
        raise StackError(
            "neither `docker compose` nor Go found: install the Compose plugin or Go "
            "(https://go.dev/dl/), which builds it once"
        )
    say(f"building Docker Compose {COMPOSE_VERSION} with Go (once, about 2 minutes) ...")
    gobin = folder / "gobin"
    folder.mkdir(parents=True, exist_ok=True)
    run(
        [
            go,
            "install",
            # What `docker compose version` reports; `go install` alone leaves "dev".
            f"-ldflags=-X github.com/docker/compose/v2/internal.Version={COMPOSE_VERSION}",
            f"github.com/docker/compose/v2/cmd@{COMPOSE_VERSION}",
        ],
        cwd=CACHE_DIR,
        env={
            **os.environ,
            "GOBIN": str(gobin),
            "GOPATH": str(CACHE_DIR / "go"),
            "GOCACHE": str(CACHE_DIR / "go" / "cache"),
            "GOFLAGS": "-modcacherw",  # a module cache that `rm -rf` can delete
        },
    )
    (gobin / "cmd").rename(binary)  # go names the binary after the package folder
    gobin.rmdir()
    return [str(binary)]


def ensure_chromium() -> Path:
    """Debian's Chromium, installed with apt when missing (the browser test drives it).

    Idempotent: nothing happens when ``/usr/bin/chromium`` is there. apt needs root; anyone
    else is told the one command to run.
    """
    if CHROMIUM.exists():
        return CHROMIUM
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise StackError(
            f"Chromium not found at {CHROMIUM} (the console's browser test needs it): run "
            f"`sudo {' '.join(install)}` (Debian's package), then rerun."
        )
    say("installing Chromium from Debian's packages (once, about a minute) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        run(install, env=env)
    except StackError:
        # A fresh machine may have no package lists yet: fetch them, then try once more.
        run(["apt-get", "update"], env=env)
        run(install, env=env)
    return CHROMIUM

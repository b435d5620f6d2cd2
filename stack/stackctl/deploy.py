"""Deploy the system to the running local stack, or destroy it.

``apply``: build the two function zips, apply ``infra/envs/local`` with ``tflocal``, create the
search index and its alias, and record the deployed names (``deployed_values()``, which
``make env`` prints). ``destroy``: the reverse. ``plan``: show what ``apply`` would change.

The deployment owns its files, all under ``<state>/deploy/``: Terraform's state and data
folder, its CLI configuration, the deployed names, and the LocalStack instance they describe.
LocalStack keeps nothing across a restart, and each run of it has a session id of its own
(``/_localstack/info``). A deployment recorded against another session is stale: its
resources are gone, so the next run starts from an empty Terraform state and empties the
index, and ``deployed_values()`` reports nothing for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from stackctl.bootstrap import ROOT, StackError
from stackctl.services import LOCALSTACK, http_get_json, node_url, not_answering
from stackctl.settings import Paths
from stackctl.toolchain import terraform_cli_config

LOCAL_ROOT = ROOT / "infra" / "envs" / "local"
FUNCTIONS = ("sync", "search")  # one zip each: scripts/build_lambda.py --function <name>
TFLOCAL = Path(sys.executable).parent / "tflocal"
CLI = Path(sys.executable).parent / "ddb-opensearch-sync"

# The local root's outputs; `make env` prints each as the same name upper-cased.
OUTPUTS = (
    "api_url",
    "table_name",
    "table_stream_arn",
    "index_alias",
    "opensearch_endpoint",
    "sync_function_name",
    "search_function_name",
    "dlq_url",
)
DEPLOYED_NAMES = tuple(name.upper() for name in OUTPUTS)

# Lines of Terraform's output worth showing as progress; everything goes to the log.
PROGRESS = re.compile(
    r"(complete after|Apply complete|Destroy complete|No changes|Plan:|Error|Warning)"
)


def say(message: str) -> None:
    print(f"deploy: {message}", flush=True)


@dataclass(frozen=True)
class DeployFiles:
    """The deployment's own files: all under ``<state>/deploy/``, but for its log."""

    folder: Path
    tfstate: Path
    tf_data: Path  # Terraform's data folder (TF_DATA_DIR)
    values: Path  # the deployed names, as JSON
    session: Path  # the session id of the LocalStack deployed to
    log: Path

    @classmethod
    def of(cls, paths: Paths) -> DeployFiles:
        folder = paths.state / "deploy"
        return cls(
            folder=folder,
            tfstate=folder / "local.tfstate",
            tf_data=folder / "terraform",
            values=folder / "values.json",
            session=folder / "localstack-session",
            log=paths.log_file("deploy"),
        )


# ---------------------------------------------------------------------------------------------
# Which LocalStack a deployment belongs to
# ---------------------------------------------------------------------------------------------


def localstack_session(settings: dict[str, str]) -> str | None:
    """The session id of the running LocalStack (new on every start); None when it is down."""
    url = f"http://127.0.0.1:{LOCALSTACK.port(settings)}/_localstack/info"
    try:
        info = http_get_json(url)
    except (OSError, urllib.error.URLError, ValueError):
        return None
    session = info.get("session_id") if isinstance(info, dict) else None
    return str(session) if session else None


def recorded_session(files: DeployFiles) -> str | None:
    try:
        return files.session.read_text().strip() or None
    except OSError:
        return None


def forget_if_stale(files: DeployFiles, session: str) -> None:
    """Drop the state of a deployment made to an earlier LocalStack; record the current one."""
    if recorded_session(files) == session:
        return
    if files.tfstate.exists():
        say("LocalStack was restarted since the last deploy: starting from an empty state")
    for stale in [files.values, *files.folder.glob("local.tfstate*")]:
        stale.unlink(missing_ok=True)
    files.folder.mkdir(parents=True, exist_ok=True)
    files.session.write_text(f"{session}\n")


def deployed_values(settings: dict[str, str], paths: Paths) -> dict[str, str]:
    """The deployed names (API_URL, TABLE_NAME, ...); empty when nothing current is deployed.

    When LocalStack does not answer, the last deployment's names are returned as they are.
    """
    files = DeployFiles.of(paths)
    try:
        values = json.loads(files.values.read_text())
    except (OSError, ValueError):
        return {}
    session = localstack_session(settings)
    if session is not None and session != recorded_session(files):
        return {}
    return {str(k): str(v) for k, v in values.items()}


# ---------------------------------------------------------------------------------------------
# Terraform
# ---------------------------------------------------------------------------------------------


# What tflocal needs on this machine, for deploy and for the tests' own plans alike.
TFLOCAL_ENV = {
    "DISABLE_DEPRECATION_NOTICE": "1",  # tflocal's banner
    # S3 at the gateway's own host: tflocal then uses path-style requests, which need no
    # DNS for <bucket>.s3.localhost.localstack.cloud (absent here).
    "S3_HOSTNAME": "localhost",
}


def terraform_env(settings: dict[str, str], files: DeployFiles, mode: str) -> dict[str, str]:
    # tflocal takes any <SERVICE>_ENDPOINT variable as that service's endpoint, so the
    # OPENSEARCH_ENDPOINT that `make env` exports would send Terraform's OpenSearch API calls
    # to the domain itself: drop the deployed names from Terraform's environment.
    inherited = {k: v for k, v in os.environ.items() if k not in DEPLOYED_NAMES}
    endpoint = f"http://localhost:{settings['LOCALSTACK_PORT']}"
    return {
        **inherited,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": settings["AWS_DEFAULT_REGION"],
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "TF_CLI_CONFIG_FILE": str(terraform_cli_config(files.folder / "terraformrc")),
        "TF_DATA_DIR": str(files.tf_data),
        "TF_IN_AUTOMATION": "1",
        **TFLOCAL_ENV,
        # The zip paths are inputs of the local root; absolute paths keep -chdir simple.
        **{f"TF_VAR_{f}_function_zip_path": str(function_zip(f)) for f in FUNCTIONS},
        "TF_VAR_localstack_endpoint": endpoint,
        # The functions write to the node itself, not through LocalStack's domain proxy.
        "TF_VAR_opensearch_node_url": node_url(mode, settings),
    }


def terraform(env: dict[str, str], *args: str, log: Path | None = None) -> str:
    """Run tflocal on the local root; with ``log``, keep the full output there, show progress.

    Standard error is left alone, so Terraform's errors always reach the terminal.
    """
    argv = [str(TFLOCAL), f"-chdir={LOCAL_ROOT}", *args]
    result = subprocess.run(argv, env=env, text=True, check=False, stdout=subprocess.PIPE)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(result.stdout)
        for line in result.stdout.splitlines():
            if PROGRESS.search(line):
                print(f"  {line.strip()}", flush=True)
    if result.returncode != 0:
        where = f"; full output in {log}" if log else ""
        raise StackError(f"`tflocal {' '.join(args)}` failed{where}")
    return result.stdout


def init(env: dict[str, str], files: DeployFiles) -> None:
    files.folder.mkdir(parents=True, exist_ok=True)
    terraform(
        env,
        "init",
        "-input=false",
        "-no-color",
        "-reconfigure",
        f"-backend-config=path={files.tfstate}",
    )


@contextlib.contextmanager
def root_lock() -> Iterator[None]:
    """Serialise Terraform runs on the local root across stacks of this clone.

    tflocal writes its provider override file into the root folder, so two deploys at once
    (e.g. a second stack with its own STACK_STATE_DIR) would trip over each other's file.
    """
    with (LOCAL_ROOT / ".deploy.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# ---------------------------------------------------------------------------------------------
# The function zip and the index
# ---------------------------------------------------------------------------------------------


def function_zip(function: str) -> Path:
    return ROOT / "build" / f"{function}-function.zip"


def build_functions() -> None:
    for function in FUNCTIONS:
        build = [sys.executable, str(ROOT / "scripts" / "build_lambda.py")]
        # --out: the path Terraform is given (function_zip) is the one built.
        subprocess.run(
            [*build, "--function", function, "--out", str(function_zip(function))], check=True
        )


def setup_index(values: dict[str, str]) -> None:
    result = subprocess.run(
        [
            str(CLI),
            "setup-index",
            "--endpoint",
            values["OPENSEARCH_ENDPOINT"],
            "--alias",
            values["INDEX_ALIAS"],
            "--auth",
            "none",
        ],
        check=False,
    )
    if result.returncode != 0:
        # setup-index said why on stderr (e.g. an index with an outdated mapping: reindex).
        raise StackError(f"setup-index exited with {result.returncode} (see above)")


def reset_index(values: dict[str, str]) -> None:
    """Empty the index of a deployment made from scratch.

    On AWS a new deployment gets a new, empty domain. Locally every domain proxies to the one
    long-lived OpenSearch node, whose data outlives LocalStack (which keeps nothing across a
    restart): without this, documents of a table that no longer exists would stay searchable.
    """
    endpoint = values["OPENSEARCH_ENDPOINT"].rstrip("/")
    try:
        aliased = http_get_json(f"{endpoint}/_alias/{values['INDEX_ALIAS']}", timeout=30)
    except urllib.error.HTTPError as error:
        if error.code == 404:  # no such alias: nothing to empty
            return
        raise
    indices = sorted(aliased) if isinstance(aliased, dict) else []
    if indices:
        say(f"fresh deployment: emptying {', '.join(indices)} (left from an earlier stack)")
        request = urllib.request.Request(f"{endpoint}/{','.join(indices)}", method="DELETE")
        with urllib.request.urlopen(request, timeout=60):
            pass


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


def apply(env: dict[str, str], files: DeployFiles) -> None:
    began = time.monotonic()
    build_functions()
    fresh = not files.tfstate.exists()
    init(env, files)
    terraform(env, "apply", "-input=false", "-auto-approve", "-no-color", log=files.log)
    outputs = json.loads(terraform(env, "output", "-json"))
    values = {name.upper(): str(outputs[name]["value"]) for name in OUTPUTS if name in outputs}
    files.values.write_text(json.dumps(values, indent=2) + "\n")
    if fresh:
        reset_index(values)
    setup_index(values)
    say(f"done in {time.monotonic() - began:.0f} s")
    for key, value in values.items():
        print(f"  {key}={value}")


def destroy(env: dict[str, str], files: DeployFiles) -> None:
    init(env, files)
    terraform(env, "destroy", "-input=false", "-auto-approve", "-no-color", log=files.log)
    files.values.unlink(missing_ok=True)


def plan(env: dict[str, str], files: DeployFiles) -> int:
    """Show what `apply` would change; exit code 0 when nothing, 2 when something."""
    if not all(function_zip(f).exists() for f in FUNCTIONS):
        build_functions()
    init(env, files)
    argv = [str(TFLOCAL), f"-chdir={LOCAL_ROOT}", "plan", "-input=false", "-no-color"]
    return subprocess.run([*argv, "-detailed-exitcode"], env=env, check=False).returncode


COMMANDS: dict[str, Callable[[dict[str, str], DeployFiles], int | None]] = {
    "deploy": apply,
    "destroy": destroy,
    "plan": plan,
}


def run_command(command: str, settings: dict[str, str], paths: Paths, mode: str) -> int:
    """``stackctl deploy|destroy|plan``: check the stack, then run Terraform under the lock."""
    if shutil.which("terraform") is None:
        raise StackError(
            "terraform not found on PATH: install Terraform >= 1.5 "
            "(with the hashicorp/aws provider from the registry or a filesystem mirror)"
        )
    down = not_answering(settings)
    session = localstack_session(settings)
    if down or session is None:
        names = ", ".join(s.name for s in down) or "localstack"
        raise StackError(f"{names} not answering: run `make up` first")
    files = DeployFiles.of(paths)
    with root_lock():
        forget_if_stale(files, session)
        env = terraform_env(settings, files, mode)
        return COMMANDS[command](env, files) or 0

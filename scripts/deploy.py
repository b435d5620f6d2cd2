"""Deploy the system to the running local stack, or destroy it.

``apply``: build the function zips, apply ``infra/envs/local`` with ``tflocal``, create the
search index and its alias, and record the deployed names for ``make env``.
``destroy``: the reverse. ``plan``: show what ``apply`` would change.

Terraform's state and working data live in the stack's state folder, beside the LocalStack
they describe: the native LocalStack keeps nothing across restarts, so ``make up`` drops the
state together with it and the next ``make deploy`` starts clean.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "stack"))

import stackctl  # noqa: E402  (the stack's own settings and paths; stdlib only)
from ddb_opensearch_sync.index.client import make_client  # noqa: E402

LOCAL_ROOT = ROOT / "infra" / "envs" / "local"
# One zip per function: each carries only what its handler imports.
FUNCTION_ZIPS = {
    "sync": ROOT / "build" / "sync-function.zip",
    "search": ROOT / "build" / "search-function.zip",
}
TFLOCAL = Path(sys.executable).parent / "tflocal"
CLI = Path(sys.executable).parent / "ddb-opensearch-sync"

# Terraform output -> the variable `make env` prints.
OUTPUTS = {
    name: name.upper()
    for name in (
        "api_url",
        "table_name",
        "table_stream_arn",
        "index_alias",
        "opensearch_endpoint",
        "sync_function_name",
        "search_function_name",
        "dlq_url",
    )
}


def say(message: str) -> None:
    print(f"deploy: {message}", flush=True)


def terraform_env(paths: stackctl.Paths, settings: dict[str, str]) -> dict[str, str]:
    # tflocal takes any <SERVICE>_ENDPOINT variable as that service's endpoint, so the
    # OPENSEARCH_ENDPOINT that `make env` exports would send Terraform's OpenSearch API calls
    # to the domain itself: drop the deployed names from Terraform's environment.
    inherited = {k: v for k, v in os.environ.items() if k not in OUTPUTS.values()}
    return {
        **inherited,
        "AWS_ENDPOINT_URL": f"http://localhost:{settings['LOCALSTACK_PORT']}",
        "AWS_DEFAULT_REGION": settings["AWS_DEFAULT_REGION"],
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "TF_CLI_CONFIG_FILE": str(stackctl.terraform_cli_config(paths)),
        "TF_DATA_DIR": str(paths.state / "terraform" / "local"),
        "TF_IN_AUTOMATION": "1",
        "DISABLE_DEPRECATION_NOTICE": "1",  # tflocal's banner
        # The zip path is an input of the local root; an absolute path keeps -chdir simple.
        "TF_VAR_sync_function_zip_path": str(FUNCTION_ZIPS["sync"]),
        "TF_VAR_search_function_zip_path": str(FUNCTION_ZIPS["search"]),
        "TF_VAR_localstack_endpoint": f"http://localhost:{settings['LOCALSTACK_PORT']}",
    }


# Lines of Terraform's output worth showing as progress; everything goes to the log.
PROGRESS = re.compile(
    r"(complete after|Apply complete|Destroy complete|No changes|Plan:|Error|Warning)"
)


def terraform(env: dict[str, str], *args: str, log: Path | None = None) -> str:
    """Run tflocal on the local root; with ``log``, keep the full output there, show progress.

    Standard error is left alone, so Terraform's errors always reach the terminal.
    """
    argv = [str(TFLOCAL), f"-chdir={LOCAL_ROOT}", *args]
    result = subprocess.run(argv, env=env, text=True, check=False, stdout=subprocess.PIPE)
    if log is not None:
        log.write_text(result.stdout)
        for line in result.stdout.splitlines():
            if PROGRESS.search(line):
                print(f"  {line.strip()}", flush=True)
    if result.returncode != 0:
        where = f"; full output in {log}" if log else ""
        raise SystemExit(f"deploy: error: `tflocal {' '.join(args)}` failed{where}")
    return result.stdout


def state_file(paths: stackctl.Paths) -> Path:
    return paths.state / "terraform" / "local.tfstate"


def init(env: dict[str, str], paths: stackctl.Paths) -> None:
    state = state_file(paths)
    state.parent.mkdir(parents=True, exist_ok=True)
    terraform(
        env,
        "init",
        "-input=false",
        "-no-color",
        "-reconfigure",
        f"-backend-config=path={state}",
    )


def require_terraform() -> None:
    if shutil.which("terraform") is None:
        raise SystemExit(
            "deploy: error: terraform not found on PATH: install Terraform >= 1.6 "
            "(with the hashicorp/aws provider from the registry or a filesystem mirror)"
        )


def require_stack(settings: dict[str, str], paths: stackctl.Paths) -> None:
    stack = stackctl.NativeStack(settings, paths)
    down = [s.name for s in stackctl.SERVICES if not stack.healthy(s)]
    if down:
        raise SystemExit(f"deploy: error: {', '.join(down)} not answering: run `make up` first")


def build_function() -> None:
    for function, out in FUNCTION_ZIPS.items():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "build_lambda.py"),
                "--function",
                function,
                "--out",
                str(out),
            ],
            check=True,
        )


def write_outputs(env: dict[str, str], paths: stackctl.Paths) -> dict[str, str]:
    outputs = json.loads(terraform(env, "output", "-json"))
    values = {var: str(outputs[name]["value"]) for name, var in OUTPUTS.items() if name in outputs}
    (paths.state / "deploy.env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return values


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
        raise SystemExit(f"deploy: error: setup-index exited with {result.returncode} (see above)")


def reset_index(values: dict[str, str]) -> None:
    """Empty the index of a deployment made from scratch.

    On AWS a new deployment gets a new, empty domain. Locally every domain proxies to the one
    long-lived OpenSearch node, whose data outlives LocalStack (which keeps nothing across a
    restart): without this, documents of a table that no longer exists would stay searchable.
    """
    client = make_client(values["OPENSEARCH_ENDPOINT"])
    alias = values["INDEX_ALIAS"]
    if client.indices.exists_alias(name=alias):
        indices = sorted(client.indices.get_alias(name=alias))
        say(f"fresh deployment: emptying {', '.join(indices)} (left from an earlier stack)")
        client.indices.delete(index=",".join(indices))


def deploy_log(paths: stackctl.Paths) -> Path:
    paths.logs.mkdir(parents=True, exist_ok=True)
    return paths.logs / "deploy.log"


def apply(env: dict[str, str], paths: stackctl.Paths) -> None:
    began = time.monotonic()
    build_function()
    fresh = not state_file(paths).exists()
    init(env, paths)
    terraform(env, "apply", "-input=false", "-auto-approve", "-no-color", log=deploy_log(paths))
    values = write_outputs(env, paths)
    if fresh:
        reset_index(values)
    setup_index(values)
    say(f"done in {time.monotonic() - began:.0f} s")
    for key, value in values.items():
        print(f"  {key}={value}")


def destroy(env: dict[str, str], paths: stackctl.Paths) -> None:
    init(env, paths)
    terraform(env, "destroy", "-input=false", "-auto-approve", "-no-color", log=deploy_log(paths))
    (paths.state / "deploy.env").unlink(missing_ok=True)


@contextlib.contextmanager
def root_lock() -> Iterator[None]:
    """Serialise Terraform runs on the local root across stacks of this clone.

    tflocal writes its provider override file into the root folder, so two deploys at once
    (e.g. a second stack with its own STACK_STATE_DIR) would trip over each other's file.
    """
    with (LOCAL_ROOT / ".deploy.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def plan(env: dict[str, str], paths: stackctl.Paths) -> int:
    """Show what `apply` would change; exit code 0 when nothing, 2 when something."""
    if not all(path.exists() for path in FUNCTION_ZIPS.values()):
        build_function()
    init(env, paths)
    argv = [str(TFLOCAL), f"-chdir={LOCAL_ROOT}", "plan", "-input=false", "-no-color"]
    return subprocess.run([*argv, "-detailed-exitcode"], env=env, check=False).returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["apply", "destroy", "plan"])
    args = parser.parse_args()
    settings, paths = stackctl.load_settings(), stackctl.Paths.from_env()
    require_terraform()
    require_stack(settings, paths)
    env = terraform_env(paths, settings)
    with root_lock():
        if args.command == "apply":
            apply(env, paths)
        elif args.command == "destroy":
            destroy(env, paths)
        else:
            sys.exit(plan(env, paths))


if __name__ == "__main__":
    main()

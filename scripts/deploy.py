"""Deploy the system to the running local stack, or destroy it.

``apply``: build the function zip, apply ``infra/envs/local`` with ``tflocal``, create the
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
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "stack"))

import stackctl  # noqa: E402  (the stack's own settings and paths; stdlib only)

LOCAL_ROOT = ROOT / "infra" / "envs" / "local"
FUNCTION_ZIP = ROOT / "build" / "sync-function.zip"
TFLOCAL = Path(sys.executable).parent / "tflocal"
CLI = Path(sys.executable).parent / "ddb-opensearch-sync"

# Terraform output -> the variable `make env` prints.
OUTPUTS = {
    "api_url": "API_URL",
    "table_name": "TABLE_NAME",
    "index_name": "INDEX_NAME",
    "function_name": "FUNCTION_NAME",
    "search_function_name": "SEARCH_FUNCTION_NAME",
    "dlq_url": "DLQ_URL",
    "opensearch_endpoint": "OPENSEARCH_ENDPOINT",
    "stream_arn": "STREAM_ARN",
}


def say(message: str) -> None:
    print(f"deploy: {message}", flush=True)


def terraform_env(paths: stackctl.Paths, settings: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://localhost:{settings['LOCALSTACK_PORT']}",
        "AWS_DEFAULT_REGION": settings["AWS_DEFAULT_REGION"],
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "TF_CLI_CONFIG_FILE": str(stackctl.terraform_cli_config(paths)),
        "TF_DATA_DIR": str(paths.state / "terraform" / "local"),
        "TF_IN_AUTOMATION": "1",
        # The zip path is an input of the local root; an absolute path keeps -chdir simple.
        "TF_VAR_function_zip_path": str(FUNCTION_ZIP),
        "TF_VAR_localstack_endpoint": f"http://localhost:{settings['LOCALSTACK_PORT']}",
    }


def terraform(env: dict[str, str], *args: str, capture: bool = False) -> str:
    argv = [str(TFLOCAL), f"-chdir={LOCAL_ROOT}", *args]
    result = subprocess.run(
        argv, env=env, text=True, check=False, stdout=subprocess.PIPE if capture else None
    )
    if result.returncode != 0:
        raise SystemExit(f"deploy: error: `tflocal {' '.join(args)}` failed (output above)")
    return result.stdout or ""


def init(env: dict[str, str], paths: stackctl.Paths) -> None:
    state_file = paths.state / "terraform" / "local.tfstate"
    state_file.parent.mkdir(parents=True, exist_ok=True)
    terraform(
        env,
        "init",
        "-input=false",
        "-no-color",
        "-reconfigure",
        f"-backend-config=path={state_file}",
        capture=True,
    )


def require_stack(settings: dict[str, str], paths: stackctl.Paths) -> None:
    stack = stackctl.NativeStack(settings, paths)
    down = [s.name for s in stackctl.SERVICES if not stack.healthy(s)]
    if down:
        raise SystemExit(f"deploy: error: {', '.join(down)} not answering: run `make up` first")


def build_function() -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_lambda.py"), "--out", str(FUNCTION_ZIP)],
        check=True,
    )


def write_outputs(env: dict[str, str], paths: stackctl.Paths) -> dict[str, str]:
    outputs = json.loads(terraform(env, "output", "-json", capture=True))
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
            values["INDEX_NAME"],
            "--auth",
            "none",
        ],
        check=False,
    )
    if result.returncode != 0:
        # setup-index said why on stderr (e.g. an index with an outdated mapping: reindex).
        raise SystemExit(f"deploy: error: setup-index exited with {result.returncode} (see above)")


def apply(env: dict[str, str], paths: stackctl.Paths) -> None:
    began = time.monotonic()
    build_function()
    init(env, paths)
    terraform(env, "apply", "-input=false", "-auto-approve", "-no-color")
    values = write_outputs(env, paths)
    setup_index(values)
    say(f"done in {time.monotonic() - began:.0f} s")
    for key, value in values.items():
        print(f"  {key}={value}")


def destroy(env: dict[str, str], paths: stackctl.Paths) -> None:
    init(env, paths)
    terraform(env, "destroy", "-input=false", "-auto-approve", "-no-color")
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


def plan(env: dict[str, str], paths: stackctl.Paths) -> None:
    if not FUNCTION_ZIP.exists():
        build_function()
    init(env, paths)
    terraform(env, "plan", "-input=false", "-no-color")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["apply", "destroy", "plan"])
    args = parser.parse_args()
    settings, paths = stackctl.load_settings(), stackctl.Paths.from_env()
    require_stack(settings, paths)
    env = terraform_env(paths, settings)
    with root_lock():
        if args.command == "apply":
            apply(env, paths)
        elif args.command == "destroy":
            destroy(env, paths)
        else:
            plan(env, paths)


if __name__ == "__main__":
    main()

"""``stackctl``: bring the local stack up and down, deploy to it, print its settings.

Two modes serve the same ports with the same settings (``stack.env``): ``native`` (host
processes) and ``compose`` (``docker compose``). ``up`` picks ``compose`` when a Docker engine
answers and ``native`` otherwise; ``STACK=...`` overrides. In both modes ``up`` and ``deploy``
also start the sync console, a host process (``stackctl.console``). Every command is
idempotent.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

from stackctl import deploy
from stackctl.bootstrap import StackError, say
from stackctl.console import ConsoleProcess, console_url
from stackctl.native import NativeStack
from stackctl.services import SERVICES
from stackctl.settings import Paths, load_settings
from stackctl.toolchain import ensure_checkov_venv, ensure_chromium, ensure_compose_cli

if TYPE_CHECKING:
    from stackctl.compose import ComposeStack

STACK_COMMANDS = ["up", "down", "status", "env", "clean"]
DEPLOY_COMMANDS = list(deploy.COMMANDS)
TOOL_COMMANDS = ["tools", "compose-cli"]


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
        from stackctl.compose import engine_answers  # the Docker SDK: imported only when asked

        return "compose" if engine_answers() else "native"
    return "native"


def make_stack(mode: str, settings: dict[str, str], paths: Paths) -> NativeStack | ComposeStack:
    if mode == "native":
        return NativeStack(settings, paths)
    from stackctl.compose import ComposeStack  # the Docker SDK: imported only in compose mode

    return ComposeStack(settings, paths)


def env_values(settings: dict[str, str], paths: Paths, mode: str) -> dict[str, str]:
    """Settings for tools and tests; the deployed names too while a deployment is current."""
    values = {
        "STACK_MODE": mode,
        # The ports too, so that a stackctl command run from this environment (a test that
        # deploys, say) finds the same stack when it runs on other ports than stack.env's.
        "LOCALSTACK_PORT": settings["LOCALSTACK_PORT"],
        "OPENSEARCH_PORT": settings["OPENSEARCH_PORT"],
        "AWS_ENDPOINT_URL": f"http://localhost:{settings['LOCALSTACK_PORT']}",
        "OPENSEARCH_URL": f"http://localhost:{settings['OPENSEARCH_PORT']}",
        "CONSOLE_PORT": settings["CONSOLE_PORT"],
        "CONSOLE_URL": console_url(settings),
        "AWS_DEFAULT_REGION": settings["AWS_DEFAULT_REGION"],
        # LocalStack accepts any credentials; fixed ones keep boto3 from looking elsewhere.
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    return {**values, **deploy.deployed_values(settings, paths)}


def print_env(settings: dict[str, str], paths: Paths, mode: str) -> None:
    for key, value in env_values(settings, paths, mode).items():
        print(f"export {key}={shlex.quote(value)}")


def run_tools(command: str) -> int:
    if command == "tools":
        ensure_checkov_venv()  # .venv/tools itself is bootstrap.py's (it runs this command)
        ensure_chromium()  # for the console's browser test
    else:
        print(shlex.join(ensure_compose_cli()))
    return 0


def run_stack(command: str, quiet: bool, settings: dict[str, str], paths: Paths) -> int:
    mode = chosen_mode(paths, for_up=command == "up")
    stack = make_stack(mode, settings, paths)
    console = ConsoleProcess(settings, paths)
    if command == "up":
        say(f"mode {mode} (set STACK=native|compose to choose)")
        console.check_port()  # every port before anything starts
        stack.up()
        console.up()
        say("up:")
        stack.status()
        console.status()
    elif command == "down":
        console.down()
        stack.down()
    elif command == "clean":
        console.down()
        # ComposeStack is imported for type checking only: ask about the class that is here.
        stack.down() if isinstance(stack, NativeStack) else stack.down(volumes=True)
        shutil.rmtree(paths.state, ignore_errors=True)
        say(f"removed {paths.state}")
    elif command == "status":
        if quiet:  # the stack's two services: scripts/test.sh asks whether to start them
            return 0 if all(stack.healthy(s) for s in SERVICES) else 1
        stack_ok = stack.status()
        return 0 if console.status() and stack_ok else 1
    elif command == "env":
        print_env(settings, paths, mode)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stackctl", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=STACK_COMMANDS + DEPLOY_COMMANDS + TOOL_COMMANDS)
    parser.add_argument(
        "--quiet", action="store_true", help="status: exit code only (LocalStack and OpenSearch)"
    )
    args = parser.parse_args(argv)
    paths = Paths.from_env()
    try:
        if args.command in TOOL_COMMANDS:
            return run_tools(args.command)
        settings = load_settings()
        if args.command in DEPLOY_COMMANDS:
            mode = chosen_mode(paths, for_up=False)
            code = deploy.run_command(args.command, settings, paths, mode)
            if args.command == "deploy" and code == 0:
                ConsoleProcess(settings, paths).up()  # `make deploy` alone brings it up too
                say(f"console: {console_url(settings)}")
            return code
        return run_stack(args.command, args.quiet, settings, paths)
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

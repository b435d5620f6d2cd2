"""Terraform for tests: a copy of infra/ to run in, an offline environment, and plans as JSON.

A plan needs an AWS API to read its data sources (account id, region): the local stack's
LocalStack stands in for an account, with test credentials. Nothing is applied: the plans
start from an empty state in a temporary folder, so what they show is everything a root would
create, with the values it would be given.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stackctl
from stackctl.deploy import TFLOCAL_ENV

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
TFLOCAL = Path(sys.executable).parent / "tflocal"
# What tflocal or a deploy leaves in a root is not part of the code (the lock file is).
LOCAL_LEFTOVERS = (".terraform", "*.tfstate*", "localstack_providers_override.tf", ".deploy.lock")


class TerraformFailed(AssertionError):
    """A Terraform command exited non-zero (its output is the message)."""


def terraform_binary() -> str:
    found = shutil.which("terraform")
    if found is None:
        raise TerraformFailed("terraform is not on PATH (Terraform >= 1.5 is needed)")
    return found


def run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> str:
    result = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise TerraformFailed(
            f"`{' '.join(argv)}` exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def copy_infra(folder: Path) -> Path:
    """A copy of infra/ (lock files included, local Terraform data left out)."""
    copy = folder / "infra"
    shutil.copytree(INFRA, copy, ignore=shutil.ignore_patterns(*LOCAL_LEFTOVERS))
    return copy


def offline_env(folder: Path) -> dict[str, str]:
    """Terraform's environment: offline provider mirror (when there is one), data in folder."""
    cli_config = stackctl.terraform_cli_config(folder / "terraformrc")
    # tflocal reads <SERVICE>_ENDPOINT variables as service endpoints (`make env` exports
    # OPENSEARCH_ENDPOINT, the domain's URL): none of them is meant for Terraform.
    inherited = {k: v for k, v in os.environ.items() if not k.endswith("_ENDPOINT")}
    return {
        **inherited,
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_DATA_DIR": str(folder / "tf-data"),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        **TFLOCAL_ENV,
    }


def any_function_zip(folder: Path) -> Path:
    """A zip good enough for a plan (only its hash is read)."""
    path = folder / "function.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ddb_opensearch_sync/__init__.py", "")
    return path


@dataclass(frozen=True)
class Plan:
    """``terraform show -json`` of a saved plan, with the lookups the tests need."""

    document: dict[str, Any]
    path: Path  # the JSON file, for checkov

    def resources(self) -> dict[str, dict[str, Any]]:
        """Planned values of every resource and data source, by address."""
        found: dict[str, dict[str, Any]] = {}

        def walk(module: dict[str, Any]) -> None:
            for resource in module.get("resources", []):
                found[resource["address"]] = resource.get("values", {})
            for child in module.get("child_modules", []):
                walk(child)

        walk(self.document["planned_values"]["root_module"])
        return found

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            address: values
            for address, values in self.resources().items()
            if _type(address) == resource_type
        }

    def data_policies(self) -> dict[str, str]:
        """The JSON of every ``aws_iam_policy_document`` read at plan time, by address."""
        found: dict[str, str] = {}

        def walk(module: dict[str, Any]) -> None:
            for resource in module.get("resources", []):
                if resource.get("type") == "aws_iam_policy_document":
                    found[resource["address"]] = resource["values"]["json"]
            for child in module.get("child_modules", []):
                walk(child)

        walk(self.document.get("prior_state", {}).get("values", {}).get("root_module", {}))
        return found

    def actions(self) -> set[str]:
        return {
            action
            for change in self.document["resource_changes"]
            for action in change["change"]["actions"]
        }


def _type(address: str) -> str:
    """``module.a.module.b.aws_x.name[0]`` -> ``aws_x``."""
    parts = address.split(".")
    while parts and parts[0] in ("module", "data"):
        parts = parts[2:] if parts[0] == "module" else parts[1:]
    return parts[0] if parts else ""


def plan_root(
    root: Path,
    env: dict[str, str],
    folder: Path,
    variables: dict[str, Any],
    var_files: list[Path],
    state: Path | None = None,
) -> Plan:
    """Plan ``root`` against LocalStack (``env`` names its endpoint), from the state in
    ``folder`` (empty at first) or, read-only, from ``state``; ``terraform show -json`` of it."""
    # Someone else's state (a deployment's) is only read: planning writes no state.
    lock = [] if state is None else ["-lock=false"]
    init_root(root, env, folder, state)
    arguments = [f"-var-file={path}" for path in var_files] + var_arguments(variables)
    run([*tflocal(root), "plan", "-input=false", "-no-color", "-out=plan.tfplan", *lock,
         *arguments], env, folder)  # fmt: skip
    shown = run([terraform_binary(), f"-chdir={root}", "show", "-json", "plan.tfplan"], env, folder)
    path = folder / f"{root.name}-plan.json"
    path.write_text(shown)
    return Plan(json.loads(shown), path)


def init_root(root: Path, env: dict[str, str], folder: Path, state: Path | None = None) -> None:
    """``init`` with a local backend whose state is ``state`` (default: one in ``folder``)."""
    (root / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    state = state or folder / f"{root.name}.tfstate"
    # The committed lock file must do: -lockfile=readonly fails if it would change.
    init = ["init", "-input=false", "-no-color", "-lockfile=readonly"]
    run([*tflocal(root), *init, f"-backend-config=path={state}"], env, folder)


def tflocal(root: Path) -> list[str]:
    # tflocal reads *.tf of its working folder for backend settings: run it from outside.
    return [str(TFLOCAL), f"-chdir={root}"]


def var_arguments(variables: dict[str, Any]) -> list[str]:
    """-var arguments: strings as they are, anything else as JSON (which HCL reads)."""
    return [
        f"-var={name}={value if isinstance(value, str) else json.dumps(value)}"
        for name, value in variables.items()
    ]

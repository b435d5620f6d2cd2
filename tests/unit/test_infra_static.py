"""Static checks of the Terraform in infra/: formatting, validity of both env roots with their
committed lock files, variables, checkov over the folder (the OpenAPI document among others).

What the roots would create (policies, defaults, checkov over planned values) is read from
plans in tests/integration/test_infra_plan.py.

Terraform runs on a copy of infra/ in a temporary folder, with its data folder there too, so the
repository gets no .terraform/ folders.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.checkov import run_checkov
from tests.support.terraform import copy_infra, offline_env

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
ENV_ROOTS = ["local", "aws"]
TFLOCAL = Path(sys.executable).parent / "tflocal"


def terraform_binary() -> str:
    found = shutil.which("terraform")
    if found is None:
        pytest.fail("terraform is not on PATH (Terraform >= 1.5 is needed)")
    return found


def run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> str:
    result = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(argv)}` exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


@pytest.fixture()
def infra_copy(tmp_path: Path) -> Path:
    """A copy of infra/ (lock files included, no local Terraform data) to run Terraform in."""
    return copy_infra(tmp_path)


@pytest.fixture()
def tf_env(tmp_path: Path) -> dict[str, str]:
    """Terraform's environment: offline provider mirror (when there is one), data in tmp."""
    return offline_env(tmp_path)


# ---------------------------------------------------------------------------------------------
# formatting and validity
# ---------------------------------------------------------------------------------------------


def test_terraform_is_formatted(infra_copy: Path, tf_env: dict[str, str]) -> None:
    result = subprocess.run(
        [terraform_binary(), "fmt", "-check", "-recursive", "-diff", "-no-color", str(infra_copy)],
        env=tf_env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, f"run `terraform fmt -recursive infra`:\n{result.stdout}"


@pytest.mark.parametrize("env_root", ENV_ROOTS)
def test_env_root_is_valid(infra_copy: Path, tf_env: dict[str, str], env_root: str) -> None:
    terraform = terraform_binary()
    root = infra_copy / "envs" / env_root
    # -lockfile=readonly: the committed lock file must be complete and match the mirror.
    run(
        [terraform, "init", "-backend=false", "-input=false", "-no-color", "-lockfile=readonly"],
        tf_env,
        root,
    )

    report = json.loads(run([terraform, "validate", "-json", "-no-color"], tf_env, root))

    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    assert report["warning_count"] == 0, json.dumps(report["diagnostics"], indent=2)


# Inputs a root cannot choose for the user: no default, so a plan without them fails at once.
REQUIRED_INPUTS = {"infra/envs/aws/variables.tf": {"admin_principal_arn"}}


def test_every_variable_has_a_description_type_and_default_unless_required() -> None:
    missing = []
    for path in sorted(INFRA.rglob("variables.tf")):
        required = REQUIRED_INPUTS.get(str(path.relative_to(ROOT)), set())
        for block in re.split(r'(?m)^variable "', path.read_text())[1:]:
            name = block.split('"', 1)[0]
            fields = (
                ("description", "type") if name in required else ("description", "type", "default")
            )
            missing += [
                f"{path.relative_to(ROOT)}: {name} lacks {field}"
                for field in fields
                if not re.search(rf"(?m)^  {field}\s+=", block)
            ]
            if name in required and re.search(r"(?m)^  default\s+=", block):
                missing.append(f"{path.relative_to(ROOT)}: required {name} has a default")

    assert missing == []


@pytest.mark.parametrize("env_root", ENV_ROOTS)
def test_each_root_commits_its_lock_file(env_root: str) -> None:
    lock = (INFRA / "envs" / env_root / ".terraform.lock.hcl").read_text()

    assert re.search(r'provider "registry.terraform.io/hashicorp/aws" \{\n  version     = "5', lock)
    assert re.search(r'"h1:[A-Za-z0-9+/=]{44}"', lock)


def output_names(folder: Path) -> list[str]:
    return re.findall(r'(?m)^output "([a-z_]+)"', (folder / "outputs.tf").read_text())


@pytest.mark.parametrize("env_root", ENV_ROOTS)
def test_each_root_outputs_the_composition_under_its_names(env_root: str) -> None:
    # `make deploy` reads the local root's outputs by these names (upper-cased for `make env`).
    composition = output_names(INFRA / "modules" / "system")

    assert output_names(INFRA / "envs" / env_root) == composition
    assert "index_alias" in composition


@pytest.mark.parametrize("env_root", ENV_ROOTS)
def test_each_root_calls_only_the_composition(env_root: str) -> None:
    main = (INFRA / "envs" / env_root / "main.tf").read_text()

    assert re.findall(r'(?m)^\s*source\s*=\s*"([^"]+)"', main) == ["../../modules/system"]


def test_one_minimum_terraform_version_everywhere() -> None:
    versions = {
        version
        for path in INFRA.rglob("versions.tf")
        for version in re.findall(r'required_version\s*=\s*"([^"]+)"', path.read_text())
    }

    assert versions == {">= 1.5.0"}


def test_the_openapi_document_keeps_terraform_interpolation_out_of_its_vtl() -> None:
    # templatefile() reserves ${ and %{: only the names Terraform injects may use them.
    document = (INFRA / "modules" / "api" / "openapi.yaml").read_text()
    injected = {
        "api_name",
        "partition",
        "region",
        "table_name",
        "role_arn",
        "search_uri",
    }

    used = {part.split("}", 1)[0] for part in document.split("${")[1:]}

    assert "%{" not in document
    assert used == injected


# ---------------------------------------------------------------------------------------------
# checkov
# ---------------------------------------------------------------------------------------------


def test_checkov_finds_no_failure_and_every_skip_is_justified() -> None:
    findings = run_checkov(["-d", str(INFRA)])

    assert findings.failed == [], "\n".join(findings.failed)
    assert findings.unjustified == [], "skips need a reason: #checkov:skip=CKV_...:<why>"
    assert findings.parsing_errors == 0
    assert findings.passed > 50

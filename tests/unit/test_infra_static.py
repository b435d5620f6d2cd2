"""Static checks of the Terraform in infra/: formatting, validity of both env roots, checkov.

Plus one check that needs the local stack: the AWS root plans cleanly against it (the AWS
provider talking to LocalStack stands in for an account), which proves the AWS root complete.

Terraform runs on a copy of infra/ in a temporary folder, with its data folder there too, so the
repository gets no .terraform/ folders nor lock files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import stackctl

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
ENV_ROOTS = ["local", "aws"]
CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"
CHECKOV_FIX = "make tools"
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
    """A copy of infra/ (without any local Terraform data) to run Terraform in."""
    copy = tmp_path / "infra"
    shutil.copytree(
        INFRA,
        copy,
        # What tflocal or a deploy leaves in a root is not part of the code.
        ignore=shutil.ignore_patterns(
            ".terraform", ".terraform.lock.hcl", "*.tfstate*", "localstack_providers_override.tf"
        ),
    )
    return copy


@pytest.fixture()
def tf_env(tmp_path: Path) -> dict[str, str]:
    """Terraform's environment: offline provider mirror (when there is one), data in tmp."""
    cli_config = stackctl.terraform_cli_config(tmp_path / "terraformrc")
    # tflocal reads <SERVICE>_ENDPOINT variables as service endpoints (`make env` exports
    # OPENSEARCH_ENDPOINT, the domain's URL): none of them is meant for Terraform.
    inherited = {k: v for k, v in os.environ.items() if not k.endswith("_ENDPOINT")}
    return {
        **inherited,
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_DATA_DIR": str(tmp_path / "tf-data"),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        "DISABLE_DEPRECATION_NOTICE": "1",  # tflocal's banner
    }


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
    run([terraform, "init", "-backend=false", "-input=false", "-no-color"], tf_env, root)

    report = json.loads(run([terraform, "validate", "-json", "-no-color"], tf_env, root))

    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    assert report["warning_count"] == 0, json.dumps(report["diagnostics"], indent=2)


def test_every_variable_has_a_description_type_and_default() -> None:
    missing = []
    for path in sorted(INFRA.rglob("variables.tf")):
        for block in re.split(r'(?m)^variable "', path.read_text())[1:]:
            name = block.split('"', 1)[0]
            missing += [
                f"{path.relative_to(ROOT)}: {name} lacks {field}"
                for field in ("description", "type", "default")
                if not re.search(rf"(?m)^  {field}\s+=", block)
            ]

    assert missing == []


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
        "security",
        "search_uri",
    }

    used = {part.split("}", 1)[0] for part in document.split("${")[1:]}

    assert "%{" not in document
    assert used == injected


# ---------------------------------------------------------------------------------------------
# checkov
# ---------------------------------------------------------------------------------------------


def test_checkov_finds_no_failure_and_every_skip_is_justified() -> None:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run `{CHECKOV_FIX}` in {ROOT}")
    result = subprocess.run(
        [str(CHECKOV), "-d", str(INFRA), "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]

    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for report in reports
        for check in report["results"]["failed_checks"]
    ]
    unjustified = [
        f"{check['check_id']} {check['resource']}"
        for report in reports
        for check in report["results"]["skipped_checks"]
        if len(check["check_result"].get("suppress_comment", "").strip()) < 20
    ]
    scanned = sum(report["summary"]["passed"] for report in reports)
    parsing_errors = sum(report["summary"]["parsing_errors"] for report in reports)
    assert failed == [], "\n".join(failed)
    assert unjustified == [], "skips need a reason: #checkov:skip=CKV_...:<why>"
    assert parsing_errors == 0
    assert scanned > 50, result.stdout[-2000:]


# ---------------------------------------------------------------------------------------------
# the AWS root plans against the local stack
# ---------------------------------------------------------------------------------------------


def planned_resources(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        change["address"]: change["change"]["after"]
        for change in plan["resource_changes"]
        if change["change"]["actions"] != ["no-op"]
    }


@pytest.mark.stack
@pytest.mark.deployed
def test_aws_root_plans_cleanly_against_the_local_stack(
    infra_copy: Path, tf_env: dict[str, str], tmp_path: Path, aws_endpoint_url: str, aws_region: str
) -> None:
    # Any zip will do for a plan; a local backend replaces the S3 one the root declares.
    function_zip = tmp_path / "function.zip"
    with zipfile.ZipFile(function_zip, "w") as archive:
        archive.writestr("ddb_opensearch_sync/__init__.py", "")
        archive.writestr(
            "ddb_opensearch_sync/sync/handler.py",
            "def handler(event, context):\n    return {'batchItemFailures': []}\n",
        )
    root = infra_copy / "envs" / "aws"
    (root / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    env = {
        **tf_env,
        "AWS_ENDPOINT_URL": aws_endpoint_url,
        "AWS_DEFAULT_REGION": aws_region,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    # tflocal reads *.tf of its working folder for backend settings: run it from outside the root.
    tflocal = [str(TFLOCAL), f"-chdir={root}"]
    run(
        [
            *tflocal,
            "init",
            "-input=false",
            "-no-color",
            f"-backend-config=path={tmp_path / 'aws.tfstate'}",
        ],
        env,
        tmp_path,
    )

    run(
        [
            *tflocal,
            "plan",
            "-input=false",
            "-no-color",
            "-out=aws.tfplan",
            f"-var=sync_function_zip_path={function_zip}",
            f"-var=search_function_zip_path={function_zip}",
            "-var=name=plan-check",
            "-var=manage_api_gateway_account=true",
            "-var=admin_principal_arn=arn:aws:iam::000000000000:role/search-admin",
        ],
        env,
        tmp_path,
    )
    plan = json.loads(
        run([terraform_binary(), f"-chdir={root}", "show", "-json", "aws.tfplan"], env, tmp_path)
    )

    resources = planned_resources(plan)
    actions = {
        action for change in plan["resource_changes"] for action in change["change"]["actions"]
    }
    assert actions <= {"create", "read"}, actions
    domain = resources["module.system.module.search.aws_opensearch_domain.this[0]"]
    assert domain["engine_version"] == "OpenSearch_2.19"
    assert domain["encrypt_at_rest"][0]["enabled"] is True
    assert domain["node_to_node_encryption"][0]["enabled"] is True
    assert domain["domain_endpoint_options"][0]["enforce_https"] is True
    assert domain["domain_endpoint_options"][0]["tls_security_policy"] == (
        "Policy-Min-TLS-1-2-2019-07"
    )
    assert domain["timeouts"] == {"create": "60m", "update": "60m", "delete": "90m"}
    table = resources["module.system.module.table.aws_dynamodb_table.this[0]"]
    assert table["point_in_time_recovery"][0]["enabled"] is True
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["stream_view_type"] == "NEW_AND_OLD_IMAGES"
    mapping = resources["module.system.module.sync.aws_lambda_event_source_mapping.this[0]"]
    assert mapping["starting_position"] == "TRIM_HORIZON"
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["bisect_batch_on_function_error"] is True
    assert 0 <= mapping["maximum_retry_attempts"] <= 10_000
    assert 60 <= mapping["maximum_record_age_in_seconds"] <= 604_800
    function = resources["module.system.module.sync.module.function.aws_lambda_function.this[0]"]
    assert function["runtime"] == "python3.12"
    assert function["handler"] == "ddb_opensearch_sync.sync.handler.handler"
    assert "aws_api_gateway_account.this[0]" in resources
    search = resources[
        "module.system.module.search.module.search_function.aws_lambda_function.this[0]"
    ]
    assert search["handler"] == "ddb_opensearch_sync.search.handler.handler"
    assert search["runtime"] == "python3.12"
    assert {
        resources[f'module.system.module.api.aws_lambda_permission.search["{path}"]']["principal"]
        for path in ("/books/search", "/books/suggest")
    } == {"apigateway.amazonaws.com"}


def test_the_search_role_is_read_only_in_the_domain_policy_too() -> None:
    # For principals of the account, an allow in the domain policy alone grants access: the
    # search role must get its own narrow statement there, not the sync's es:ESHttp*.
    main = (INFRA / "modules" / "search" / "main.tf").read_text()
    statement = main.split('sid       = "SearchApi"', 1)[1].split("principals", 1)[0]

    assert 'actions   = ["es:ESHttpGet", "es:ESHttpPost"]' in statement
    assert "resources = local.search_resources" in statement
    assert (
        "module.search_function"
        not in main.split('sid       = "SyncAndAdmin"', 1)[1].split("dynamic", 1)[0]
    )

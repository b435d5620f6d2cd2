"""What the AWS root would create, read from Terraform's own plans (``terraform show -json``).

IAM is not enforced by the local stack, so least privilege is proven here, on the values AWS
would receive: the AWS root is applied to the local stack's LocalStack under a scratch name
(which makes every ARN, and so every policy, known), planned again and destroyed. The default
variable set and the example production set (``infra/envs/aws/examples/production.tfvars``) are
planned from an empty state. Policies are linted with parliament; checkov reads the plan JSON
of both roots (not the folder, where an attribute bound to a variable defaulting to null passes).
"""

from __future__ import annotations

import json
import re
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from stackctl import deploy
from stackctl.settings import Paths
from tests.support.api import sigv4_auth
from tests.support.checkov import run_checkov
from tests.support.terraform import (
    INFRA,
    Plan,
    any_function_zip,
    copy_infra,
    init_root,
    offline_env,
    plan_root,
    run,
    tflocal,
    var_arguments,
)

pytestmark = [pytest.mark.stack, pytest.mark.deployed]

ADMIN = "arn:aws:iam::000000000000:role/search-admin"
PRODUCTION = INFRA / "envs" / "aws" / "examples" / "production.tfvars"
SYNC = "module.system.module.sync"
SEARCH = "module.system.module.search"
API = "module.system.module.api"
HTTP_METHODS = {"get", "put", "post", "delete"}
KEY_CLIENT = "probe"
ORIGIN = "http://localhost:3000"


@pytest.fixture(scope="module")
def aws_env(
    tmp_path_factory: pytest.TempPathFactory, aws_endpoint_url: str, aws_region: str
) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("tf-env")
    return {
        **offline_env(folder),
        "AWS_ENDPOINT_URL": aws_endpoint_url,
        "AWS_DEFAULT_REGION": aws_region,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }


def zips(folder: Path) -> dict[str, str]:
    function_zip = str(any_function_zip(folder))
    return {"sync_function_zip_path": function_zip, "search_function_zip_path": function_zip}


def plan_aws(
    tmp_path_factory: pytest.TempPathFactory,
    env: dict[str, str],
    variables: dict[str, Any],
    var_files: tuple[Path, ...] = (),
) -> Plan:
    folder = tmp_path_factory.mktemp("aws-plan")
    root = copy_infra(folder) / "envs" / "aws"
    values = {**zips(folder), "admin_principal_arn": ADMIN, **variables}
    return plan_root(
        root, {**env, "TF_DATA_DIR": str(folder / "tf-data")}, folder, values, [*var_files]
    )


@pytest.fixture(scope="module")
def default_plan(tmp_path_factory: pytest.TempPathFactory, aws_env: dict[str, str]) -> Plan:
    """The AWS root with its defaults (only the required inputs given)."""
    return plan_aws(tmp_path_factory, aws_env, {"name": "plan-default"})


@pytest.fixture(scope="module")
def production_plan(tmp_path_factory: pytest.TempPathFactory, aws_env: dict[str, str]) -> Plan:
    return plan_aws(tmp_path_factory, aws_env, {}, (PRODUCTION,))


@pytest.fixture(scope="module")
def local_plan(
    tmp_path_factory: pytest.TempPathFactory, aws_env: dict[str, str], aws_endpoint_url: str
) -> Plan:
    """The local root planned over the stack's own deployment (`make deploy`): every value is
    the deployed one. Its state is only read."""
    folder = tmp_path_factory.mktemp("local-plan")
    root = copy_infra(folder) / "envs" / "local"
    env = {**aws_env, "TF_DATA_DIR": str(folder / "tf-data")}
    variables = {
        **{f"{f}_function_zip_path": str(deploy.function_zip(f)) for f in deploy.FUNCTIONS},
        "localstack_endpoint": aws_endpoint_url,
    }
    state = deploy.DeployFiles.of(Paths.from_env()).tfstate
    return plan_root(root, env, folder, variables, [], state=state)


@pytest.fixture(scope="module")
def applied_plan(
    tmp_path_factory: pytest.TempPathFactory, aws_env: dict[str, str]
) -> Iterator[Plan]:
    """The AWS root applied to LocalStack under a scratch name, then planned again: every
    policy and ARN is known. Destroyed afterwards."""
    folder = tmp_path_factory.mktemp("aws-applied")
    root = copy_infra(folder) / "envs" / "aws"
    env = {**aws_env, "TF_DATA_DIR": str(folder / "tf-data")}
    variables = {
        **zips(folder),
        "admin_principal_arn": ADMIN,
        "name": f"iam-{uuid.uuid4().hex[:8]}",
        # What LocalStack cannot do: keep a method's own settings (see envs/local), wait less
        # than ~10 minutes for a domain with the provider's default timeouts, delete a
        # protected table at the end.
        # One client's API key, required by every operation: LocalStack checks keys (below).
        "api": {
            "search_throttling": {"enabled": False},
            "api_key_required": True,
            "clients": [KEY_CLIENT],
            "cors": {"allow_origin": ORIGIN},
        },
        "opensearch_timeouts": {"create": "10s", "update": "10s", "delete": "2s"},
        "deletion_protection_enabled": False,
    }
    init_root(root, env, folder)
    auto = ["-input=false", "-no-color", "-auto-approve", *var_arguments(variables)]
    try:
        run([*tflocal(root), "apply", *auto], env, folder)
        yield plan_root(root, env, folder, variables, [])
    finally:
        run([*tflocal(root), "destroy", *auto], env, folder)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def stage_url(plan: Plan, endpoint: str) -> str:
    """The applied API's stage under LocalStack's gateway (what envs/local's api_url is)."""
    api_id = plan.resources()[f"{API}.aws_api_gateway_rest_api.this[0]"]["id"]
    return f"{endpoint}/_aws/execute-api/{api_id}/v1"


def api_key(plan: Plan) -> str:
    """The value of the applied usage plan's one key (``aws apigateway get-api-keys`` on AWS)."""
    key: str = plan.resources()[f'{API}.aws_api_gateway_api_key.this["{KEY_CLIENT}"]']["value"]
    return key


def statements(policy: str | dict[str, Any]) -> list[dict[str, Any]]:
    document = json.loads(policy) if isinstance(policy, str) else policy
    found = document["Statement"]
    return [found] if isinstance(found, dict) else found


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else sorted(value)


def role_policy(plan: Plan, module: str, function: str = "function") -> list[dict[str, Any]]:
    return statements(
        plan.resources()[f"{module}.module.{function}.aws_iam_role_policy.this[0]"]["policy"]
    )


def maintenance_requests(arn: str) -> set[tuple[str, tuple[str, ...]]]:
    """What the maintenance function may do on the domain ``arn``, method by method (resources
    sorted): exactly the requests of sync/maintenance.py (index/aliases.py, index/lease.py,
    index/purge.py) on the alias and its concrete indices."""
    index = f"{arn}/books-v*"
    paths = {
        "es:ESHttpHead": [f"{arn}/_alias/books"],
        "es:ESHttpGet": [
            f"{arn}/_alias/books",
            f"{index}/_mapping",
            f"{index}/_settings/index.blocks.write",
        ],
        "es:ESHttpPut": [f"{index}/_mapping", f"{index}/_settings"],
        "es:ESHttpPost": [f"{index}/_refresh", f"{index}/_delete_by_query"],
    }
    return {(method, tuple(sorted(resources))) for method, resources in paths.items()}


def domain(plan: Plan) -> dict[str, Any]:
    return plan.resources()[f"{SEARCH}.aws_opensearch_domain.this[0]"]


def operations(plan: Plan) -> dict[str, dict[str, Any]]:
    body = json.loads(plan.resources()[f"{API}.aws_api_gateway_rest_api.this[0]"]["body"])
    return {
        f"{method.upper()} {path}": operation
        for path, item in body["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


# The policy attributes this project writes, by resource type (an SNS topic's "policy" is AWS's
# own default, read back).
POLICY_ATTRIBUTES = {
    "aws_iam_role_policy": "policy",
    "aws_opensearch_domain": "access_policies",
    "aws_cloudwatch_log_resource_policy": "policy_document",
    "aws_api_gateway_rest_api_policy": "policy",
}


def every_policy(plan: Plan) -> dict[str, str]:
    """Every permission policy the plan would send to AWS: role policies, the domain's and the
    log resource policy, by address. (Trust policies have no Resource: parliament, a linter of
    permission policies, would call each one malformed.)"""
    found: dict[str, str] = {}
    for resource_type, attribute in POLICY_ATTRIBUTES.items():
        for address, values in plan.of_type(resource_type).items():
            if values.get(attribute):
                found[f"{address}.{attribute}"] = values[attribute]
    return found


def without_label_colons(policy: str) -> str:
    """A stream ARN ends in a timestamp label (``stream/2026-12-02T04:02:34.344``) whose colons
    parliament 1.6 takes for ARN separators, calling the statement a RESOURCE_MISMATCH; the
    label's colons become dots for the lint (the ARN's format is otherwise unchanged)."""
    return re.sub(r"/stream/[^\"]+", lambda m: m.group(0).replace(":", "."), policy)


# ---------------------------------------------------------------------------------------------
# least privilege (item 2)
# ---------------------------------------------------------------------------------------------


def test_the_sync_role_may_only_post_bulk_and_mget_on_its_alias(applied_plan: Plan) -> None:
    arn = domain(applied_plan)["arn"]

    search_statements = [
        s
        for s in role_policy(applied_plan, SYNC)
        if any(a.startswith("es:") for a in as_list(s["Action"]))
    ]

    assert [(as_list(s["Action"]), as_list(s["Resource"])) for s in search_statements] == [
        (["es:ESHttpPost"], [f"{arn}/books/_bulk", f"{arn}/books/_mget"])
    ]


def test_the_sync_role_may_invoke_the_maintenance_function_only(applied_plan: Plan) -> None:
    resources = applied_plan.resources()
    maintenance = resources[f"{SYNC}.module.maintenance.aws_lambda_function.this[0]"]["arn"]

    invoking = [
        s
        for s in role_policy(applied_plan, SYNC)
        if any(a.startswith("lambda:") for a in as_list(s["Action"]))
    ]

    assert [(as_list(s["Action"]), as_list(s["Resource"])) for s in invoking] == [
        (["lambda:InvokeFunction"], [maintenance])
    ]


def test_the_maintenance_role_may_only_make_its_own_requests(applied_plan: Plan) -> None:
    arn = domain(applied_plan)["arn"]

    granted = [
        (as_list(s["Action"]), as_list(s["Resource"]))
        for s in role_policy(applied_plan, SYNC, "maintenance")
        if s.get("Sid") != "Logs"
    ]

    assert all(len(actions) == 1 for actions, _ in granted), granted
    assert {(actions[0], tuple(paths)) for actions, paths in granted} == maintenance_requests(arn)
    assert len(granted) == 4


def test_the_domain_policy_gives_each_principal_its_own_rights(applied_plan: Plan) -> None:
    resources = applied_plan.resources()
    arn = domain(applied_plan)["arn"]
    sync_role = resources[f"{SYNC}.module.function.aws_iam_role.this[0]"]["arn"]
    maintenance_role = resources[f"{SYNC}.module.maintenance.aws_iam_role.this[0]"]["arn"]
    search_role = resources[f"{SEARCH}.module.search_function.aws_iam_role.this[0]"]["arn"]

    granted = {
        (principal, tuple(as_list(s["Action"])), tuple(as_list(s["Resource"])))
        for s in statements(domain(applied_plan)["access_policies"])
        for principal in as_list(s["Principal"]["AWS"])
    }

    search_paths = (
        f"{arn}/_scripts/painless/_execute",
        f"{arn}/books/_mget",
        f"{arn}/books/_search",
    )
    assert granted == {
        (sync_role, ("es:ESHttpPost",), (f"{arn}/books/_bulk", f"{arn}/books/_mget")),
        *((maintenance_role, (a,), paths) for a, paths in maintenance_requests(arn)),
        (search_role, ("es:ESHttpGet", "es:ESHttpPost"), search_paths),
        (ADMIN, ("es:ESHttp*",), (f"{arn}/*",)),
    }


def test_bulk_bodies_may_not_name_an_index(applied_plan: Plan, default_plan: Plan) -> None:
    for plan in (applied_plan, default_plan):
        assert domain(plan)["advanced_options"]["rest.action.multi.allow_explicit_index"] == "false"


def test_list_streams_is_granted_the_way_that_works(applied_plan: Plan) -> None:
    # dynamodb:ListStreams has no resource-level permissions: a statement scoped to a stream
    # ARN grants nothing.
    listed = [
        s for s in role_policy(applied_plan, SYNC) if "dynamodb:ListStreams" in as_list(s["Action"])
    ]

    assert [(as_list(s["Action"]), s["Resource"]) for s in listed] == [
        (["dynamodb:ListStreams"], "*")
    ]


def test_parliament_finds_nothing_in_any_planned_policy(applied_plan: Plan) -> None:
    # RESOURCE_MISMATCH (an action paired with resources it cannot apply to: a no-op statement),
    # unknown actions or prefixes, malformed documents: parliament reports them all.
    policies = every_policy(applied_plan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament's pkg_resources import warns
        from parliament import analyze_policy_string

        findings = {
            address: [
                f"{f.issue} {f.detail}"
                for f in analyze_policy_string(without_label_colons(policy)).findings
            ]
            for address, policy in policies.items()
        }

    assert {address: found for address, found in findings.items() if found} == {}
    assert {
        f"{SYNC}.module.function.aws_iam_role_policy.this[0].policy",
        f"{SYNC}.module.maintenance.aws_iam_role_policy.this[0].policy",
        f"{SEARCH}.module.search_function.aws_iam_role_policy.this[0].policy",
        f"{SEARCH}.aws_opensearch_domain.this[0].access_policies",
        f"{API}.aws_iam_role_policy.api[0].policy",
    } <= policies.keys()


# ---------------------------------------------------------------------------------------------
# callers of the API (item 1)
# ---------------------------------------------------------------------------------------------


def test_every_operation_needs_sigv4_by_default_and_the_key_when_asked(
    applied_plan: Plan,
) -> None:
    # One requirement holding both schemes: a call needs the signature and the key.
    assert {name: op["security"] for name, op in operations(applied_plan).items()} == {
        name: [{"sigv4": [], "api_key": []}]
        for name in (
            "POST /books",
            "GET /books",
            "GET /books/{id}",
            "PUT /books/{id}",
            "DELETE /books/{id}",
            "GET /books/search",
            "GET /books/suggest",
        )
    }


def test_localstack_answers_403_without_the_usage_plans_key_and_200_with_it(
    applied_plan: Plan, aws_endpoint_url: str
) -> None:
    # LocalStack checks a required key: present, one of a usage plan of this stage, enabled
    # (not the plan's throttle or quota). IAM is not checked there; the call is signed anyway.
    books = f"{stage_url(applied_plan, aws_endpoint_url)}/books"
    key = api_key(applied_plan)
    auth = sigv4_auth()

    def status(headers: dict[str, str]) -> int:
        return requests.get(books, headers=headers, auth=auth, timeout=30).status_code

    assert status({}) == 403
    assert status({"x-api-key": f"not-{key}"}) == 403
    assert status({"x-api-key": key}) == 200


def test_cors_preflights_and_answers_name_the_one_origin(
    applied_plan: Plan, aws_endpoint_url: str
) -> None:
    books = f"{stage_url(applied_plan, aws_endpoint_url)}/books"
    origin = {"Origin": ORIGIN}
    signed = {"auth": sigv4_auth(), "timeout": 30}
    keyed = {**origin, "x-api-key": api_key(applied_plan)}

    # Preflights: no key, no signature (browsers send neither), answered by the mock.
    preflight = requests.options(
        f"{books}/some-id",
        headers={**origin, "Access-Control-Request-Method": "PUT"},
        timeout=30,
    )
    created = requests.post(
        books, json={"title": "Dune", "author": "Herbert"}, headers=keyed, **signed
    )
    listed = requests.get(books, headers=keyed, **signed)
    resources = applied_plan.resources()
    search = resources[f"{SEARCH}.module.search_function.aws_lambda_function.this[0]"]
    # API Gateway's own errors (missing key, bad body): LocalStack 4.14 does not apply a
    # gateway response's headers (see the README's local differences), so the document shows it.
    errors = json.loads(resources[f"{API}.aws_api_gateway_rest_api.this[0]"]["body"])[
        "x-amazon-apigateway-gateway-responses"
    ]

    assert preflight.status_code == 204, preflight.text
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert preflight.headers["Access-Control-Allow-Methods"] == "DELETE,GET,PUT,OPTIONS"
    assert "X-Api-Key" in preflight.headers["Access-Control-Allow-Headers"].split(",")
    assert preflight.headers["Access-Control-Max-Age"] == "600"
    assert (created.status_code, created.headers.get("Access-Control-Allow-Origin")) == (
        201,
        ORIGIN,
    )
    assert (listed.status_code, listed.headers.get("Access-Control-Allow-Origin")) == (200, ORIGIN)
    assert {kind: e["responseParameters"] for kind, e in errors.items()} == {
        kind: {"gatewayresponse.header.Access-Control-Allow-Origin": f"'{ORIGIN}'"}
        for kind in ("BAD_REQUEST_BODY", "DEFAULT_4XX", "DEFAULT_5XX")
    }
    # The search function (a proxy integration) answers the header itself, from this variable.
    assert search["environment"][0]["variables"]["CORS_ALLOW_ORIGIN"] == ORIGIN


def test_search_has_its_own_throttle_and_clients_their_usage_plan(default_plan: Plan) -> None:
    resources = default_plan.resources()

    search = {
        values["method_path"]: values["settings"][0]["throttling_rate_limit"]
        for address, values in default_plan.of_type("aws_api_gateway_method_settings").items()
    }
    plan = resources[f"{API}.aws_api_gateway_usage_plan.this[0]"]

    assert search == {"*/*": 50, "books/search/GET": 20, "books/suggest/GET": 20}
    assert plan["throttle_settings"] == [{"burst_limit": 20, "rate_limit": 10}]


# ---------------------------------------------------------------------------------------------
# safe defaults and the production example (item 4)
# ---------------------------------------------------------------------------------------------


def test_the_aws_defaults_are_the_safe_ones(default_plan: Plan) -> None:
    resources = default_plan.resources()
    table = resources["module.system.module.table.aws_dynamodb_table.this[0]"]
    endpoint = domain(default_plan)["domain_endpoint_options"][0]

    assert table["deletion_protection_enabled"] is True
    assert table["point_in_time_recovery"][0]["enabled"] is True
    assert endpoint == {
        **endpoint,
        "enforce_https": True,
        "tls_security_policy": "Policy-Min-TLS-1-2-PFS-2023-10",
    }
    assert domain(default_plan)["encrypt_at_rest"][0]["enabled"] is True
    assert domain(default_plan)["node_to_node_encryption"][0]["enabled"] is True
    assert domain(default_plan)["timeouts"] == {"create": "60m", "update": "60m", "delete": "90m"}
    assert default_plan.actions() <= {"create", "read"}


def test_the_production_example_plans_three_zones_and_dedicated_masters(
    production_plan: Plan,
) -> None:
    cluster = domain(production_plan)["cluster_config"][0]

    assert production_plan.actions() <= {"create", "read"}
    assert cluster["zone_awareness_enabled"] is True
    assert cluster["zone_awareness_config"] == [{"availability_zone_count": 3}]
    assert cluster["dedicated_master_enabled"] is True
    assert cluster["dedicated_master_count"] == 3
    assert cluster["instance_count"] % 3 == 0
    assert not cluster["instance_type"].startswith("t"), "burstable instances in production"
    assert not cluster["dedicated_master_type"].startswith("t")
    assert f"{API}.aws_wafv2_web_acl.this[0]" in production_plan.resources()


# ---------------------------------------------------------------------------------------------
# checkov over the plans (item 6)
# ---------------------------------------------------------------------------------------------


# Checks that the local root fails for the local stack's sake only, each with its reason.
LOCAL_ONLY_SKIPS = {
    # LocalStack always reports encryption at rest off: the local root says so (envs/local).
    "CKV_AWS_5",
}


# Both roots with every value known (an empty state leaves ARNs unknown, which checkov reads as
# missing settings).
@pytest.mark.parametrize("which", ["applied_plan", "local_plan"])
def test_checkov_passes_the_planned_values(which: str, request: pytest.FixtureRequest) -> None:
    skips = LOCAL_ONLY_SKIPS if which == "local_plan" else set()
    plan: Plan = request.getfixturevalue(which)
    findings = run_checkov(
        [
            *("-f", str(plan.path), "--framework", "terraform_plan"),
            *("--repo-root-for-plan-enrichment", str(INFRA)),
        ],
        skips,
    )

    assert findings.failed == [], "\n".join(findings.failed)
    assert findings.unjustified == [], (
        "skips need a reason where they are written: #checkov:skip=CKV_...:<why>"
    )
    assert findings.passed > 50


# ---------------------------------------------------------------------------------------------
# alarms (item 5)
# ---------------------------------------------------------------------------------------------


def test_every_alarm_notifies_the_topic(applied_plan: Plan) -> None:
    resources = applied_plan.resources()
    topic = resources["module.system.module.alarms.aws_sns_topic.this[0]"]["arn"]

    alarms = {
        values["alarm_name"].split("-", 2)[-1]: values
        for values in applied_plan.of_type("aws_cloudwatch_metric_alarm").values()
    }

    assert sorted(alarms) == sorted(
        [
            "dlq-not-empty",
            "iterator-age",
            "sync-lag",
            "api-5xx",
            "cluster-red",
            "cluster-yellow",
            "free-storage",
            "jvm-memory-pressure",
            "sync-errors",
            "sync-throttles",
            "search-errors",
            "search-throttles",
        ]
    )
    assert {(tuple(a["alarm_actions"]), tuple(a["ok_actions"])) for a in alarms.values()} == {
        ((topic,), (topic,))
    }
    assert alarms["sync-lag"]["metric_name"] == "EndToEndLagMax"
    assert alarms["sync-lag"]["namespace"] == "DdbOpenSearchSync"
    assert "module.system.module.alarms.aws_cloudwatch_dashboard.this[0]" in resources
    mapping = resources[f"{SYNC}.aws_lambda_event_source_mapping.this[0]"]
    assert mapping["metrics_config"] == [{"metrics": ["EventCount"]}]

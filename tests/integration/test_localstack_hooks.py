"""Our LocalStack start-up hooks are all loaded, and each installs its patch.

LocalStack finds ``on_infra_start`` hooks through plux, which names a hook plugin after its
function unless told otherwise. Two of ours were once both called ``install``: plux kept one,
so the stream poller that drains like AWS never ran while every test stayed green. This test
asks LocalStack's own hook manager, in the venv the native stack runs, what it would load.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from stackctl.bootstrap import VENV_DIR

LOCALSTACK_PYTHON = VENV_DIR / "localstack" / "bin" / "python"

OUR_HOOKS = {
    "ddbsync_stream_poller": (
        "ddbsync_localstack.stream_poller",
        [
            (
                "localstack.services.lambda_.event_source_mapping.esm_worker_factory",
                "DynamoDBPoller",
            ),
            (
                "localstack.services.lambda_.event_source_mapping.esm_worker_factory",
                "EsmWorkerFactory.get_esm_worker",
            ),
            ("localstack.services.lambda_.event_source_mapping.esm_event_processor", "to_json_str"),
        ],
    ),
    "ddbsync_vtl_jsonpath": (
        "ddbsync_localstack.vtl_jsonpath",
        [("localstack.services.apigateway.next_gen.execute_api.template_mapping", "parse")],
    ),
}
"""Each hook: the module of ours that installs it, and the (module, attribute) it replaces."""

PROBE = """
import functools, importlib, json, sys
from localstack.runtime import hooks
targets = json.loads(sys.argv[1])
manager = hooks.on_infra_start.manager
names = [spec.name for spec in manager.list_plugin_specs()]
installed = {}
for name, (_, replaced) in targets.items():
    if names.count(name) == 1:
        manager.load(name)()
    installed[name] = [
        functools.reduce(getattr, attribute.split("."), importlib.import_module(module)).__module__
        for module, attribute in replaced
    ]
print(json.dumps({"names": names, "installed": installed}))
"""


@pytest.fixture(scope="module")
def probe() -> dict:
    if not LOCALSTACK_PYTHON.exists():
        pytest.skip("no native LocalStack venv (run `make up` in native mode)")
    answer = subprocess.run(
        [str(LOCALSTACK_PYTHON), "-c", PROBE, json.dumps(OUR_HOOKS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(answer.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("hook", sorted(OUR_HOOKS))
def test_each_hook_is_one_plugin_of_its_own(probe: dict, hook: str) -> None:
    assert probe["names"].count(hook) == 1, f"{hook} in {sorted(probe['names'])}"


@pytest.mark.parametrize("hook", sorted(OUR_HOOKS))
def test_each_hook_installs_its_patch(probe: dict, hook: str) -> None:
    our_module, replaced = OUR_HOOKS[hook]
    assert probe["installed"][hook] == [our_module] * len(replaced), replaced

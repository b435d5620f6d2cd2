"""The local stack: LocalStack plus a real OpenSearch node, natively or with docker compose.

Modules, one job each:

- ``bootstrap``: the first step (standard library only): finds Python, creates ``.venv/tools``;
- ``settings``: ``stack.env`` and the state folder's paths;
- ``toolchain``: virtualenvs, the OpenSearch Maven build, checkov, Terraform's CLI
  configuration, the Compose CLI;
- ``processes``: pid files, ports, process groups, memory, from ``/proc``;
- ``services``: the two services and their health endpoints;
- ``native`` and ``compose``: the two stack modes;
- ``deploy``: Terraform on the running stack; owns the deployment's state;
- ``cli``: the ``stackctl`` command.
"""

from stackctl.bootstrap import ROOT, StackError, shown
from stackctl.cli import chosen_mode, env_values, main
from stackctl.deploy import deployed_values
from stackctl.native import NativeStack
from stackctl.services import LOCALSTACK, OPENSEARCH, SERVICES, Service, healthy, not_answering
from stackctl.settings import Paths, load_settings
from stackctl.toolchain import ensure_compose_cli, terraform_cli_config

__all__ = [
    "LOCALSTACK",
    "OPENSEARCH",
    "ROOT",
    "SERVICES",
    "NativeStack",
    "Paths",
    "Service",
    "StackError",
    "chosen_mode",
    "deployed_values",
    "ensure_compose_cli",
    "env_values",
    "healthy",
    "load_settings",
    "main",
    "not_answering",
    "shown",
    "terraform_cli_config",
]

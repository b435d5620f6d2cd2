"""The API's contract under fuzzing: schemathesis generates requests from the OpenAPI document
(infra/modules/api/openapi.yaml) for every operation, a bounded number per operation, and sends
them, SigV4-signed, to the deployed API. No answer may be a 5XX, and every answer must conform to
the document: a declared status code, its content type, its schema.

The requests are the document's valid ones (schemathesis' positive mode): LocalStack answers
some invalid bodies (bytes that are not UTF-8) with a 500 where AWS's request validation answers
400 (the README's "Local differences from AWS"). Every check runs on every answer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api import sigv4_auth

pytestmark = [pytest.mark.stack, pytest.mark.deployed]

DOCUMENT = Path(__file__).resolve().parents[2] / "infra" / "modules" / "api" / "openapi.yaml"
EXAMPLES_PER_OPERATION = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def api_document() -> dict[str, Any]:
    """The OpenAPI document; Terraform's interpolations (names, ARNs) do not shape requests."""
    text = re.sub(r"\$\{[a-z_]+\}", "placeholder", DOCUMENT.read_text())
    return dict(yaml.safe_load(text))


schema = schemathesis.openapi.from_dict(api_document())
# Requests valid per the document only: LocalStack answers some invalid bodies with a 500
# where AWS's request validation answers 400 (see the module's docstring).
schema.config.generation.update(modes=["positive"])


@pytest.fixture(scope="module")
def session() -> requests.Session:
    http = requests.Session()
    http.auth = sigv4_auth()
    return http


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_conforms_and_none_is_a_server_error(
    case: schemathesis.Case, api_url: str, session: requests.Session
) -> None:
    case.call_and_validate(base_url=api_url, session=session, checks=CHECKS, timeout=30)

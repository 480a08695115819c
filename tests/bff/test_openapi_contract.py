"""Property-based run of schemathesis against the app's own /openapi.json.

Every operation gets a bounded number of generated requests (valid and invalid); none may produce a 5xx,
a status the spec does not list, or a body that breaks the published schema.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks as openapi_checks
from schemathesis import checks as core_checks

EXAMPLES_PER_OPERATION = 30

CHECKS = [
    core_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]


@pytest.fixture
def openapi_schema(app):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("openapi_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_breaks_the_published_contract(case):
    case.call_and_validate(checks=CHECKS)

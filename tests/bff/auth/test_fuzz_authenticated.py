"""The contract test only reaches the authenticated operations without a token (401). Here the same
schemathesis checks run them signed in as a verified citizen or an operator, so the views and the
domain behind them see generated bodies, paths and query strings too."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis import checks as core_checks
from schemathesis.specs.openapi import checks as openapi_checks

from tests.bff.auth.conftest import BARTER

CHECKS = [
    core_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]
EXAMPLES = 12
# Logging out would end the session the remaining examples use.
SKIP = {"POST /v1/auth/logout", "POST /v1/admin/auth/logout"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_signed_in_fuzzing_keeps_the_contract(app, citizen, operator, mode):
    _, login = citizen.new_wechat()
    citizen.verify(login["access_token"], BARTER["name"], BARTER["id_number"])
    op = citizen.ok(citizen.post("/v1/admin/auth/login", {"username": operator["username"], "password": operator["password"]}))
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in SKIP or not operation.definition.raw.get("security"):
            continue
        token = op["access_token"] if operation.path.startswith("/v1/admin") else login["access_token"]

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), database=None)
        def exercise(case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            case.headers.pop("X-Acting-For", None)
            case.call_and_validate(checks=CHECKS)

        try:
            exercise()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE
        except (Exception, BaseExceptionGroup) as failure:
            failures[operation.label] = f"{type(failure).__name__}: {str(failure)[:1500]}"
    assert not failures, "\n\n".join(f"{label}\n{detail}" for label, detail in failures.items())
    # the session survived the whole run
    assert citizen.ok(citizen.get("/v1/me", login["access_token"]))["realname_level"] == 3

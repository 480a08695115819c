"""Property-based run of schemathesis against the app's own /openapi.json.

Every operation gets a bounded number of generated requests, valid and invalid; none may produce a 5xx,
a status the spec does not list, or a body that breaks the published schema. Hypothesis is driven
directly (one test per generation mode) because schemathesis' pytest fixture plugin does not load
under pytest 9.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis import checks as core_checks
from schemathesis.specs.openapi import checks as openapi_checks

EXAMPLES_PER_OPERATION = 25

CHECKS = [
    core_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda mode: mode.value)
def test_no_input_breaks_the_published_contract(app, mode):
    failures: dict[str, str] = {}
    operations = _operations(app)
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), database=None)
        def exercise(case):
            case.call_and_validate(checks=CHECKS)

        try:
            exercise()
        except Unsatisfiable:
            # No invalid input exists for an operation without parameters or body.
            assert mode is GenerationMode.NEGATIVE
        except (Exception, BaseExceptionGroup) as failure:  # collect every operation's failure, not just the first
            failures[operation.label] = f"{type(failure).__name__}: {str(failure)[:1500]}"
    assert not failures, "\n\n".join(f"{label}\n{detail}" for label, detail in failures.items())

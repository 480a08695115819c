"""schemathesis over every operation, public and signed in, with every registered check and the
stateful phase (links inferred from the spec), counting cases per operation.

Used by tests/bff/test_fuzz_contract.py: a bounded run in ``make test`` and, with
``MSB_FUZZ_EXAMPLES`` / ``MSB_FUZZ_STATEFUL`` raised, the long run of ``make fuzz``.

One deliberate setting: ``positive_data_acceptance`` also accepts 422. A request can match the
schema and still name things that do not exist (a region code in the right shape that no region
has, an unknown template, a schedule in the past); refusing those in the envelope is the contract.
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config._checks import PositiveDataAcceptanceConfig

# Logging out would end the session the remaining cases use.
SESSION_ENDERS = {"POST /v1/auth/logout", "POST /v1/admin/auth/logout"}


@dataclasses.dataclass
class FuzzReport:
    cases: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    failures: dict[str, str] = dataclasses.field(default_factory=dict)
    stateful_steps: int = 0

    @property
    def total(self) -> int:
        return sum(self.cases.values()) + self.stateful_steps

    def render(self) -> str:
        lines = [f"{count:7d}  {label}" for label, count in sorted(self.cases.items())]
        lines.append(f"{self.stateful_steps:7d}  stateful steps (links inferred between operations)")
        lines.append(f"{self.total:7d}  cases in total over {len(self.cases)} operation/auth pairs; "
                     f"{len(self.failures)} failing")
        lines.extend(f"FAIL {label}\n{detail}" for label, detail in self.failures.items())
        return "\n".join(lines)


def all_checks(*, signed_in: bool = False) -> list[Any]:
    """Every registered check. Signed-in cases carry our token in place of whatever Authorization
    schemathesis generated, so ``ignored_auth`` (did a bad token get in?) is judged on the anonymous
    cases only, where the generated credentials are what the API sees."""
    load_all_checks()
    checks = CHECKS.get_all()
    return [check for check in checks if getattr(check, "__name__", "") != "ignored_auth"] if signed_in else checks


def load_schema(app) -> Any:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
        expected_statuses=["2xx", "3xx", "401", "403", "404", "409", "422", "429"])
    return schema


def _token_for(path: str, tokens: dict[str, str]) -> str:
    return tokens["operator"] if path.startswith("/v1/admin") else tokens["citizen"]


def fuzz_operations(app, tokens: dict[str, str], *, examples: int, report: FuzzReport) -> None:
    schema = load_schema(app)
    for result in schema.get_all_operations():
        operation = result.ok()
        secured = bool(operation.definition.raw.get("security"))
        for signed in ((False, True) if secured else (False,)):
            if signed and operation.label in SESSION_ENDERS:
                continue
            label = f"{operation.label} [{'signed in' if signed else 'anonymous'}]"
            checks = all_checks(signed_in=signed)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(max_examples=examples, deadline=None, derandomize=True,
                          suppress_health_check=list(HealthCheck), database=None)
                def exercise(case):
                    report.cases[label] += 1
                    headers = dict(case.headers or {})
                    headers.pop("X-Acting-For", None)
                    if signed:
                        headers["Authorization"] = f"Bearer {_token_for(operation.path, tokens)}"
                    else:
                        headers.pop("Authorization", None)
                    case.headers = headers
                    case.call_and_validate(checks=checks)

                try:
                    exercise()
                except Unsatisfiable:
                    pass  # no invalid input exists for an operation without parameters or body
                except (Exception, BaseExceptionGroup) as failure:
                    report.failures[f"{label} {mode.value}"] = f"{type(failure).__name__}: {str(failure)[:1500]}"


def fuzz_stateful(app, tokens: dict[str, str], *, scenarios: int, steps: int, report: FuzzReport) -> None:
    checks = all_checks(signed_in=True)
    schema = load_schema(app)
    base = schema.as_state_machine()

    class SignedInWorkflow(base):  # type: ignore[misc, valid-type]
        def before_call(self, case):
            report.stateful_steps += 1
            headers = dict(case.headers or {})
            headers.pop("X-Acting-For", None)
            if case.operation.definition.raw.get("security"):
                headers["Authorization"] = f"Bearer {_token_for(case.operation.path, tokens)}"
            case.headers = headers

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=checks, transport_kwargs=kwargs or None)

    # Session enders are never stepped into: the rules for them are switched off.
    try:
        run_state_machine_as_test(SignedInWorkflow, settings=settings(
            max_examples=scenarios, stateful_step_count=steps, deadline=None, derandomize=True,
            suppress_health_check=list(HealthCheck), database=None))
    except (Exception, BaseExceptionGroup) as failure:
        report.failures["stateful"] = f"{type(failure).__name__}: {str(failure)[:3000]}"

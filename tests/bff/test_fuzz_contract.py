"""schemathesis, every check, every operation (anonymous and signed in) plus the stateful phase: no 5xx,
no undeclared status, no body off the published schema. Bounded here (``make test``); ``make fuzz``
raises ``MSB_FUZZ_EXAMPLES`` / ``MSB_FUZZ_SCENARIOS`` for the long run and prints the counts."""
from __future__ import annotations

import os

from tests.bff.auth.conftest import BARTER, citizen, drive, operator, service  # noqa: F401 (fixtures)
from tests.fuzzing import FuzzReport, fuzz_operations, fuzz_stateful

EXAMPLES = int(os.environ.get("MSB_FUZZ_EXAMPLES", "4"))
SCENARIOS = int(os.environ.get("MSB_FUZZ_SCENARIOS", "10"))
STEPS = int(os.environ.get("MSB_FUZZ_STEPS", "8"))


def test_fuzzing_finds_no_5xx_and_no_undeclared_status(app, citizen, operator, capsys):
    _, login = citizen.new_wechat()
    citizen.verify(login["access_token"], BARTER["name"], BARTER["id_number"])
    op = citizen.ok(citizen.post("/v1/admin/auth/login", {"username": operator["username"], "password": operator["password"]}))
    tokens = {"citizen": login["access_token"], "operator": op["access_token"]}
    report = FuzzReport()
    fuzz_operations(app, tokens, examples=EXAMPLES, report=report)
    fuzz_stateful(app, tokens, scenarios=SCENARIOS, steps=STEPS, report=report)
    with capsys.disabled():
        print("\n" + report.render())
    assert report.total > 0 and report.stateful_steps > 0
    assert not report.failures, report.render()

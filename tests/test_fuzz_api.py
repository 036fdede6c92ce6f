"""Input robustness of the phone API as a property: schemathesis generates requests for every operation of
/api/mp/v1/openapi.json (valid ones and invalid ones), sends each in process (the WSGI app, no server) with
the token of every role, and every answer must hold:

- no 5xx: whatever a phone sends, the server answers it;
- every error is the envelope `{"code": str, "message": str, "errors"?: {...}}`;
- every answer matches the OpenAPI document (schemathesis's response-schema check), errors included.

Each operation's writes are undone before the next (`undone`). Budget: tests/fuzz_budget.py.
"""

from __future__ import annotations

import traceback

import pytest
import schemathesis
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, CheckContext, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from backend.extensions import limiter
from tests.factories import World
from tests.fuzz_budget import budget

BASE = "/api/mp/v1"
ROLES = ("villager", "cadre", "reviewer", "town_admin", "county_admin")
# Logging out would revoke the token the rest of the run sends.
EXCLUDED = {f"POST {BASE}/auth/logout"}


def error_envelope(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx and 5xx body is the API's one error envelope."""
    if response.status_code < 400:
        return None
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("code"), str) and body["code"], body
    assert isinstance(body.get("message"), str) and body["message"], body
    assert set(body) <= {"code", "message", "errors"}, body
    assert isinstance(body.get("errors", {}), dict), body
    return True


CHECKS = [not_a_server_error, error_envelope, response_schema_conformance]


@pytest.fixture
def operations(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[APIOperation]:
    # Rate limits would answer most generated logins and bindings with 429 before the code behind them
    # runs; they have tests of their own.
    monkeypatch.setattr(limiter, "enabled", False)
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_wsgi(f"{BASE}/openapi.json", app, config=config)
    return [result.ok() for result in schema.get_all_operations() if result.ok().label not in EXCLUDED]


def fuzz(operation: APIOperation, tokens: dict[str, str]) -> None:
    """Generated cases of one operation, each sent once per role: valid input and input the document forbids."""
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @budget
    @given(case=cases)
    def each_role(case: Case) -> None:
        for role in ROLES:
            try:
                case.call_and_validate(headers={"Authorization": f"Bearer {tokens[role]}"}, checks=CHECKS)
            except BaseException as failure:
                failure.add_note(f"sent with the {role}'s token")
                raise

    each_role()


def test_every_operation_answers_every_role_without_a_server_error(operations, world: World, undone):
    assert len(operations) > 40
    failures = []
    for operation in operations:
        try:
            with undone():
                fuzz(operation, world.tokens)
        except (Exception, BaseExceptionGroup) as failure:  # schemathesis's failures come as a group
            failures.append(f"{operation.label}: " + "".join(traceback.format_exception_only(failure)))
    assert not failures, "\n".join(failures)

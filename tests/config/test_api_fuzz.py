"""Fuzzing the API from its own OpenAPI schema (schemathesis), signed in as several roles.

Every operation of ``/api/schema/`` gets about 30 generated requests, shared by an officer, a
sergeant, the supervisor and an analyst (see ``examples_for``; the admin only where none of
them may call), about half aimed at real rows of the world in ``api_world`` (a real mission,
squad, experiment ...), the rest at generated ids. Each answer
must be no 5xx, a documented status code, the documented content type, a body matching the
documented schema, and documented headers. Generation is derandomized: CI sees the same cases
every run. Requests go through Django's WSGI application in-process and really change the test
database (sessions start, missions are drawn), as they would on a server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.config.api_world import auth_headers, build_world, path_ids, path_parameters_for
from tests.config.test_authorization_matrix import ALLOW, POLICY

pytestmark = pytest.mark.django_db

FUZZ_ROLES = ("officer_a", "sergeant_ab", "supervisor", "analyst", "admin")
# Per operation: 30 cases for the first role (in FUZZ_ROLES order) the authorization matrix
# allows, 10 for each further allowed role (its own branches: a sergeant's squad, a supervisor's
# all), and 3 for a denied role (each must be a documented refusal).
EXAMPLES_PER_OPERATION = 30
EXAMPLES_PER_FURTHER_ROLE = 10
EXAMPLES_WHEN_DENIED = 3


def examples_for(label: str, role: str) -> int:
    allowed = [r for r in FUZZ_ROLES if POLICY[label][r] == ALLOW]
    if role == "admin":  # admins hold every role: fuzzed only where no other role reaches
        return EXAMPLES_PER_OPERATION if allowed == ["admin"] else 0
    if role not in allowed:
        return EXAMPLES_WHEN_DENIED
    return EXAMPLES_PER_OPERATION if role == allowed[0] else EXAMPLES_PER_FURTHER_ROLE


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def fuzz(strategy: Any, headers: dict[str, str], examples: int) -> int:
    """Run ``examples`` cases of ``strategy`` with ``headers``; the count run."""
    ran = 0

    @hypothesis_settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def one(case: Any) -> None:
        nonlocal ran
        ran += 1
        case.call_and_validate(headers=headers, checks=CHECKS)

    one()
    return ran


@pytest.fixture
def wsgi_app() -> Iterator[Any]:
    """Django's WSGI application, kept on the test's database connection (as Django's test
    client does: a request's end would otherwise close the connection holding the test's
    transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_every_operation_answers_as_its_schema_says_for_every_role(
    settings: Any, wsgi_app: Any
) -> None:
    # Rate limits have their own tests (test_rate_limits); here 30 draws a minute must reach
    # the draw itself, not its limit.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            k: "100000/min" for k in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        },
    }
    world = build_world()
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    failures: dict[str, str] = {}
    cases = 0
    for role in FUZZ_ROLES:
        user = world.users[role]
        owner = "officer_a"
        for operation in operations:
            examples = examples_for(operation.label, role)
            if not examples:
                continue
            # A fresh token per operation: fuzzing logout revokes the one it is given.
            # Uncompressed answers: the fuzzer's WSGI client does not undo GZipMiddleware.
            headers = {**auth_headers(user), "Accept-Encoding": "identity"}
            strategy = operation.as_strategy()
            fixed = path_parameters_for(operation.path, path_ids(world, owner))
            if fixed:
                strategy = st.one_of(strategy, operation.as_strategy(path_parameters=fixed))

            try:
                cases += fuzz(strategy, headers, examples)
            except (Exception, BaseExceptionGroup) as exc:  # every operation is tried
                failures[f"{role} {operation.label}"] = str(exc)[:1500]
    print(
        f"\nschemathesis: {len(operations)} operations, {len(FUZZ_ROLES)} roles, "
        f"{cases} cases, {len(failures)} failing"
    )
    assert not failures, "\n\n".join(f"== {k}\n{v}" for k, v in failures.items())

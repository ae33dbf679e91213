"""Schemathesis against the app in-process: every operation with positive and negative data and every
built-in check, then its stateful workflows along the spec's links; on SQLite and on PostgreSQL.

Checks and their expected statuses come from schemathesis.toml, shared with `st run` in .ci/run.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import HttpBearerAuthConfig
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tasks_api.app import create_app
from tasks_api.migrations import upgrade_to_head
from tasks_api.settings import Settings
from tasks_api.tokens import TokenSettings
from tests.openapi import schemathesis_hooks  # noqa: F401 (registers the hostile-header hooks)
from tests.support import BACKENDS, MEASUREMENTS, fresh_database, reproducible
from tests.tokens import SECRET, hs256

FUZZ = reproducible(max_examples=250)


# Each backend without authentication; with it, a token for one user and every path naming that user; and the
# identity providers' user ids (TASKS_API_USER_IDS=opaque), whose pattern the generated paths follow.
TARGETS = [*BACKENDS, "postgresql+jwt", "sqlite+opaque"]
TOKEN_USER = str(uuid.uuid4())


@pytest.fixture(scope="session", params=TARGETS)
def api_schema(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenApiSchema]:
    backend, *options = request.param.split("+")
    # A database of its own: generated workflows may touch any user, and nothing else should see them.
    with fresh_database(backend, Path(tmp_path_factory.mktemp("contract"))) as url:
        upgrade_to_head(url)
        authentication = "jwt" in options
        tokens = TokenSettings(secret=SECRET) if authentication else None
        user_ids = "opaque" if "opaque" in options else "uuid"
        app = create_app(Settings(database_url=url, validate_responses=True, tokens=tokens, user_ids=user_ids))
        schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
        schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
        if authentication:
            # ignored_auth, among the checks, also sends each request without the token and expects a 401.
            schema.config.auth.openapi.schemes["bearerAuth"] = HttpBearerAuthConfig(bearer=hs256(TOKEN_USER, ttl=3600))
            schema.config.update(parameters={"user_id": TOKEN_USER})
        schema.backend = request.param  # type: ignore[attr-defined]
        yield schema


schema = schemathesis.pytest.from_fixture("api_schema")
CASES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_case_counts() -> Iterator[None]:
    yield
    for kind, count in sorted(CASES.items()):
        MEASUREMENTS[f"schemathesis in-process cases, {kind}"] = str(count)


@schema.parametrize()
@FUZZ
def test_every_operation_honours_the_contract(case: schemathesis.Case[Any], request: pytest.FixtureRequest) -> None:
    mode = case.meta.generation.mode.value if case.meta else "explicit"
    backend = request.node.callspec.params["api_schema"]
    CASES[f"{backend}: {case.operation.label} ({mode})"] += 1
    case.call_and_validate()


def test_stateful_workflows_honour_the_contract(api_schema: OpenApiSchema) -> None:
    backend = api_schema.backend  # type: ignore[attr-defined]

    authenticated = "jwt" in backend.split("+")

    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case[Any]) -> None:
            # Workflows start from generated paths: with a token, they all start from the token's user.
            if authenticated and "user_id" in (case.path_parameters or {}):
                case.path_parameters["user_id"] = TOKEN_USER

        def after_call(self, response: Any, case: schemathesis.Case[Any]) -> None:
            CASES[f"{backend}: stateful calls"] += 1
            CASES[f"{backend}: stateful {case.operation.label} -> {response.status_code}"] += 1

    Workflow.run(settings=reproducible(max_examples=60, stateful_step_count=12))

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

import jsonschema
import pytest
import schemathesis
from schemathesis.config import HttpBearerAuthConfig
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tasks_api.app import create_app
from tasks_api.migrations import upgrade_to_head
from tasks_api.settings import Settings
from tasks_api.specification import load_specification
from tasks_api.tokens import TokenSettings
from tasks_api.user_ids import with_user_ids
from tests.openapi import schemathesis_hooks  # noqa: F401 (registers the hostile-header hooks)
from tests.support import BACKENDS, MEASUREMENTS, better_auth_id, fresh_database, new_user, reproducible
from tests.tokens import SECRET, hs256

# Per operation and target: 150 keeps the run in CI's budget (250 took 380 s of its 21 minutes); .ci/fuzz-live adds
# its own examples against a running server.
FUZZ = reproducible(max_examples=150)


# Each backend without authentication; with it, a token for one user and every path naming that user; and the
# identity providers' user ids (TASKS_API_USER_IDS=opaque), whose pattern the generated paths follow.
TARGETS = [*BACKENDS, "postgresql+jwt", "sqlite+opaque"]
TOKEN_USER = str(uuid.uuid4())
CONFIGURED_AUTHORIZATION = f"Bearer {hs256(TOKEN_USER, ttl=3600)}"


def _user_ids(mode: str) -> jsonschema.Validator:
    """The spec's ``UserId`` as served in ``mode``: which ids the API takes on the path."""
    schema = with_user_ids(load_specification(), mode)["components"]["schemas"]["UserId"]
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


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
            schema.config.auth.openapi.schemes["bearerAuth"] = HttpBearerAuthConfig(
                bearer=CONFIGURED_AUTHORIZATION.removeprefix("Bearer ")
            )
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
    opaque = "opaque" in backend.split("+")
    accepted = _user_ids("opaque" if opaque else "uuid")

    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Every scenario works on users of its own: what a scenario may do next (a list's next page, say)
            # depends on what its user holds, and a scenario Hypothesis replays must not meet what earlier ones
            # wrote (it stops as flaky). Generated ids the API accepts are replaced by fresh ones, the same
            # generated id by the same fresh id (links carry the fresh one on); ids it refuses are kept, to be refused.
            self.users: dict[str, str] = {}
            self.token_user = new_user()
            self.authorization = f"Bearer {hs256(self.token_user, ttl=3600)}"

        def before_call(self, case: schemathesis.Case[Any]) -> None:
            path = case.path_parameters or {}
            if "user_id" not in path:
                return
            if authenticated:
                # With a token, every workflow works on the token's user.
                path["user_id"] = self.token_user
                if case.headers is not None and case.headers.get("Authorization") == CONFIGURED_AUTHORIZATION:
                    case.headers["Authorization"] = self.authorization
            elif path["user_id"] not in self.users.values() and accepted.is_valid(path["user_id"]):
                path["user_id"] = self.users.setdefault(path["user_id"], better_auth_id() if opaque else new_user())

        def after_call(self, response: Any, case: schemathesis.Case[Any]) -> None:
            CASES[f"{backend}: stateful calls"] += 1
            CASES[f"{backend}: stateful {case.operation.label} -> {response.status_code}"] += 1

    Workflow.run(settings=reproducible(max_examples=60, stateful_step_count=12))

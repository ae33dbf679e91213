"""Schemathesis against the app in-process: every operation with positive and negative data and every
built-in check, then its stateful workflows along the spec's links; on SQLite and on PostgreSQL.

Checks and their expected statuses come from schemathesis.toml, shared with `st run` in .ci/run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tasks_api.app import create_app
from tasks_api.migrations import upgrade_to_head
from tasks_api.settings import Settings
from tests.support import BACKENDS, MEASUREMENTS, fresh_database, reproducible

FUZZ = reproducible(max_examples=250)


@pytest.fixture(scope="session", params=BACKENDS)
def api_schema(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenApiSchema]:
    # A database of its own: generated workflows may touch any user, and nothing else should see them.
    with fresh_database(request.param, Path(tmp_path_factory.mktemp("contract"))) as url:
        upgrade_to_head(url)
        app = create_app(Settings(database_url=url, validate_responses=True))
        schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
        schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
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

    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def after_call(self, response: Any, case: schemathesis.Case[Any]) -> None:
            CASES[f"{backend}: stateful calls"] += 1
            CASES[f"{backend}: stateful {case.operation.label} -> {response.status_code}"] += 1

    Workflow.run(settings=reproducible(max_examples=60, stateful_step_count=12))

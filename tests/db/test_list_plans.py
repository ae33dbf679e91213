"""PostgreSQL answers every list shape from an index, even for a user with 50,000 tasks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from db.tasks import ListQuery, list_params, list_statement
from db.urls import sync_url
from tasks_api.migrations import upgrade_to_head
from tests.support import fresh_database

BIG_USER = uuid.uuid4()
SORTS = ["-created_at", "created_at", "title", "-title", "updated_at", "-updated_at"]
SEED = text(
    """
    INSERT INTO tasks (id, user_id, title, is_completed, created_at, updated_at)
    SELECT gen_random_uuid(), CAST(:user_id AS uuid), 'task ' || md5(n::text), n % 3 = 0,
           now() - n * interval '1 second', now() - (n % 977) * interval '1 minute'
    FROM generate_series(1, :tasks) AS n
    """
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with fresh_database("postgresql", Path(tmp_path_factory.mktemp("plans"))) as url:
        upgrade_to_head(url)
        engine = create_engine(sync_url(url))
        with engine.begin() as connection:
            connection.execute(SEED, {"user_id": str(BIG_USER), "tasks": 50_000})
            for _ in range(5):
                connection.execute(SEED, {"user_id": str(uuid.uuid4()), "tasks": 5_000})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE tasks"))
            connection.execute(text("ANALYZE task_counts"))
        yield engine
        engine.dispose()


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def _explain(engine: Engine, query: ListQuery) -> list[dict[str, Any]]:
    statement = list_statement(
        query.sort, query.completed, query.search is not None, query.after is not None, "postgresql"
    )
    compiled = statement.compile(dialect=engine.dialect)
    params = {**compiled.params, **list_params(BIG_USER, query)}
    with engine.connect() as connection:
        explained = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", params).scalar_one()
    return list(_plan_nodes(explained[0]["Plan"]))


def _after(sort: str) -> tuple[str, str]:
    """A position in the middle of the big user's tasks, as a client paging through them would send."""
    minutes_back = {"created_at": 25_000 / 60, "updated_at": 977 / 2, "title": 0}[sort.removeprefix("-")]
    moment = datetime.now(UTC) - timedelta(minutes=minutes_back)
    return ("task 8" if "title" in sort else moment.isoformat()), str(uuid.uuid4())


QUERIES = [
    pytest.param(ListQuery(), id="default"),
    pytest.param(ListQuery(limit=50), id="first-page"),
    pytest.param(ListQuery(completed=True), id="completed"),
    pytest.param(ListQuery(completed=False, limit=50), id="open"),
    *[pytest.param(ListQuery(sort=sort, limit=50), id=f"sort{sort}") for sort in SORTS],
    *[pytest.param(ListQuery(sort=sort, limit=50, after=_after(sort)), id=f"cursor{sort}") for sort in SORTS],
    *[pytest.param(ListQuery(sort=sort, completed=True, limit=50), id=f"completed{sort}") for sort in SORTS],
]


@pytest.mark.parametrize("query", QUERIES)
def test_list_reads_tasks_through_an_index(engine: Engine, query: ListQuery) -> None:
    nodes = _explain(engine, query)

    task_scans = [node for node in nodes if node.get("Relation Name") == "tasks"]
    assert task_scans, nodes
    assert all(node["Node Type"] in {"Index Scan", "Index Only Scan"} for node in task_scans), task_scans
    # The page comes straight off the index in order: no sort step over the user's tasks.
    assert not any(node["Node Type"] in {"Sort", "Incremental Sort"} for node in nodes), nodes

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
from tests.support import SORTS, fresh_database

BIG_USER = str(uuid.uuid4())
# Every third task due (some past, some to come), a priority each, a tag on every seventh.
SEED = text(
    """
    INSERT INTO tasks (id, user_id, title, is_completed, created_at, updated_at, priority, tags, due_at)
    SELECT gen_random_uuid(), :user_id, 'task ' || md5(n::text), n % 3 = 0,
           now() - n * interval '1 second', now() - (n % 977) * interval '1 minute', n % 3 + 1,
           CASE WHEN n % 7 = 0 THEN ARRAY['work', 'tag ' || (n % 50)] ELSE '{}' END,
           CASE WHEN n % 3 = 1 THEN now() + (n % 1000 - 500) * interval '1 hour' END
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
            # Statistics from every row, not a random sample of them, so that the plans are the same every run.
            connection.execute(text("SET default_statistics_target = 1000"))
            connection.execute(text("ANALYZE tasks"))
            connection.execute(text("ANALYZE task_counts"))
        yield engine
        engine.dispose()


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def _explain(engine: Engine, query: ListQuery) -> list[dict[str, Any]]:
    compiled = list_statement(query.shape, "postgresql").compile(dialect=engine.dialect)
    params = {**compiled.params, **list_params(BIG_USER, query)}
    with engine.connect() as connection:
        explained = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", params).scalar_one()
    return list(_plan_nodes(explained[0]["Plan"]))


def _after(sort: str, *, without_due_date: bool = False) -> tuple[str | None, ...]:
    """A position in the middle of the big user's tasks, as a client paging through them would send."""
    created = (datetime.now(UTC) - timedelta(seconds=25_000)).isoformat()
    positions = {
        "created_at": (created,),
        "updated_at": ((datetime.now(UTC) - timedelta(minutes=977 / 2)).isoformat(),),
        "title": ("task 8",),
        "priority": ("Medium", created),
        "due_at": (None if without_due_date else datetime.now(UTC).isoformat(), created),
    }
    return (*positions[sort.removeprefix("-")], str(uuid.uuid4()))


QUERIES = [
    pytest.param(ListQuery(), id="default"),
    pytest.param(ListQuery(limit=50), id="first-page"),
    pytest.param(ListQuery(completed=True), id="completed"),
    pytest.param(ListQuery(completed=False, limit=50), id="open"),
    *[pytest.param(ListQuery(sort=sort, limit=50), id=f"sort{sort}") for sort in SORTS],
    *[pytest.param(ListQuery(sort=sort, limit=50, after=_after(sort)), id=f"cursor{sort}") for sort in SORTS],
    *[
        pytest.param(ListQuery(sort=sort, limit=50, after=_after(sort, without_due_date=True)), id=f"undated{sort}")
        for sort in ("due_at", "-due_at")
    ],
    *[pytest.param(ListQuery(sort=sort, completed=True, limit=50), id=f"completed{sort}") for sort in SORTS],
    pytest.param(ListQuery(priority="High", limit=50), id="priority"),
    # In the default order a tag's page is read off task_tags, in order.
    pytest.param(ListQuery(tags=("work",)), id="tag-walk"),
    pytest.param(ListQuery(tags=("work",), sort="created_at", limit=50, after=_after("created_at")), id="tag-cursor"),
    pytest.param(ListQuery(tags=("work", "tag 7"), completed=False), id="tags-open"),
]
# Filters on a part of the user's tasks: read through indexes, though the page may be sorted after.
FILTERED = [
    pytest.param(ListQuery(tags=("work",), limit=50), id="tag"),
    pytest.param(ListQuery(tags=("work",)), id="tag-default-limit"),
    pytest.param(ListQuery(tags=("work", "tag 7"), sort="title"), id="two-tags"),
    pytest.param(ListQuery(tags=("work",), priority="Low", sort="-due_at"), id="tag-priority"),
]
_INDEX_SCANS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}
# A page's rows read where the index scan found them (ctid): no search at all.
_ROW_READS = {"Tid Scan"}


@pytest.mark.parametrize("query", QUERIES)
def test_list_reads_tasks_through_an_index(engine: Engine, query: ListQuery) -> None:
    nodes = _explain(engine, query)

    task_scans = [node for node in nodes if node.get("Relation Name") == "tasks"]
    assert task_scans, nodes
    # The page comes straight off the index in order (the count may gather its rows with a bitmap): no sort
    # step over the user's tasks.
    assert all(node["Node Type"] in {*_INDEX_SCANS, "Bitmap Heap Scan"} for node in task_scans), task_scans
    page_scans = [node for node in task_scans if node.get("Alias") == "tasks"]
    assert all(node["Node Type"] in _INDEX_SCANS for node in page_scans), page_scans
    assert not any(node["Node Type"] in {"Sort", "Incremental Sort"} for node in nodes), nodes


@pytest.mark.parametrize("query", FILTERED)
def test_a_filtered_list_reads_only_through_indexes(engine: Engine, query: ListQuery) -> None:
    nodes = _explain(engine, query)

    scans = [node for node in nodes if node.get("Relation Name") in {"tasks", "task_tags"}]
    assert {node["Relation Name"] for node in scans} >= {"tasks"}, nodes
    # Never a pass over the whole table: every read starts from an index (a bitmap one included).
    assert all(node["Node Type"] in _INDEX_SCANS | _ROW_READS or "Bitmap" in node["Node Type"] for node in scans), scans

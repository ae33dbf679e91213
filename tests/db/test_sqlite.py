"""What the SQLite backend does its own way: how its connections are set up, where reads and writes run, a unit
of work that is cancelled midway, a file that cannot be opened yet, and writes still queued when it closes."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from db import tasks
from db.database import PoolOptions
from db.errors import OutcomeUnknown, is_unavailable
from db.sqlite import SQLITE_BUSY_TIMEOUT_MS, SQLiteDatabase
from db.tasks import TaskFields
from db.urls import normalised_database_url
from tasks_api.migrations import upgrade_to_head
from tests.support import INSERT_TASK, SORTS, wait_for_async

T = TypeVar("T")


def _url(path: Path) -> str:
    return normalised_database_url(f"sqlite:///{path}")


def _on(path: Path, scenario: Callable[[SQLiteDatabase], Awaitable[T]]) -> T:
    async def run() -> T:
        database = SQLiteDatabase(_url(path), PoolOptions())
        try:
            return await scenario(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


def _answers(path: Path, *queries: str) -> list[object]:
    async def ask(database: SQLiteDatabase) -> list[object]:
        answers = []
        async with database.unit_of_work() as work:
            for query in queries:
                row = await work.fetch_one(text(query), {})
                assert row is not None
                answers.append(row[0])
        return answers

    return _on(path, ask)


def test_lower_folds_every_letter_as_postgresql_does(tmp_path: Path) -> None:
    assert _answers(tmp_path / "tasks.db", "SELECT lower('ÉCOLE Ωμέγα')", "SELECT lower(NULL)") == ["école ωμέγα", None]


def test_connections_write_ahead_wait_for_the_lock_and_sync_every_commit(tmp_path: Path) -> None:
    journal, busy_timeout, synchronous = _answers(
        tmp_path / "tasks.db", "PRAGMA journal_mode", "PRAGMA busy_timeout", "PRAGMA synchronous"
    )

    assert journal == "wal"
    assert busy_timeout == SQLITE_BUSY_TIMEOUT_MS
    assert synchronous == 2  # FULL


def test_a_database_in_memory_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a file"):
        SQLiteDatabase(_url(Path(":memory:")))


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    path = tmp_path / "tasks.db"
    upgrade_to_head(_url(path))
    return path


def test_a_read_on_the_loop_sees_a_write_as_soon_as_it_is_answered(migrated: Path) -> None:
    owner = str(uuid.uuid4())

    async def write_then_read(database: SQLiteDatabase) -> list[bool]:
        seen = []
        for n in range(20):
            async with database.unit_of_work() as work:
                _, created = await tasks.create_task(work, owner, TaskFields(f"task {n}"))
            async with database.unit_of_work() as work:
                page = await tasks.list_tasks(work, owner, tasks.ListQuery(limit=1))
            seen.append(page.items_json == b"[" + created.json + b"]")
        return seen

    assert all(_on(migrated, write_then_read))


def test_a_unit_cancelled_inside_its_transaction_leaves_nothing_behind(migrated: Path) -> None:
    owner = str(uuid.uuid4())

    async def cancel_midway(database: SQLiteDatabase) -> None:
        inside = asyncio.Event()

        async def unit_that_never_ends() -> None:
            async with database.unit_of_work() as work:
                await work.execute(INSERT_TASK, {"id": uuid.uuid4(), "owner": owner, "title": "abandoned", "now": now})
                inside.set()
                await asyncio.Event().wait()

        now = datetime.now(UTC)
        abandoned = asyncio.ensure_future(unit_that_never_ends())
        await inside.wait()
        abandoned.cancel()
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        # The writer is free again, and its next write commits on its own.
        async with database.unit_of_work() as work:
            await tasks.create_task(work, owner, TaskFields("kept"))

    _on(migrated, cancel_midway)

    with sqlite3.connect(migrated) as observer:
        titles = [row[0] for row in observer.execute("SELECT title FROM tasks")]
    assert titles == ["kept"]


def test_a_write_alone_cancelled_before_its_answer_is_outcome_unknown_and_commits_anyway(migrated: Path) -> None:
    """Cancelled (the shutdown grace ended), the request leaves the write queued on the writer's thread, which
    commits it: the request must not be answered as if nothing was changed."""
    owner = str(uuid.uuid4())

    async def cancel_while_queued(database: SQLiteDatabase) -> None:
        with sqlite3.connect(migrated, isolation_level=None) as other_process:
            other_process.execute("BEGIN IMMEDIATE")  # the writer's thread waits for this lock
            request = asyncio.ensure_future(_insert_alone(database, owner, "queued", datetime.now(UTC)))
            await asyncio.sleep(0)  # the request runs up to its first wait: its write handed to the writer
            request.cancel()
            with pytest.raises(OutcomeUnknown):
                await request
            other_process.execute("ROLLBACK")
        await wait_for_async(lambda: _titles(migrated) == ["queued"], what="the queued write to commit")

    _on(migrated, cancel_while_queued)


def _titles(path: Path) -> list[str]:
    with sqlite3.connect(path) as observer:
        return [row[0] for row in observer.execute("SELECT title FROM tasks")]


async def _insert_alone(database: SQLiteDatabase, owner: str, title: str | None, now: datetime) -> int:
    async with database.unit_of_work() as work:
        return await work.execute(
            INSERT_TASK, {"id": uuid.uuid4(), "owner": owner, "title": title, "now": now}, alone=True
        )


def test_writes_that_wait_together_commit_together_and_fail_alone(migrated: Path) -> None:
    owner = str(uuid.uuid4())
    now = datetime.now(UTC)

    async def scenario(database: SQLiteDatabase) -> list[object]:
        async with database.unit_of_work() as holder:
            # A unit's open transaction holds back every write alone until it ends: they then go as one group.
            await holder.execute(INSERT_TASK, {"id": uuid.uuid4(), "owner": owner, "title": "held", "now": now})
            waiting = [
                asyncio.ensure_future(_insert_alone(database, owner, title, now)) for title in ("first", None, "second")
            ]
            await asyncio.sleep(0)  # one round of the loop: each write is queued (not a wait for time)
        return await asyncio.gather(*waiting, return_exceptions=True)

    first, failed, second = _on(migrated, scenario)

    assert (first, second) == (1, 1)
    assert isinstance(failed, sqlite3.IntegrityError)
    with sqlite3.connect(migrated) as observer:
        titles = {row[0] for row in observer.execute("SELECT title FROM tasks")}
    assert titles == {"held", "first", "second"}


def test_a_file_that_cannot_be_opened_fails_each_write_as_unavailable_until_it_can(tmp_path: Path) -> None:
    path = tmp_path / "not yet" / "tasks.db"
    owner = str(uuid.uuid4())

    async def write(database: SQLiteDatabase) -> tasks.VersionedTask:
        async with database.unit_of_work() as work:
            _, created = await tasks.create_task(work, owner, TaskFields("kept"))
        return created

    async def scenario(database: SQLiteDatabase) -> tuple[list[BaseException], tasks.VersionedTask]:
        refused: list[BaseException] = []
        for _ in range(2):
            with pytest.raises(sqlite3.Error) as error:
                await write(database)
            refused.append(error.value)
        path.parent.mkdir()
        await asyncio.to_thread(upgrade_to_head, _url(path))
        return refused, await write(database)

    refused, created = _on(path, scenario)

    assert all(is_unavailable(error) for error in refused)
    with sqlite3.connect(path) as observer:
        assert observer.execute("SELECT title FROM tasks").fetchall() == [("kept",)]
    assert b'"kept"' in created.json


def test_writes_still_queued_when_the_database_closes_are_answered(migrated: Path) -> None:
    owner = str(uuid.uuid4())
    now = datetime.now(UTC)

    async def scenario(database: SQLiteDatabase) -> list[object]:
        async with database.unit_of_work() as holder:
            # Held back behind the unit's open transaction, the writes are still queued when the database closes.
            await holder.execute(INSERT_TASK, {"id": uuid.uuid4(), "owner": owner, "title": "held", "now": now})
            waiting = [asyncio.ensure_future(_insert_alone(database, owner, "late", now)) for _ in range(3)]
            await asyncio.sleep(0)  # one round of the loop: each write is queued (not a wait for time)
            await asyncio.to_thread(database.writer.close)
        return await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), timeout=30)

    answers = _on(migrated, scenario)

    assert [type(answer) for answer in answers] == [sqlite3.ProgrammingError] * 3


def _plan(path: Path, query: tasks.ListQuery) -> list[str]:
    """SQLite's plan for the list, as the service runs it: without statistics, which it never gathers."""
    statement = tasks.list_statement(query.shape, "sqlite").compile(dialect=sqlite_dialect(paramstyle="named"))
    params = {**statement.params, **tasks.list_params("user", query)}
    # Without statistics the plan does not depend on the values, only on which are given.
    params = {name: str(value) if isinstance(value, uuid.UUID | datetime) else value for name, value in params.items()}
    with sqlite3.connect(path) as connection:
        return [row[-1] for row in connection.execute(f"EXPLAIN QUERY PLAN {statement}", params)]


_MOMENT, _ID = "2026-12-01T12:00:00.000000Z", str(uuid.uuid4())
_POSITIONS: dict[str, tuple[str | None, ...]] = {
    "created_at": (_MOMENT, _ID),
    "updated_at": (_MOMENT, _ID),
    "title": ("task", _ID),
    "priority": ("Medium", _MOMENT, _ID),
    "due_at": (_MOMENT, _MOMENT, _ID),
}


@pytest.mark.parametrize(
    ("sort", "after"),
    [
        *((sort, after) for sort in SORTS for after in ("first page", "a position")),
        # Only a due-date sort has tasks without its first key.
        *((sort, "a task without a due date") for sort in ("due_at", "-due_at")),
    ],
)
def test_every_sort_reads_its_page_in_order_from_an_index(migrated: Path, sort: str, after: str) -> None:
    position = None if after == "first page" else _POSITIONS[sort.removeprefix("-")]
    if after == "a task without a due date":
        position = (None, _MOMENT, _ID)

    plan = _plan(migrated, tasks.ListQuery(sort=sort, limit=50, after=position))

    assert not any("TEMP B-TREE" in step or step.startswith("SCAN tasks") for step in plan), plan


@pytest.mark.parametrize(
    "query",
    [tasks.ListQuery(tags=("work",)), tasks.ListQuery(tags=("work", "home"), completed=False, sort="created_at")],
    ids=["tag", "tags-open-oldest-first"],
)
def test_a_tag_filter_in_creation_order_reads_its_page_in_order(migrated: Path, query: tasks.ListQuery) -> None:
    plan = _plan(migrated, query)

    assert not any("TEMP B-TREE" in step for step in plan), plan
    assert any(step.startswith("SEARCH task_tags USING COVERING INDEX") for step in plan), plan
    assert any(step.startswith("SEARCH tasks USING INDEX idx_task_user_created") for step in plan), plan

"""The unit of work's contract, on both backends and on PostgreSQL as through a transaction pooler: one
transaction per unit, committed at its end or rolled back with its exception; a statement run ``alone`` is
committed at once; the connection always goes back."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple, TypeVar

import psycopg
import pytest
from sqlalchemy import text

from db import tasks
from db.backends import open_database
from db.database import Database, PoolOptions, UnitOfWork
from db.tasks import TaskFields
from tasks_api.migrations import upgrade_to_head
from tests.support import INSERT_TASK, fresh_database

T = TypeVar("T")


class Target(NamedTuple):
    url: str
    transaction_pooler: bool


@pytest.fixture(
    scope="module",
    params=[("sqlite", False), ("postgresql", False), ("postgresql", True)],
    ids=["sqlite", "postgresql", "postgresql-transaction-pooler"],
)
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    backend, transaction_pooler = request.param
    with fresh_database(backend, tmp_path_factory.mktemp("units")) as url:
        upgrade_to_head(url)
        yield Target(url, transaction_pooler)


class Abandoned(Exception):
    """Raised inside a unit to end it with an error."""


def _with_database(target: Target, scenario: Callable[[Database], Awaitable[T]], size: int) -> T:
    async def run() -> T:
        pool = PoolOptions(size=size, max_overflow=0, transaction_pooler=target.transaction_pooler)
        database = open_database(target.url, pool)
        await database.open()
        try:
            return await scenario(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


def _run(target: Target, scenario: Callable[[Database], Awaitable[T]]) -> T:
    """Runs a scenario on a pool of two connections: the unit under test and an observer beside it."""
    return _with_database(target, scenario, size=2)


async def _insert(work: UnitOfWork, owner: str, title: str) -> None:
    await work.execute(INSERT_TASK, {"id": uuid.uuid4(), "owner": owner, "title": title, "now": datetime.now(UTC)})


async def _titles(database: Database, owner: str) -> set[str]:
    """The owner's task titles as another connection sees them now."""
    async with database.unit_of_work() as work:
        page = await tasks.list_tasks(work, owner, tasks.ListQuery())
    return {task["title"] for task in json.loads(page.items_json)}


def test_a_unit_commits_its_statements_together_when_it_ends(target: Target) -> None:
    owner = str(uuid.uuid4())

    async def scenario(database: Database) -> tuple[set[str], set[str]]:
        async with database.unit_of_work() as work:
            await _insert(work, owner, "first")
            await _insert(work, owner, "second")
            during = await _titles(database, owner)
        return during, await _titles(database, owner)

    during, after = _run(target, scenario)

    assert during == set()
    assert after == {"first", "second"}


def test_a_unit_that_raises_rolls_its_transaction_back(target: Target) -> None:
    owner = str(uuid.uuid4())

    async def scenario(database: Database) -> set[str]:
        with pytest.raises(Abandoned):
            async with database.unit_of_work() as work:
                await _insert(work, owner, "first")
                await _insert(work, owner, "second")
                raise Abandoned
        return await _titles(database, owner)

    assert _run(target, scenario) == set()


def test_a_statement_run_alone_is_visible_to_other_connections_at_once(target: Target) -> None:
    owner = str(uuid.uuid4())

    async def scenario(database: Database) -> set[str]:
        async with database.unit_of_work() as work:
            await tasks.create_task(work, owner, TaskFields("alone"))
            return await _titles(database, owner)

    assert _run(target, scenario) == {"alone"}


def test_statements_after_one_run_alone_join_a_transaction(target: Target) -> None:
    owner = str(uuid.uuid4())

    async def scenario(database: Database) -> tuple[set[str], set[str]]:
        with pytest.raises(Abandoned):
            async with database.unit_of_work() as work:
                await tasks.create_task(work, owner, TaskFields("alone"))
                # Declared alone too, but no longer the unit's first statement.
                await tasks.create_task(work, owner, TaskFields("second"))
                await _insert(work, owner, "third")
                during = await _titles(database, owner)
                raise Abandoned
        return during, await _titles(database, owner)

    during, after = _run(target, scenario)

    assert during == {"alone"}
    assert after == {"alone"}


def test_a_unit_that_raises_returns_its_connection_to_the_pool(target: Target) -> None:
    owner = str(uuid.uuid4())

    async def scenario(database: Database) -> set[str]:
        for ending_in in ("transaction", "autocommit"):
            with pytest.raises(Abandoned):
                async with database.unit_of_work() as work:
                    if ending_in == "transaction":
                        await _insert(work, owner, "rolled back")
                    else:
                        await tasks.create_task(work, owner, TaskFields("kept"))
                    raise Abandoned
        # The pool holds one connection: had either unit kept it, this checkout would time out.
        return await _titles(database, owner)

    assert _with_database(target, scenario, size=1) == {"kept"}


def test_a_unit_whose_connection_broke_is_given_a_new_one(tmp_path: Path) -> None:
    """PostgreSQL only: its server can end a session under a unit; an SQLite file has no session to end."""
    owner = str(uuid.uuid4())

    async def scenario(database: Database) -> set[str]:
        with pytest.raises(psycopg.OperationalError):
            async with database.unit_of_work() as work:
                await _insert(work, owner, "lost with the connection")
                await work.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"), {})
        async with database.unit_of_work() as work:
            await tasks.create_task(work, owner, TaskFields("on a new connection"))
        return await _titles(database, owner)

    with fresh_database("postgresql", tmp_path) as url:
        upgrade_to_head(url)
        titles = _with_database(Target(url, transaction_pooler=False), scenario, size=1)

    assert titles == {"on a new connection"}

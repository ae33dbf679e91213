"""The PostgreSQL backend: the pool's checkout check refuses a connection the server ended without a round trip;
through a transaction pooler, statements bound on the client answer as those bound by the server."""

from __future__ import annotations

import asyncio
import dataclasses
import select
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
from sqlalchemy import text

from db import tasks
from db.database import PoolOptions, UnitOfWork
from db.postgres import PostgresDatabase, _still_connected
from db.tasks import TaskFields
from tasks_api.migrations import upgrade_to_head
from tests.support import fresh_database, sync_conninfo

T = TypeVar("T")


@pytest.fixture(scope="module")
def conninfo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("postgresql", Path(tmp_path_factory.mktemp("postgres"))) as url:
        yield sync_conninfo(url)


def test_a_healthy_idle_connection_passes(conninfo: str) -> None:
    async def check() -> bool:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as connection:
            await _still_connected(connection)
            return connection.closed

    assert asyncio.run(check()) is False


def test_a_connection_the_server_ended_is_refused_and_closed(conninfo: str) -> None:
    async def check() -> bool:
        connection = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (connection.info.backend_pid,))
        # The server's farewell arriving on the socket is the event the check looks for.
        readable, _, _ = select.select([connection.pgconn.socket], [], [], 30)
        assert readable
        with pytest.raises(psycopg.OperationalError):
            await _still_connected(connection)
        return connection.closed

    assert asyncio.run(check()) is True


def test_a_closed_connection_is_refused(conninfo: str) -> None:
    async def check() -> None:
        connection = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        await connection.close()
        with pytest.raises(psycopg.OperationalError):
            await _still_connected(connection)

    asyncio.run(check())


def test_through_a_transaction_pooler_every_task_operation_answers_as_it_does_directly(tmp_path: Path) -> None:
    """Through a pooler, each unit's first statement goes with its values bound by psycopg on the client: the
    same rows must come out of it, whatever the values, as from the statements bound by the server."""
    owner, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    titles = ["50% off_sale", "l'apostrophe", "naïve ☕", "back\\slash", "plain"]
    due = datetime(2026, 12, 24, 17, 30, tzinfo=UTC)
    fields = [
        TaskFields(
            title,
            description=title or None,
            priority=("High", "Medium", "Low")[n % 3],
            tags=[["l'été", "work"], [], ["Work ", "home"]][n % 3],
            due_at=due + timedelta(days=n) if n % 2 else None,
        )
        for n, title in enumerate(titles)
    ]

    async def scenario(url: str) -> None:
        direct = PostgresDatabase(url, PoolOptions(size=2))
        pooled = PostgresDatabase(url, PoolOptions(size=2, transaction_pooler=True))
        await direct.open()
        await pooled.open()

        async def on(database: PostgresDatabase, operation: Callable[[UnitOfWork], Awaitable[T]]) -> T:
            async with database.unit_of_work() as work:
                return await operation(work)

        async def read_alike(operation: Callable[[UnitOfWork], Awaitable[T]]) -> T:
            answer = await on(pooled, operation)
            assert answer == await on(direct, operation)
            return answer

        try:
            created = [
                await on(pooled, partial(tasks.create_task, user_id=owner, fields=task_fields))
                for task_fields in fields
            ]
            for task_id, task in created:
                assert await read_alike(partial(tasks.get_task, user_id=owner, task_id=task_id)) == task
            first = created[0][0]
            replaced = await on(
                pooled,
                partial(
                    tasks.update_task,
                    user_id=owner,
                    task_id=first,
                    fields=TaskFields("replaced", tags=["other"]),
                    is_completed=True,
                    versions=[3, 1],
                ),
            )
            toggled = await on(pooled, partial(tasks.toggle_task, user_id=owner, task_id=created[1][0]))
            assert [replaced.version, toggled.version] == [2, 2]
            assert await on(direct, partial(tasks.get_task, user_id=owner, task_id=first)) == replaced
            with pytest.raises(tasks.PreconditionFailed):
                await on(pooled, partial(tasks.toggle_task, user_id=owner, task_id=first, versions=[1]))
            with pytest.raises(tasks.TaskNotFound):
                await on(pooled, partial(tasks.toggle_task, user_id=stranger, task_id=first))

            queries = [
                tasks.ListQuery(),
                tasks.ListQuery(completed=True),
                tasks.ListQuery(completed=False, sort="title"),
                tasks.ListQuery(search="0% OFF_"),
                tasks.ListQuery(search="'"),
                tasks.ListQuery(sort="updated_at", limit=2),
                tasks.ListQuery(priority="High"),
                tasks.ListQuery(tags=("WORK",), sort="-priority", limit=1),
                tasks.ListQuery(sort="due_at", limit=1),
                tasks.ListQuery(sort="-due_at", limit=2),
                tasks.ListQuery(sort="title", limit=2, offset=2),
            ]
            for query in queries:
                page = await read_alike(partial(tasks.list_tasks, user_id=owner, query=query))
                while page.last is not None:
                    query = dataclasses.replace(query, after=page.last, offset=None)
                    page = await read_alike(partial(tasks.list_tasks, user_id=owner, query=query))
            assert (await read_alike(partial(tasks.list_tasks, user_id=owner, query=tasks.ListQuery()))).total == 5

            await on(pooled, partial(tasks.delete_task, user_id=owner, task_id=first, versions=[2]))
            with pytest.raises(tasks.TaskNotFound):
                await on(direct, partial(tasks.get_task, user_id=owner, task_id=first))
        finally:
            await pooled.dispose()
            await direct.dispose()

    with fresh_database("postgresql", tmp_path) as url:
        upgrade_to_head(url)
        asyncio.run(scenario(url))


def test_through_a_transaction_pooler_each_statement_has_the_timeout_and_the_session_keeps_none(
    tmp_path: Path,
) -> None:
    timeout = text("SELECT current_setting('statement_timeout')")

    async def setting(work: UnitOfWork, alone: bool = False) -> str:
        row = await work.fetch_one(timeout, {}, alone=alone)
        assert row is not None
        return str(row[0])

    async def scenario(url: str) -> tuple[list[str], str]:
        # One connection: every unit, and the look at its session afterwards, share it.
        pooled = PostgresDatabase(
            url, PoolOptions(size=1, max_overflow=0, statement_timeout_ms=1234, transaction_pooler=True)
        )
        await pooled.open()
        try:
            async with pooled.unit_of_work() as work:
                seen = [await setting(work, alone=True)]
            async with pooled.unit_of_work() as work:
                seen += [await setting(work), await setting(work)]
            async with pooled.pool.connection() as connection:
                row = await (await connection.execute("SHOW statement_timeout")).fetchone()
                assert row is not None
                session = str(row[0])
        finally:
            await pooled.dispose()
        return seen, session

    with fresh_database("postgresql", tmp_path) as url:
        seen, session = asyncio.run(scenario(url))

    assert seen == ["1234ms"] * 3
    assert session == "0"

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

import orjson
import psycopg
import pytest
from sqlalchemy import text

from db import changes, tasks
from db.database import PoolOptions, UnitOfWork
from db.errors import OutcomeUnknown
from db.postgres import PostgresDatabase, _still_connected
from db.tasks import TaskFields
from tasks_api.migrations import upgrade_to_head
from tests.pg_proxy import CuttingProxy, cutting_proxy
from tests.support import (
    INSERT_TASK,
    fresh_database,
    row_lock,
    sync_conninfo,
    wait_for_async,
    wait_for_feed,
    waiting_on_locks,
)

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

            # The changes feed, page by page from the start (with a floor below the deletion, so that it is in):
            # the same pages, once every write is in the feed; only the horizon may have moved between the reads.
            wait_for_feed(url)
            after, given = None, 0
            while True:
                feed = partial(changes.read_changes, user_id=owner, after=after, floor=0, limit=2)
                changed = await on(pooled, feed)
                assert changed[:3] == (await on(direct, feed))[:3]
                given += len(orjson.loads(changed.changes_json))
                after = changed.next
                if not changed.has_more:
                    break
            assert given == 5
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


@pytest.fixture(scope="module")
def migrated_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("postgresql", Path(tmp_path_factory.mktemp("outcomes"))) as url:
        upgrade_to_head(url)
        yield url


def _titles(url: str, owner: str) -> list[str]:
    with psycopg.connect(sync_conninfo(url)) as connection:
        rows = connection.execute("SELECT title FROM tasks WHERE user_id = %s", (owner,)).fetchall()
    return [row[0] for row in rows]


async def _in_a_transaction(work: UnitOfWork, owner: str) -> None:
    await work.execute(INSERT_TASK, {"id": uuid.uuid4(), "owner": owner, "title": "written", "now": datetime.now(UTC)})


async def _alone(work: UnitOfWork, owner: str) -> None:
    await tasks.create_task(work, owner, TaskFields("written"))


@pytest.mark.parametrize("transaction_pooler", [False, True], ids=["direct", "transaction-pooler"])
@pytest.mark.parametrize(
    ("write", "marker"),
    [(_alone, b"INSERT INTO tasks"), (_in_a_transaction, b"COMMIT\x00")],
    ids=["write-in-autocommit", "commit"],
)
def test_a_write_whose_commit_was_answered_on_a_lost_connection_is_outcome_unknown_and_was_applied(
    migrated_url: str,
    transaction_pooler: bool,
    write: Callable[[UnitOfWork, str], Awaitable[None]],
    marker: bytes,
) -> None:
    owner = str(uuid.uuid4())

    async def scenario(url: str, proxy: CuttingProxy) -> None:
        database = PostgresDatabase(url, PoolOptions(size=1, max_overflow=0, transaction_pooler=transaction_pooler))
        await database.open()
        try:
            proxy.arm(marker)
            with pytest.raises(OutcomeUnknown) as raised:
                async with database.unit_of_work() as work:
                    await write(work, owner)
            assert isinstance(raised.value.__cause__, psycopg.OperationalError)
        finally:
            await database.dispose()

    with cutting_proxy(migrated_url) as (proxy, url):
        asyncio.run(scenario(url, proxy))
        assert proxy.cut.is_set()

    assert _titles(migrated_url, owner) == ["written"]


@pytest.mark.parametrize("transaction_pooler", [False, True], ids=["direct", "transaction-pooler"])
def test_a_write_the_server_refused_or_cancelled_is_not_outcome_unknown_and_was_not_applied(
    migrated_url: str, transaction_pooler: bool
) -> None:
    """The server's own answer (here the statement timeout, the task's row being locked) says the write was not
    applied; so does a request cancelled while its write waited (psycopg cancels the statement)."""
    owner = str(uuid.uuid4())

    async def scenario() -> None:
        options = PoolOptions(size=1, max_overflow=0, statement_timeout_ms=200, transaction_pooler=transaction_pooler)
        database = PostgresDatabase(migrated_url, options)
        await database.open()
        try:
            async with database.unit_of_work() as work:
                task_id, _ = await tasks.create_task(work, owner, TaskFields("before"))
            replace = partial(
                tasks.update_task, user_id=owner, task_id=task_id, fields=TaskFields("after"), is_completed=True
            )
            with row_lock(migrated_url, str(task_id)):
                with pytest.raises(psycopg.errors.QueryCanceled):
                    async with database.unit_of_work() as work:
                        await replace(work)

                async def cancelled_while_waiting() -> None:
                    async with database.unit_of_work() as work:
                        await replace(work)

                request = asyncio.create_task(cancelled_while_waiting())
                await wait_for_async(lambda: waiting_on_locks(migrated_url) == 1, what="the write to wait")
                request.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await request
        finally:
            await database.dispose()

    asyncio.run(scenario())

    assert _titles(migrated_url, owner) == ["before"]

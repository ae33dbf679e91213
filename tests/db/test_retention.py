"""Forgetting what is kept for a while only (db.retention, sync.retention): answers recorded under an
Idempotency-Key and deletions in the changes feed, each purged in batches once older than its cutoff, and
periodically by the app itself, with no job of its own to deploy."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import make_url

from db import retention, tasks
from db.backends import open_database
from db.database import Database, PoolOptions, UnitOfWork
from db.models import IdempotencyKey, TaskTombstone
from db.tasks import TaskFields
from db.urls import is_sqlite
from sync.retention import CLOCK_MARGIN, purge_expired, purge_periodically
from tasks_api.app import create_app
from tasks_api.migrations import upgrade_to_head
from tasks_api.settings import Settings
from tests.support import (
    BACKENDS,
    fresh_database,
    new_user,
    sync_conninfo,
    wait_for,
    wait_for_async,
    waiting_on_locks,
)

T = TypeVar("T")

_INSERT_ANSWER = insert(IdempotencyKey).values(
    user_id=bindparam("owner"),
    key=bindparam("key"),
    fingerprint=bindparam("fingerprint"),
    created_at=bindparam("at"),
    status=bindparam("status"),
)
_INSERT_DELETION = insert(TaskTombstone).values(
    user_id=bindparam("owner"), change_seq=bindparam("seq"), task_id=bindparam("task"), deleted_at=bindparam("at")
)
_ANSWERS = select(IdempotencyKey.key, IdempotencyKey.created_at)
_DELETIONS = select(TaskTombstone.task_id, TaskTombstone.deleted_at)


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this module's own: every answer and deletion in it is one these tests made, and no other
    app's periodic purge runs on it."""
    with fresh_database(request.param, Path(tmp_path_factory.mktemp("retention"))) as url:
        upgrade_to_head(url)
        yield url


def with_database(database_url: str, operation: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        database = open_database(database_url, PoolOptions(size=1, max_overflow=0))
        await database.open()
        try:
            return await operation(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


def on(database_url: str, operation: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """``operation`` in one unit of work."""

    async def in_unit(database: Database) -> T:
        async with database.unit_of_work() as work:
            return await operation(work)

    return with_database(database_url, in_unit)


def record_answers(database_url: str, moments: list[datetime]) -> None:
    async def insert_all(work: UnitOfWork) -> None:
        owner = new_user()
        for moment in moments:
            params = {"owner": owner, "key": str(uuid.uuid4()), "fingerprint": b"f", "at": moment, "status": 204}
            await work.execute(_INSERT_ANSWER, params)

    on(database_url, insert_all)


def record_deletions(database_url: str, moments: list[datetime]) -> None:
    async def insert_all(work: UnitOfWork) -> None:
        owner = new_user()
        for seq, moment in enumerate(moments):
            await work.execute(_INSERT_DELETION, {"owner": owner, "seq": seq, "task": uuid.uuid4(), "at": moment})

    on(database_url, insert_all)


def kept(database_url: str, statement: Any) -> list[datetime]:
    """The moments of the answers or deletions still kept."""

    async def read(work: UnitOfWork) -> list[datetime]:
        return sorted(_moment(row[1]) for row in await work.fetch_all(statement, {}, alone=True))

    return on(database_url, read)


def _moment(value: datetime | str) -> datetime:
    # SQLite hands back the text it stores, "YYYY-MM-DD HH:MM:SS.ffffff" in UTC.
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value


def purge(database_url: str, purging: Callable[..., Awaitable[int]], before: datetime, batch: int) -> int:
    return on(database_url, lambda work: purging(work, before, batch))


@pytest.fixture
def empty(database_url: str) -> Iterator[str]:
    """The module's database, emptied of answers and deletions after the test."""
    yield database_url
    far_future = datetime(9999, 1, 1, tzinfo=UTC)
    while purge(database_url, retention.purge_answers, far_future, 10_000):
        pass
    while purge(database_url, retention.purge_deletions, far_future, 10_000):
        pass


CUTOFF = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BEFORE = [CUTOFF - timedelta(days=400), CUTOFF - timedelta(hours=1), CUTOFF - timedelta(microseconds=1)]
FROM_THE_CUTOFF_ON = [CUTOFF, CUTOFF + timedelta(microseconds=1), CUTOFF + timedelta(days=1)]


@pytest.mark.parametrize(
    ("record", "purging", "statement"),
    [
        (record_answers, retention.purge_answers, _ANSWERS),
        (record_deletions, retention.purge_deletions, _DELETIONS),
    ],
    ids=["answers", "deletions"],
)
def test_a_purge_forgets_in_batches_only_what_is_older_than_its_cutoff(
    empty: str, record: Callable[[str, list[datetime]], None], purging: Callable[..., Awaitable[int]], statement: Any
) -> None:
    record(empty, BEFORE + BEFORE + FROM_THE_CUTOFF_ON)

    counts = [purge(empty, purging, CUTOFF, batch=4) for _ in range(3)]

    assert counts == [4, 2, 0]
    assert kept(empty, statement) == FROM_THE_CUTOFF_ON


def test_a_deletion_the_database_recorded_is_purged_by_the_time_it_was_made(empty: str) -> None:
    """The tombstone written by the trigger on tasks (its time from the database's clock, on SQLite as text)
    compares with the cutoff as the moment it is."""
    owner = new_user()

    async def create_then_delete(work: UnitOfWork) -> None:
        task_id, _ = await tasks.create_task(work, owner, TaskFields("doomed"))
        await tasks.delete_task(work, owner, task_id)

    before = datetime.now(UTC)
    on(empty, create_then_delete)
    after = datetime.now(UTC)

    # By the database's clock (SQLite's in milliseconds), which may be a little apart from the tests'.
    apart = timedelta(minutes=1)
    assert purge(empty, retention.purge_deletions, before - apart, 10) == 0
    assert before - apart <= kept(empty, _DELETIONS)[0] <= after + apart
    assert purge(empty, retention.purge_deletions, after + apart, 10) == 1


def test_purge_expired_forgets_every_answer_and_deletion_past_its_time_batch_after_batch(empty: str) -> None:
    now = datetime.now(UTC)
    answers_ttl, deletions_kept = timedelta(hours=1), timedelta(days=2)
    expired = retention.PURGE_BATCH + 1
    record_answers(empty, [now - answers_ttl - timedelta(minutes=1)] * expired + [now - timedelta(minutes=59)])
    in_the_margin = now - deletions_kept - CLOCK_MARGIN + timedelta(minutes=5)
    record_deletions(empty, [now - deletions_kept - CLOCK_MARGIN - timedelta(minutes=1)] * expired + [in_the_margin])

    purged = with_database(empty, lambda database: purge_expired(database, answers_ttl, deletions_kept))

    assert purged == (expired, expired)
    assert len(kept(empty, _ANSWERS)) == 1
    # A deletion is kept an hour longer than tokens that could need it are accepted.
    assert kept(empty, _DELETIONS) == [in_the_margin]


def test_the_app_purges_expired_answers_and_deletions_on_its_own(empty: str) -> None:
    settings = Settings(database_url=empty, idempotency_ttl=60.0, tombstone_days=1.0, purge_interval=0.05)
    now = datetime.now(UTC)
    fresh = now - timedelta(seconds=30)
    with create_app(settings).test_client():
        record_answers(empty, [now - timedelta(minutes=2), fresh])
        record_deletions(empty, [now - timedelta(days=1) - CLOCK_MARGIN - timedelta(minutes=1), fresh])

        wait_for(
            lambda: len(kept(empty, _ANSWERS)) == len(kept(empty, _DELETIONS)) == 1,
            what="the expired answer and deletion to be purged",
        )

    assert kept(empty, _ANSWERS) == kept(empty, _DELETIONS) == [fresh]


# ---- the periodic purge when the database fails it or the app stops -----------------------------------------


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("postgresql", Path(tmp_path_factory.mktemp("retention"))) as url:
        upgrade_to_head(url)
        yield url


def _purging_often(database_url: str) -> Settings:
    return Settings(database_url=database_url, idempotency_ttl=60.0, purge_interval=0.05)


def test_the_app_stops_cleanly_while_its_purge_is_waiting_on_a_lock(postgres_url: str) -> None:
    """On PostgreSQL, where a row lock holds the purge's statement in flight when the app stops."""
    record_answers(postgres_url, [datetime.now(UTC) - timedelta(minutes=2)])
    with psycopg.connect(sync_conninfo(postgres_url)) as locker:
        locker.execute("SELECT 1 FROM idempotency_keys FOR UPDATE")
        with create_app(_purging_often(postgres_url)).test_client():
            wait_for(lambda: waiting_on_locks(postgres_url) > 0, what="the purge to wait on the lock")
        locker.rollback()
    # Stopped, the app purges no more.
    assert len(kept(postgres_url, _ANSWERS)) == 1
    purge(postgres_url, retention.purge_answers, datetime.now(UTC), 10)


def test_a_purge_whose_connection_broke_mid_statement_is_tried_again(postgres_url: str) -> None:
    record_answers(postgres_url, [datetime.now(UTC) - timedelta(minutes=2)])
    with create_app(_purging_often(postgres_url)).test_client():
        with psycopg.connect(sync_conninfo(postgres_url)) as locker:
            locker.execute("SELECT 1 FROM idempotency_keys FOR UPDATE")
            wait_for(lambda: waiting_on_locks(postgres_url) > 0, what="the purge to wait on the lock")
            # The purge's connection ends while its DELETE is out: it cannot know whether it was applied.
            with psycopg.connect(sync_conninfo(postgres_url), autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            locker.rollback()

        wait_for(lambda: kept(postgres_url, _ANSWERS) == [], what="a later purge to forget the expired answer")


class _Watched:
    """A database whose units count the statements they have sent it."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.sent = 0

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[Any]:
        async with self.database.unit_of_work() as work:
            yield _WatchedWork(self, work)


class _WatchedWork:
    def __init__(self, watched: _Watched, work: UnitOfWork) -> None:
        self._watched, self._work = watched, work

    async def execute(self, statement: Any, params: dict[str, Any], *, alone: bool = False) -> int:
        self._watched.sent += 1
        return await self._work.execute(statement, params, alone=alone)


@contextmanager
def writes_held(database_url: str) -> Iterator[None]:
    """Every write to the answers waits until the block ends: a row lock on each, or SQLite's write lock."""
    if is_sqlite(database_url):
        connection = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.rollback()
            connection.close()
        return
    with psycopg.connect(sync_conninfo(database_url)) as locker:
        locker.execute("SELECT 1 FROM idempotency_keys FOR UPDATE")
        yield
        locker.rollback()


def test_a_purge_cancelled_while_its_statement_is_out_ends_cancelled(empty: str) -> None:
    """As the app cancels it when it stops: whatever the statement did, the purge is over, and nothing else is
    raised into the shutdown that follows (which then closes the database)."""
    record_answers(empty, [datetime.now(UTC) - timedelta(minutes=2)])

    async def scenario(database: Database) -> str:
        watched = _Watched(database)
        with writes_held(empty):
            purging = asyncio.create_task(purge_periodically(watched, timedelta(minutes=1), timedelta(days=1), 0.01))  # type: ignore[arg-type]
            await wait_for_async(lambda: watched.sent > 0, what="the purge's first statement")
            purging.cancel()
            await asyncio.wait([purging])
        return "cancelled" if purging.cancelled() else f"ended with {purging.exception()!r}"

    assert with_database(empty, scenario) == "cancelled"

"""SQLite: the standard library's ``sqlite3`` running statements compiled once; reads on the event loop, writes
on a thread of their own, committed in groups.

SQLite runs in the process, so a statement costs microseconds and a hop to another thread costs more than the
statement. Reads therefore run right on the event loop, on one connection: in WAL mode a reader never waits for
a lock, and each read is fetched whole before the loop moves on, so no read holds a snapshot across an await.
Writes run on one thread with its own connection (``_Writer``): waiting for another process's write lock
(``--workers N`` on one file) and the fsync of each commit then block that thread, never the loop, and the
writes that queue up meanwhile are committed together, one fsync for all of them.

Measured in process on the data layer alone, before with SQLAlchemy's async engine over aiosqlite and after:
get-one 1,256 us (five hops to aiosqlite's thread per unit of work) and 17-35 us; a list of 1,000 32.8 ms
(SQLAlchemy building UUIDs and datetimes for each row, orjson turning them back to text) and 0.6-1.0 ms
(documents kept in the rows, ``db.documents``); toggle 1,605 us and 570-880 us, most of it the fsync of the
commit. Under wrk at 32 connections, committing writes one by one gave 470-780 req/s (p99 61-126 ms) on
create, toggle and update; committed in groups, 760-1,360 req/s (p99 41-58 ms)."""

from __future__ import annotations

import asyncio
import functools
import queue
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql import Executable

from db.compiled import CompiledStatements
from db.database import PoolOptions, UnitOfWork
from db.errors import OutcomeUnknown

SQLITE_BUSY_TIMEOUT_MS = 5000
# Every commit is on disk before it is acknowledged (WAL, fsync per commit): a power loss loses no answered write.
SQLITE_SYNCHRONOUS = "FULL"

_compile = CompiledStatements(sqlite.pysqlite.dialect(paramstyle="named"))

Rows = list[tuple[Any, ...]]


def _stored_moment(moment: datetime) -> str:
    # As SQLAlchemy writes it, "YYYY-MM-DD HH:MM:SS.ffffff" (db.documents renders it); isoformat, unlike strftime,
    # always writes the year in four digits, so the text sorts as the moment does.
    return moment.astimezone(UTC).isoformat(" ", "microseconds")[:-6]


# How SQLAlchemy stores what SQLite has no type for, by the value's type: one look-up per parameter.
_AS_STORED: dict[type, Any] = {
    uuid.UUID: lambda value: value.hex,
    datetime: _stored_moment,
    list: lambda value: orjson.dumps(value).decode(),
}


def _stored(value: Any) -> Any:
    """A parameter as SQLAlchemy stores it on SQLite, which has no UUID, timestamp or array type."""
    convert = _AS_STORED.get(type(value))
    return convert(value) if convert is not None else value


def _unicode_lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None


def _connect(path: str) -> sqlite3.Connection:
    # Autocommit (isolation_level None): sqlite3 issues no BEGIN of its own; transactions are explicit.
    connection = sqlite3.connect(
        path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    # SQLite's built-in lower() folds ASCII only; searches must be case-insensitive for "École" too, as they are
    # on PostgreSQL.
    connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    # WAL lets readers run beside the writer; the busy timeout makes a writer queue behind another process's
    # write instead of failing with "database is locked".
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    return connection


def _run(connection: sqlite3.Connection, sql: str, params: dict[str, Any]) -> tuple[Rows, int]:
    # Fetched whole: a statement stepped to its end has committed (in autocommit) and holds no snapshot.
    cursor = connection.execute(sql, params)
    return cursor.fetchall(), cursor.rowcount


def _end(connection: sqlite3.Connection, commit: bool) -> None:
    if connection.in_transaction:
        connection.execute("COMMIT" if commit else "ROLLBACK")


def _run_then_record(
    connection: sqlite3.Connection, sql: str, params: dict[str, Any], record: str, record_params: dict[str, Any]
) -> tuple[Rows, int]:
    """``sql``, then, if it returned a row, ``record``: one savepoint, so that neither stays without the other,
    in a group's transaction or (a savepoint outside one begins and ends its own) alone."""
    connection.execute("SAVEPOINT recorded")
    try:
        rows, changed = _run(connection, sql, params)
        if rows:
            connection.execute(record, record_params)
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK TO recorded")
            connection.execute("RELEASE recorded")
        raise
    connection.execute("RELEASE recorded")
    return rows, changed


def _begin_and_run(connection: sqlite3.Connection, sql: str, params: dict[str, Any]) -> tuple[Rows, int]:
    # IMMEDIATE takes the write lock now, so that no other process's write can overtake the snapshot of a
    # transaction that reads before it writes.
    connection.execute("BEGIN IMMEDIATE")
    return _run(connection, sql, params)


Work = Callable[[sqlite3.Connection], Any]


@dataclass
class _Job:
    work: Work
    future: asyncio.Future[Any]
    # Part of the transaction of the unit that holds the writer's lock; else a write alone.
    in_unit: bool


def _outcome(work: Work, connection: sqlite3.Connection | sqlite3.Error) -> Any:
    """What ``work`` returns, or the exception it raised; or why the connection could not be opened."""
    if isinstance(connection, sqlite3.Error):
        return connection
    try:
        return work(connection)
    except Exception as error:  # raised again where the request awaits it
        return error


def _settle(outcomes: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, outcome in outcomes:
        if future.done():  # its request was cancelled
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class _Writer:
    """The one connection that writes, on a thread of its own, with group commit.

    Writes ``alone`` that arrive while the thread is busy are committed together: one transaction, one fsync,
    for all of them. A statement that fails (a constraint, say) is undone by SQLite on its own and answered
    with its error; an error that ends the transaction fails the whole group, none of which is then committed.
    A unit's transaction (``in_unit`` jobs, one unit at a time: it holds ``lock``) runs on the same
    connection, and writes alone wait until it has ended.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.lock = asyncio.Lock()
        # Told the size of each group of writes alone committed together (metrics, when they are on).
        self.group_committed: Callable[[int], None] | None = None
        self._held = 0

    def queued(self) -> int:
        """Writes alone waiting their turn: sent to the writer's thread and not taken up yet, or held back while
        a unit's transaction is open."""
        return self._jobs.qsize() + self._held

    async def run(self, work: Work, *, in_unit: bool = False) -> Any:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="sqlite-writer", daemon=True)
            self._thread.start()
        future = asyncio.get_running_loop().create_future()
        self._jobs.put(_Job(work, future, in_unit))
        return await future

    def _serve(self) -> None:
        connection: sqlite3.Connection | sqlite3.Error = sqlite3.OperationalError("not opened yet")
        waiting: list[_Job] = []  # writes alone, held back while a unit's transaction is open
        while True:
            jobs = [self._jobs.get()]
            with suppress(queue.Empty):
                while True:
                    jobs.append(self._jobs.get_nowait())
            if isinstance(connection, sqlite3.Error):
                try:
                    connection = _connect(self._path)
                except sqlite3.Error as error:  # each job is answered with it (a file that cannot be opened: 503)
                    connection = error
            for index, job in enumerate(jobs):
                if job is None:
                    unanswered = [*waiting, *(late for late in jobs[index + 1 :] if late is not None)]
                    self._answer([(late, sqlite3.ProgrammingError("the database is closed")) for late in unanswered])
                    if isinstance(connection, sqlite3.Connection):
                        connection.close()
                    return
                if job.in_unit:
                    self._answer([(job, _outcome(job.work, connection))])
                else:
                    waiting.append(job)
            if waiting and not (isinstance(connection, sqlite3.Connection) and connection.in_transaction):
                outcomes = self._commit_together(connection, waiting)
                # Told, and no longer counted as held, before the writes are answered: by then whoever listens may
                # have stopped listening, or be reading the count.
                group_committed = self.group_committed
                if group_committed is not None:
                    group_committed(len(waiting))
                self._held = 0
                self._answer(outcomes)
                waiting = []
            self._held = len(waiting)

    @staticmethod
    def _commit_together(connection: sqlite3.Connection | sqlite3.Error, jobs: list[_Job]) -> list[tuple[_Job, Any]]:
        if len(jobs) == 1 or isinstance(connection, sqlite3.Error):
            return [(job, _outcome(job.work, connection)) for job in jobs]
        try:
            connection.execute("BEGIN IMMEDIATE")
            outcomes = []
            for job in jobs:
                outcome = _outcome(job.work, connection)
                if not connection.in_transaction:  # SQLite rolled it all back (disk full, I/O error)
                    raise outcome if isinstance(outcome, sqlite3.Error) else sqlite3.OperationalError("rolled back")
                outcomes.append((job, outcome))
            connection.execute("COMMIT")
            return outcomes
        except sqlite3.Error as error:  # nothing of the group was committed
            with suppress(sqlite3.Error):
                _end(connection, commit=False)
            return [(job, error) for job in jobs]

    @staticmethod
    def _answer(outcomes: list[tuple[_Job, Any]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
        for job, outcome in outcomes:
            by_loop.setdefault(job.future.get_loop(), []).append((job.future, outcome))
        for loop, settled in by_loop.items():
            with suppress(RuntimeError):  # a loop that has closed: nobody is waiting
                loop.call_soon_threadsafe(_settle, settled)

    def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None


class _SQLiteUnitOfWork(UnitOfWork):
    """A unit of work. Statements ``alone``: reads on the loop, writes on the writer's thread (committed with
    whatever other writes are waiting). A transaction (any other statement) runs on the writer's connection,
    begun IMMEDIATE, the unit holding the writer's lock until it ends."""

    __slots__ = ("_database", "_holds_lock", "_wrote")

    dialect = "sqlite"

    def __init__(self, database: SQLiteDatabase) -> None:
        super().__init__()
        self._database = database
        self._holds_lock = False
        self._wrote = False

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(self, error_type: type[BaseException] | None, *_error: object) -> None:
        if not self._holds_lock:
            return
        writer, commit = self._database.writer, error_type is None
        try:
            # Shielded: a cancelled request still ends its transaction before another unit's begins.
            await asyncio.shield(writer.run(functools.partial(_end, commit=commit), in_unit=True))
        except asyncio.CancelledError as cancelled:
            if commit and self._wrote:  # the commit goes on without the request
                raise OutcomeUnknown from cancelled
            raise
        finally:
            writer.lock.release()

    async def _execute(self, statement: Executable, params: dict[str, Any], alone: bool) -> tuple[Rows, int]:
        sql, constants, writes = _compile(statement)
        values = {**constants, **{name: _stored(value) for name, value in params.items()}}
        writer = self._database.writer
        if self._begins(alone):
            await writer.lock.acquire()
            self._holds_lock = True
            self._wrote = writes
            return await writer.run(functools.partial(_begin_and_run, sql=sql, params=values), in_unit=True)  # type: ignore[no-any-return]
        if self._transaction_open:
            self._wrote = self._wrote or writes
            return await writer.run(functools.partial(_run, sql=sql, params=values), in_unit=True)  # type: ignore[no-any-return]
        if writes:
            try:
                return await writer.run(functools.partial(_run, sql=sql, params=values))  # type: ignore[no-any-return]
            except asyncio.CancelledError as cancelled:
                # The write stays queued and commits on the writer's thread without the request.
                raise OutcomeUnknown from cancelled
        return _run(self._database.reader(), sql, values)

    async def fetch_one(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> Any | None:
        rows, _ = await self._execute(statement, params, alone)
        return rows[0] if rows else None

    async def write_then_record(
        self, write: Executable, record: Executable, params: dict[str, Any], *, alone: bool = False
    ) -> Any | None:
        if not (alone and self._transaction_open is None):
            return await super().write_then_record(write, record, params)
        self._transaction_open = False
        (sql, constants, _), (record_sql, record_constants, _) = _compile(write), _compile(record)
        values = {name: _stored(value) for name, value in params.items()}
        run = functools.partial(
            _run_then_record,
            sql=sql,
            params={**constants, **values},
            record=record_sql,
            record_params={**record_constants, **values},
        )
        try:
            rows, _ = await self._database.writer.run(run)
        except asyncio.CancelledError as cancelled:
            raise OutcomeUnknown from cancelled
        return rows[0] if rows else None

    async def fetch_all(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> Sequence[Any]:
        rows, _ = await self._execute(statement, params, alone)
        return rows

    async def execute(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> int:
        _, changed = await self._execute(statement, params, alone)
        return changed


class SQLiteDatabase:
    """One SQLite file. ``PoolOptions`` do not apply: there is no server to keep connections to."""

    def __init__(self, url: str, _pool: PoolOptions | None = None) -> None:
        self._path = make_url(url).database or ""
        if self._path in ("", ":memory:"):
            # The reader and the writer are two connections, and each would get a database of its own.
            raise ValueError("SQLite needs a file: sqlite:///path/to/tasks.db")
        self._reader: sqlite3.Connection | None = None
        self.writer = _Writer(self._path)

    def reader(self) -> sqlite3.Connection:
        # Opened on first use, and again after a failure to open: a file that cannot be opened now is a 503.
        if self._reader is None:
            self._reader = _connect(self._path)
        return self._reader

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return _SQLiteUnitOfWork(self)

    async def open(self) -> None:
        pass

    async def dispose(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        await asyncio.to_thread(self.writer.close)

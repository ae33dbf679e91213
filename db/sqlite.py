"""SQLite: the standard library's ``sqlite3`` running statements compiled once; reads on the event loop, writes
on a thread of their own.

SQLite runs in the process, so a statement costs microseconds and a hop to another thread costs more than the
statement. Reads therefore run right on the event loop, on one connection: in WAL mode a reader never waits for
a lock, and each read is fetched whole before the loop moves on, so no read holds a snapshot across an await.
Writes run on one thread with its own connection, one at a time (``_Writer``): waiting for another process's
write lock (``--workers N`` on one file) and the fsync of each commit then block that thread, never the loop.

Measured in process on the data layer alone, before with SQLAlchemy's async engine over aiosqlite and after:
get-one 1,256 us (five hops to aiosqlite's thread per unit of work) and 17-35 us; a list of 1,000 32.8 ms
(SQLAlchemy building UUIDs and datetimes for each row, orjson turning them back to text) and 0.6 ms (documents
kept in the rows, ``db.documents``); toggle 1,605 us and 570-880 us, most of it the fsync of the commit.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql import Executable

from db.compiled import CompiledStatements
from db.database import PoolOptions, UnitOfWork

SQLITE_BUSY_TIMEOUT_MS = 5000
# Every commit is on disk before it is acknowledged (WAL, fsync per commit): a power loss loses no answered write.
SQLITE_SYNCHRONOUS = "FULL"
# The text SQLAlchemy stores a timestamp as on SQLite; db.documents renders it.
_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

_compile = CompiledStatements(sqlite.pysqlite.dialect(paramstyle="named"))

Rows = list[tuple[Any, ...]]


def _stored(value: Any) -> Any:
    """A parameter as SQLAlchemy stores it on SQLite, which has no UUID, timestamp or array type."""
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)
    if isinstance(value, list):
        return orjson.dumps(value).decode()
    return value


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


class _Writer:
    """The one connection that writes, and the one thread that writes.

    A unit of work holds ``lock`` from its first write (or its write transaction's first statement) to its end,
    so that within the process writes never wait on SQLite's lock and a transaction's statements are never
    interleaved with another unit's.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self.lock = asyncio.Lock()

    def _connected(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = _connect(self._path)
        return self._connection

    def _run_on_thread(self, sql: str, params: dict[str, Any], begin: bool) -> tuple[Rows, int]:
        connection = self._connected()
        if begin:
            # IMMEDIATE takes the write lock now, so that no other process's write can overtake the snapshot
            # of a transaction that reads before it writes.
            connection.execute("BEGIN IMMEDIATE")
        return _run(connection, sql, params)

    async def run(
        self, sql: str, params: dict[str, Any], *, begin: bool = False, on: sqlite3.Connection | None = None
    ) -> tuple[Rows, int]:
        """A statement on the writer's thread: on its connection, or ``on`` another that is to write."""
        loop = asyncio.get_running_loop()
        if on is not None:
            return await loop.run_in_executor(self._thread, _run, on, sql, params)
        return await loop.run_in_executor(self._thread, self._run_on_thread, sql, params, begin)

    async def end(self, commit: bool, on: sqlite3.Connection | None = None) -> None:
        connection = on if on is not None else self._connection
        if connection is None:
            return
        # Shielded: a cancelled request must still end its transaction, or the next write would run inside it.
        await asyncio.shield(asyncio.get_running_loop().run_in_executor(self._thread, _end, connection, commit))

    def close(self) -> None:
        def close_on_thread() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        self._thread.submit(close_on_thread).result()
        self._thread.shutdown()


class _SQLiteUnitOfWork(UnitOfWork):
    """A unit of work. Statements ``alone``: reads on the loop, writes on the writer's thread. A transaction (any
    other statement) that begins with a write runs on the writer, begun IMMEDIATE; one that begins with a read
    runs on a connection of its own, on the loop, until it writes (then on the writer's thread). A unit that
    writes holds the writer's lock until it ends."""

    __slots__ = ("_database", "_holds_lock", "_snapshot")

    dialect = "sqlite"

    def __init__(self, database: SQLiteDatabase) -> None:
        super().__init__()
        self._database = database
        self._holds_lock = False
        # The connection of a transaction that began with a read.
        self._snapshot: sqlite3.Connection | None = None

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(self, error_type: type[BaseException] | None, *_error: object) -> None:
        commit, writer, snapshot = error_type is None, self._database.writer, self._snapshot
        try:
            if self._holds_lock:
                await writer.end(commit, on=snapshot)
            elif snapshot is not None:
                _end(snapshot, commit)
        finally:
            if snapshot is not None:
                self._database.check_in(snapshot)
            if self._holds_lock:
                writer.lock.release()

    async def _execute(self, statement: Executable, params: dict[str, Any], alone: bool) -> tuple[Rows, int]:
        sql, constants, writes = _compile(statement)
        values = {**constants, **{name: _stored(value) for name, value in params.items()}}
        writer = self._database.writer
        if self._begins(alone):
            if writes:
                await self._lock_writer()
                return await writer.run(sql, values, begin=True)
            self._snapshot = self._database.check_out()
            self._snapshot.execute("BEGIN")
            return _run(self._snapshot, sql, values)
        if self._transaction_open:
            if self._snapshot is None:
                return await writer.run(sql, values)
            if not writes and not self._holds_lock:
                return _run(self._snapshot, sql, values)
            await self._lock_writer()
            return await writer.run(sql, values, on=self._snapshot)
        if writes:
            async with writer.lock:
                return await writer.run(sql, values)
        return _run(self._database.reader(), sql, values)

    async def _lock_writer(self) -> None:
        if not self._holds_lock:
            await self._database.writer.lock.acquire()
            self._holds_lock = True

    async def fetch_one(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> Any | None:
        rows, _ = await self._execute(statement, params, alone)
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
        self._idle_snapshots: list[sqlite3.Connection] = []
        self.writer = _Writer(self._path)

    def reader(self) -> sqlite3.Connection:
        # Opened on first use, and again after a failure to open: a file that cannot be opened now is a 503.
        if self._reader is None:
            self._reader = _connect(self._path)
        return self._reader

    def check_out(self) -> sqlite3.Connection:
        """A connection for one unit's transaction; ``check_in`` when it has ended."""
        return self._idle_snapshots.pop() if self._idle_snapshots else _connect(self._path)

    def check_in(self, connection: sqlite3.Connection) -> None:
        if connection.in_transaction:  # it could not be ended: let it go with what it held
            connection.close()
        else:
            self._idle_snapshots.append(connection)

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return _SQLiteUnitOfWork(self)

    async def open(self) -> None:
        pass

    async def dispose(self) -> None:
        for connection in [*self._idle_snapshots, *([self._reader] if self._reader else [])]:
            connection.close()
        self._idle_snapshots, self._reader = [], None
        await asyncio.get_running_loop().run_in_executor(None, self.writer.close)

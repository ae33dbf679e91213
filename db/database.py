"""Connections for requests: a pool per process, one connection per request, one statement per operation.

Statements are SQLAlchemy Core, built once in ``db.tasks``. On PostgreSQL they are compiled once to SQL and
run on a psycopg 3 pool directly: SQLAlchemy's async execution layer cost ~40% of a simple request's CPU.
On SQLite they run through SQLAlchemy's async engine (aiosqlite), which also processes types SQLite lacks.
"""

from __future__ import annotations

import select
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, cast

import psycopg
from psycopg import AsyncConnection as PsycopgConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import ClauseElement, Executable

SQLITE_BUSY_TIMEOUT_MS = 5000
# The PostgreSQL advisory lock that serialises migrations across instances. Any 64-bit constant works;
# it only has to be the same for every instance of this service.
MIGRATION_LOCK_KEY = 0x7461736B73617069  # "tasksapi"


@dataclass(frozen=True)
class PoolOptions:
    size: int = 10
    max_overflow: int = 10
    # Seconds to wait for a free (or, while the database is down, any) connection before answering 503.
    checkout_timeout: float = 1.0
    # Seconds to wait for PostgreSQL to accept a connection (libpq's minimum is 2).
    connect_timeout: int = 2
    # Milliseconds any one PostgreSQL statement may run; 0 leaves the server's setting alone.
    statement_timeout_ms: int = 5000
    # Seconds after which a pooled connection is replaced, before proxies and Neon drop it idle.
    recycle: int = 1800


class Connection(Protocol):
    """What the queries need from a connection, whichever database is behind it.

    Rows are tuples in the order of the statement's columns. (SQLite's, SQLAlchemy rows, also name them; on
    PostgreSQL, where every request reads one, plain tuples spare psycopg building a row class per query.)
    """

    dialect: str

    async def fetch_one(self, statement: Executable, params: dict[str, Any]) -> Any | None: ...

    async def fetch_all(self, statement: Executable, params: dict[str, Any]) -> Sequence[Any]: ...

    async def execute(self, statement: Executable, params: dict[str, Any]) -> int:
        """Runs a statement that returns no rows; how many rows it changed."""
        ...


class Database(Protocol):
    def connection(self) -> AbstractAsyncContextManager[Connection]:
        """``async with database.connection() as connection``: the request's one pooled connection."""
        ...

    async def open(self) -> None: ...

    async def dispose(self) -> None: ...


# ---- PostgreSQL: psycopg 3 pool, statements compiled once ------------------------------------------------


class _CompiledStatements:
    """SQL text and constant parameters of each statement, compiled on first use for PostgreSQL."""

    def __init__(self) -> None:
        self._dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
        self._compiled: dict[int, tuple[Executable, str, dict[str, Any]]] = {}

    def __call__(self, statement: Executable, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        cached = self._compiled.get(id(statement))
        if cached is None or cached[0] is not statement:
            compiled = cast(ClauseElement, statement).compile(dialect=self._dialect)
            cached = (statement, str(compiled), dict(compiled.params))
            self._compiled[id(statement)] = cached
        _, sql, constants = cached
        return sql, {**constants, **params}


_compiled = _CompiledStatements()


class _PostgresConnection:
    dialect = "postgresql"

    def __init__(self, connection: PsycopgConnection[Any]) -> None:
        self._connection = connection

    async def fetch_one(self, statement: Executable, params: dict[str, Any]) -> Any | None:
        cursor = await self._connection.execute(*_compiled(statement, params))
        return await cursor.fetchone()

    async def fetch_all(self, statement: Executable, params: dict[str, Any]) -> Sequence[Any]:
        cursor = await self._connection.execute(*_compiled(statement, params))
        return await cursor.fetchall()

    async def execute(self, statement: Executable, params: dict[str, Any]) -> int:
        cursor = await self._connection.execute(*_compiled(statement, params))
        return cursor.rowcount


async def _still_connected(connection: PsycopgConnection[Any]) -> None:
    """The pool's check at checkout, without a round trip.

    A server that went away (restart, crash, failover) leaves its end of an idle connection readable: its
    farewell message or end-of-file. A healthy idle connection has nothing to read, so one non-blocking poll
    tells them apart.
    """
    if connection.closed:
        raise psycopg.OperationalError("connection closed")
    readable, _, _ = select.select([connection.pgconn.socket], [], [], 0)
    if readable:
        # Closed here, the pool discards it and opens a replacement instead of handing it out again.
        await connection.close()
        raise psycopg.OperationalError("the server closed this connection")


class _Checkout:
    """``pool.connection()`` without its commit on exit, which has nothing to do on a connection in autocommit;
    a connection that comes back in any other state is rolled back or replaced by the pool itself. As a plain
    class rather than two nested generator-based context managers: a twentieth of a get-one's CPU."""

    __slots__ = ("_connection", "_pool")

    def __init__(self, pool: AsyncConnectionPool[PsycopgConnection[Any]]) -> None:
        self._pool = pool

    async def __aenter__(self) -> Connection:
        self._connection = await self._pool.getconn()
        return _PostgresConnection(self._connection)

    async def __aexit__(self, *_exc_info: object) -> None:
        await self._pool.putconn(self._connection)


class PostgresDatabase:
    def __init__(self, url: str, pool: PoolOptions) -> None:
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        statement_timeout = int(pool.statement_timeout_ms)

        async def configure(connection: PsycopgConnection[Any]) -> None:
            # A session setting rather than a startup option, which poolers such as PgBouncer refuse.
            if statement_timeout:
                await connection.execute(f"SET statement_timeout = {statement_timeout}")

        self.pool: AsyncConnectionPool[PsycopgConnection[Any]] = AsyncConnectionPool(
            conninfo,
            min_size=pool.size,
            max_size=pool.size + pool.max_overflow,
            timeout=pool.checkout_timeout,
            max_lifetime=pool.recycle,
            # Every operation is one statement, atomic on its own: autocommit spares BEGIN/COMMIT round trips.
            kwargs={"autocommit": True, "connect_timeout": max(2, pool.connect_timeout)},
            configure=configure,
            # A connection that died with a database restart is noticed at checkout and replaced.
            check=_still_connected,
            open=False,
        )

    def connection(self) -> AbstractAsyncContextManager[Connection]:
        return _Checkout(self.pool)

    async def open(self) -> None:
        # Without waiting: the service starts (and reports not-ready) while the database is down.
        await self.pool.open(wait=False)

    async def dispose(self) -> None:
        await self.pool.close()


# ---- SQLite: SQLAlchemy's async engine -------------------------------------------------------------------


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # SQLite's built-in lower() folds ASCII only; searches must be case-insensitive for "École" too,
    # as they are on PostgreSQL.
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    # WAL lets readers run beside the writer; the busy timeout makes writers queue instead of
    # failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


class _SQLAlchemyConnection:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self.dialect = connection.dialect.name

    async def fetch_one(self, statement: Executable, params: dict[str, Any]) -> Any | None:
        return (await self._connection.execute(statement, params)).first()

    async def fetch_all(self, statement: Executable, params: dict[str, Any]) -> Sequence[Any]:
        return (await self._connection.execute(statement, params)).all()

    async def execute(self, statement: Executable, params: dict[str, Any]) -> int:
        result: CursorResult[Any] = await self._connection.execute(statement, params)
        return result.rowcount


class SQLiteDatabase:
    def __init__(self, url: str, pool: PoolOptions) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url, isolation_level="AUTOCOMMIT", pool_size=pool.size, max_overflow=pool.max_overflow
        )
        event.listen(self.engine.sync_engine, "connect", _configure_sqlite)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        async with self.engine.connect() as connection:
            yield _SQLAlchemyConnection(connection)

    async def open(self) -> None:
        pass

    async def dispose(self) -> None:
        await self.engine.dispose()


def open_database(url: str, pool: PoolOptions | None = None) -> Database:
    """The database for a URL already normalised by ``tasks_api.settings``."""
    pool = pool or PoolOptions()
    if make_url(url).get_backend_name() == "sqlite":
        return SQLiteDatabase(url, pool)
    return PostgresDatabase(url, pool)


def sync_url(url: str) -> str:
    """The same database through a blocking driver, for Alembic."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)

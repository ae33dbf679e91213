"""The engine and the one place where a request's transaction is committed or rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 5000
# The PostgreSQL advisory lock that serialises migrations across instances. Any 64-bit constant works;
# it only has to be the same for every instance of this service.
MIGRATION_LOCK_KEY = 0x7461736B73617069  # "tasksapi"


@dataclass(frozen=True)
class PoolOptions:
    size: int = 10
    max_overflow: int = 10
    # Seconds to wait for a free connection before answering 503 instead of queueing forever.
    checkout_timeout: float = 2.0
    # Seconds to wait for PostgreSQL to accept a connection (libpq's minimum is 2).
    connect_timeout: int = 2
    # Milliseconds any one PostgreSQL statement may run; 0 leaves the server's setting alone.
    statement_timeout_ms: int = 5000
    # Seconds after which a pooled connection is replaced, before proxies and Neon drop it idle.
    recycle: int = 1800


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


def _statement_timeout(milliseconds: int) -> Any:
    def configure(dbapi_connection: Any, _record: Any) -> None:
        # A session setting rather than a startup option, which connection poolers such as PgBouncer refuse.
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET statement_timeout = {int(milliseconds)}")
        cursor.close()
        dbapi_connection.commit()

    return configure


def create_engine(url: str, pool: PoolOptions | None = None) -> AsyncEngine:
    """An async engine for a URL already normalised by ``tasks_api.settings``."""
    pool = pool or PoolOptions()
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    engine = create_async_engine(
        url,
        # Every operation of this service is one statement, atomic on its own: autocommit spares each
        # request the BEGIN and COMMIT round trips.
        isolation_level="AUTOCOMMIT",
        # A connection that died with a database restart is noticed at checkout and replaced.
        pool_pre_ping=True,
        pool_size=pool.size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.checkout_timeout,
        pool_recycle=pool.recycle,
        connect_args={} if is_sqlite else {"connect_timeout": max(2, pool.connect_timeout)},
    )
    if is_sqlite:
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
    elif pool.statement_timeout_ms:
        event.listen(engine.sync_engine, "connect", _statement_timeout(pool.statement_timeout_ms))
    return engine


def sync_url(url: str) -> str:
    """The same database through a blocking driver, for Alembic."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)


class Database:
    def __init__(self, url: str, pool: PoolOptions | None = None) -> None:
        self.engine = create_engine(url, pool)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """The request's one pooled connection, returned to the pool when the block ends, whatever happens.

        Statements commit as they complete (autocommit): each operation is a single statement, so a write is
        applied entirely or not at all and there is never a transaction left to roll back.
        """
        async with self.engine.connect() as connection:
            yield connection

    async def dispose(self) -> None:
        await self.engine.dispose()

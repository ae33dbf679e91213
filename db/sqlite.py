"""SQLite: SQLAlchemy's async engine (aiosqlite), which also processes the types SQLite lacks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable

from db.database import Connection, PoolOptions

SQLITE_BUSY_TIMEOUT_MS = 5000


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

"""SQLite: SQLAlchemy's async engine (aiosqlite), which also processes the types SQLite lacks."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, suppress
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable

from db.database import PoolOptions, UnitOfWork

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


class _SQLiteUnitOfWork(UnitOfWork):
    """The unit of work on a pooled connection of the engine, which is in AUTOCOMMIT: pysqlite then issues no
    BEGIN or COMMIT of its own, so this class begins, commits and rolls back its transaction with explicit
    statements."""

    __slots__ = ("_connection", "_engine")

    dialect = "sqlite"

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self._engine = engine

    async def __aenter__(self) -> UnitOfWork:
        self._connection = await self._engine.connect()
        return self

    async def __aexit__(self, error_type: type[BaseException] | None, *_error: object) -> None:
        try:
            if self._transaction_open:
                if error_type is None:
                    await self._connection.exec_driver_sql("COMMIT")
                else:
                    # The error that ended the unit is the one to report; a transaction left open by a failed
                    # rollback is rolled back by the pool when the connection returns to it.
                    with suppress(exc.DBAPIError):
                        await self._connection.exec_driver_sql("ROLLBACK")
        finally:
            await self._connection.close()

    async def _run(self, statement: Executable, params: dict[str, Any], alone: bool) -> CursorResult[Any]:
        if self._begins(alone):
            await self._connection.exec_driver_sql("BEGIN")
        return await self._connection.execute(statement, params)

    async def fetch_one(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> Any | None:
        return (await self._run(statement, params, alone)).first()

    async def fetch_all(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> Sequence[Any]:
        return (await self._run(statement, params, alone)).all()

    async def execute(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> int:
        return (await self._run(statement, params, alone)).rowcount


class SQLiteDatabase:
    def __init__(self, url: str, pool: PoolOptions) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url, isolation_level="AUTOCOMMIT", pool_size=pool.size, max_overflow=pool.max_overflow
        )
        event.listen(self.engine.sync_engine, "connect", _configure_sqlite)

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return _SQLiteUnitOfWork(self.engine)

    async def open(self) -> None:
        pass

    async def dispose(self) -> None:
        await self.engine.dispose()

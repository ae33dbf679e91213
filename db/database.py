"""The engine and the one place where a request's transaction is committed or rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 5000
# The PostgreSQL advisory lock that serialises migrations across instances. Any 64-bit constant works;
# it only has to be the same for every instance of this service.
MIGRATION_LOCK_KEY = 0x7461736B73617069  # "tasksapi"


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


def create_engine(url: str) -> AsyncEngine:
    """An async engine for a URL already normalised by ``tasks_api.settings``."""
    engine = create_async_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
    return engine


def sync_url(url: str) -> str:
    """The same database through a blocking driver, for Alembic."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)


class Database:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """Commits when the block succeeds, rolls back when it raises."""
        async with self.engine.begin() as connection:
            yield connection

    async def dispose(self) -> None:
        await self.engine.dispose()

"""What the queries need from a database, whichever backend serves it (``db.postgres``, ``db.sqlite``)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.sql import Executable


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

"""What the queries need from a database, whichever backend serves it (``db.postgres``, ``db.sqlite``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

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
    # A transaction-mode pooler (PgBouncer, Neon's pooled endpoint) sits between the service and PostgreSQL.
    transaction_pooler: bool = False


class UnitOfWork(ABC):
    """One request's work: its statements, on one pooled connection, and the transaction around them.

    ``async with database.unit_of_work() as work``. Statements run through ``work`` join one transaction, begun
    just before the first of them, committed when the block ends normally and rolled back when it ends with an
    exception; either way the connection goes back to the pool (or, broken, is replaced).

    The one exception, measured: a statement passed with ``alone=True`` runs in autocommit when it is the unit's
    first. The data layer says so only of a statement that is the operation's whole work (its only write, or
    its only read), atomic on its own. Any later statement of the same unit then runs in a transaction begun
    for it, so work that turns out to need a second statement (explaining a failed conditional write, say) is
    still one transaction from there on; the ``alone`` statement itself is already committed. Wrapping every
    request in a transaction (psycopg autocommit off, commit at exit) cost a get-one 199-201 us of server CPU
    against 138-140 us in autocommit, +45%, for BEGIN and COMMIT round trips that protect nothing.

    Rows are plain tuples in the order of the statement's columns (on PostgreSQL, where every request reads one,
    they spare psycopg building a row class per query).
    """

    __slots__ = ("_transaction_open",)

    dialect: ClassVar[str]

    def __init__(self) -> None:
        # None until a statement runs; False after one ran alone in autocommit; True once a transaction began.
        self._transaction_open: bool | None = None

    @property
    def transaction_open(self) -> bool:
        """Whether the unit began a transaction, which leaving it then ends (with COMMIT or ROLLBACK)."""
        return self._transaction_open is True

    def _begins(self, alone: bool) -> bool:
        """Whether the next statement must first begin the unit's transaction (which it then counts as open)."""
        if self._transaction_open:
            return False
        if alone and self._transaction_open is None:
            self._transaction_open = False
            return False
        self._transaction_open = True
        return True

    @abstractmethod
    async def fetch_one(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> Any | None:
        """The first row, or None."""

    @abstractmethod
    async def fetch_all(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> Sequence[Any]:
        """Every row."""

    @abstractmethod
    async def execute(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> int:
        """Runs a statement that returns no rows; how many rows it changed."""

    async def write_then_record(
        self, write: Executable, record: Executable, params: dict[str, Any], *, alone: bool = False
    ) -> Any | None:
        """The first row ``write`` returns (None if it changed nothing); if it changed a row, ``record`` runs
        after it, atomically with it. Here both in the unit's transaction; a backend that can run them as one
        step ``alone`` (as ``alone`` says of one statement) does so when asked."""
        row = await self.fetch_one(write, params)
        if row is not None:
            await self.execute(record, params)
        return row


class Database(Protocol):
    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A request's unit of work (see ``UnitOfWork``)."""
        ...

    async def open(self) -> None: ...

    async def dispose(self) -> None: ...

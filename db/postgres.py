"""PostgreSQL: a psycopg 3 pool running statements compiled once.

Statements are SQLAlchemy Core, built once in ``db.tasks``; here they are compiled once to SQL and run on the
pool directly: SQLAlchemy's async execution layer cost ~40% of a simple request's CPU.
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, suppress
from typing import Any

import psycopg
from psycopg import AsyncConnection as PsycopgConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.sql import Executable

from db.compiled import CompiledStatements
from db.database import PoolOptions, UnitOfWork
from db.errors import OutcomeUnknown

_compile = CompiledStatements(postgresql.psycopg.dialect())  # type: ignore[no-untyped-call]


def _compiled(statement: Executable, params: dict[str, Any]) -> tuple[str, dict[str, Any], bool]:
    """The SQL, its values, and whether it writes."""
    sql, constants, writes = _compile(statement)
    return sql, {**constants, **params}, writes


Cursor = psycopg.AsyncCursor[Any]


async def _committing(connection: PsycopgConnection[Any], cursor: Cursor, sql: str, values: Any = None) -> Cursor:
    """Runs a statement that commits a write (the write itself in autocommit, or COMMIT); one whose answer was
    lost raises ``OutcomeUnknown``.

    The answer is lost when the connection broke while the statement was out (the server may have committed it
    before the end of the connection reached it) or when the request was cancelled after the statement
    completed (psycopg cancels a cancelled request's statement, and a commit may already be done). Any other
    error is the server's own answer, and the write was not applied: a cancelled statement, a conflict, a
    constraint, or a connection that broke before the statement went out (psycopg then refuses to send it).
    """
    broken_before = connection.closed
    try:
        return await cursor.execute(sql, values)
    except BaseException as error:
        if cursor.pgresult is not None or (connection.closed and not broken_before):
            raise OutcomeUnknown from error
        raise


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


# How long closing the database waits for units still ending (see ``_InFlight``): psycopg gives the server 5 s
# to confirm a cancelled statement.
DRAIN_SECONDS = 6.0


class _InFlight:
    """How many units hold a connection, so that closing the database can wait for them.

    A request cut off at the end of the shutdown grace is cancelled while its statement runs; psycopg then asks
    the server to cancel the statement and waits for it to end, and the unit rolls back. The process must not
    end meanwhile: the event loop's last act cancels every task again, psycopg then closes the connection
    without waiting, and a write that was waiting for a lock (nothing notices the client has gone) commits on
    its own once it gets it, while the request was answered "not applied"."""

    __slots__ = ("_drained", "count")

    def __init__(self) -> None:
        self.count = 0
        self._drained: asyncio.Event | None = None

    def returned(self) -> None:
        self.count -= 1
        if self._drained is not None and not self.count:
            self._drained.set()

    async def drained(self, timeout: float) -> None:
        if self.count:
            self._drained = asyncio.Event()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), timeout)


class _PostgresUnitOfWork(UnitOfWork):
    """The unit of work on a pooled connection in autocommit: it begins, commits and rolls back its transaction
    with explicit statements. As a plain class rather than ``pool.connection()`` (two nested generator-based
    context managers, and a commit on exit that autocommit makes pointless): a twentieth of a get-one's CPU."""

    __slots__ = ("_connection", "_in_flight", "_pool", "_wrote")

    dialect = "postgresql"

    def __init__(self, pool: AsyncConnectionPool[PsycopgConnection[Any]], in_flight: _InFlight) -> None:
        super().__init__()
        self._pool = pool
        self._in_flight = in_flight
        # Whether the open transaction holds a write, whose COMMIT may then be lost (``_committing``).
        self._wrote = False

    async def __aenter__(self) -> UnitOfWork:
        self._connection = await self._pool.getconn()
        self._in_flight.count += 1
        return self

    async def __aexit__(self, error_type: type[BaseException] | None, *_error: object) -> None:
        try:
            if self._transaction_open:
                if error_type is None and self._wrote:
                    await _committing(self._connection, self._connection.cursor(), "COMMIT")
                elif error_type is None:
                    await self._connection.execute("COMMIT")
                else:
                    # The error that ended the unit is the one to report. A connection too broken to roll back
                    # is closed by psycopg or left mid-command, and the pool replaces it either way.
                    with suppress(psycopg.Error):
                        await self._connection.execute("ROLLBACK")
        finally:
            try:
                await self._pool.putconn(self._connection)
            finally:
                self._in_flight.returned()

    def _running(self, statement: Executable, params: dict[str, Any]) -> Coroutine[Any, Any, Cursor]:
        """The statement's execution, to be awaited: a write outside a transaction commits as it runs."""
        sql, values, writes = _compiled(statement, params)
        if not writes:
            return self._connection.execute(sql, values)
        if self._transaction_open:
            self._wrote = True
            return self._connection.execute(sql, values)
        return _committing(self._connection, self._connection.cursor(), sql, values)

    # Each method begins the transaction itself rather than through a shared coroutine: one await less per
    # statement on the path every request takes.
    async def fetch_one(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> Any | None:
        if self._begins(alone):
            await self._connection.execute("BEGIN")
        cursor = await self._running(statement, params)
        return await cursor.fetchone()

    async def fetch_all(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> Sequence[Any]:
        if self._begins(alone):
            await self._connection.execute("BEGIN")
        cursor = await self._running(statement, params)
        return await cursor.fetchall()

    async def execute(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> int:
        if self._begins(alone):
            await self._connection.execute("BEGIN")
        cursor = await self._running(statement, params)
        return cursor.rowcount


class _PooledUnitOfWork(_PostgresUnitOfWork):
    """The unit of work through a transaction-mode pooler, which hands each transaction whichever server
    connection is free: nothing may rely on the session. Every statement runs in a transaction that sets its own
    ``statement_timeout`` (``SET LOCAL``, gone with the transaction), and psycopg prepares nothing server-side
    (see ``PostgresDatabase``).

    A unit's first statement goes in one simple-protocol message with what its transaction needs first, its
    values bound on the client by psycopg: PostgreSQL runs a message of several statements as one transaction,
    committed at its end unless the message begins one itself. A statement ``alone`` is thus ``SET LOCAL ...;
    statement``: one message and one transaction, as in autocommit. Measured on get one against a pipeline of
    BEGIN, SET LOCAL, the statement and COMMIT in the extended protocol: the service's CPU per request 462 ->
    399 us (387 without a pooler), PostgreSQL's 269 -> 250 us; through PgBouncer and HAProxy, bench/compare.py's
    scaled-out get one went from 0.56x to 0.80x one instance direct.
    """

    __slots__ = ("_alone", "_begin")

    def __init__(
        self, pool: AsyncConnectionPool[PsycopgConnection[Any]], in_flight: _InFlight, statement_timeout_ms: int
    ) -> None:
        super().__init__(pool, in_flight)
        set_timeout = [f"SET LOCAL statement_timeout = {statement_timeout_ms}"] if statement_timeout_ms else []
        self._alone = set_timeout
        self._begin = ["BEGIN", *set_timeout]

    async def _run(self, statement: Executable, params: dict[str, Any], alone: bool) -> Any:
        if self._transaction_open:
            return await self._running(statement, params)
        begins = self._begins(alone)
        first = self._begin if begins else self._alone
        sql, values, writes = _compiled(statement, params)
        self._wrote = writes
        cursor = psycopg.AsyncClientCursor(self._connection)
        message = "; ".join([*first, sql])
        if writes and not begins:  # one implicit transaction, committed at the message's end
            await _committing(self._connection, cursor, message, values)
        else:
            await cursor.execute(message, values)
        for _ in first:
            cursor.nextset()
        return cursor

    async def fetch_one(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> Any | None:
        return await (await self._run(statement, params, alone)).fetchone()

    async def fetch_all(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> Sequence[Any]:
        rows: Sequence[Any] = await (await self._run(statement, params, alone)).fetchall()
        return rows

    async def execute(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> int:
        cursor = await self._run(statement, params, alone)
        rowcount: int = cursor.rowcount
        return rowcount


class PostgresDatabase:
    def __init__(self, url: str, pool: PoolOptions) -> None:
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        statement_timeout = int(pool.statement_timeout_ms)
        self._transaction_pooler = pool.transaction_pooler
        self._statement_timeout = statement_timeout
        self._in_flight = _InFlight()

        async def configure(connection: PsycopgConnection[Any]) -> None:
            # A session setting rather than a startup option, which poolers such as PgBouncer refuse; through a
            # transaction-mode pooler not even that holds, and each transaction sets its own (_PooledUnitOfWork).
            if statement_timeout and not pool.transaction_pooler:
                await connection.execute(f"SET statement_timeout = {statement_timeout}")

        connection_options: dict[str, Any] = {"autocommit": True, "connect_timeout": max(2, pool.connect_timeout)}
        if pool.transaction_pooler:
            # A statement prepared on one server connection is unknown on the next one the pooler hands out.
            connection_options["prepare_threshold"] = None

        self.pool: AsyncConnectionPool[PsycopgConnection[Any]] = AsyncConnectionPool(
            conninfo,
            min_size=pool.size,
            max_size=pool.size + pool.max_overflow,
            timeout=pool.checkout_timeout,
            max_lifetime=pool.recycle,
            # A unit of work begins a transaction only where it needs one (see db.database.UnitOfWork).
            kwargs=connection_options,
            configure=configure,
            # A connection that died with a database restart is noticed at checkout and replaced.
            check=_still_connected,
            open=False,
        )

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]:
        if self._transaction_pooler:
            return _PooledUnitOfWork(self.pool, self._in_flight, self._statement_timeout)
        return _PostgresUnitOfWork(self.pool, self._in_flight)

    async def open(self) -> None:
        # Without waiting: the service starts (and reports not-ready) while the database is down.
        await self.pool.open(wait=False)

    async def dispose(self) -> None:
        await self._in_flight.drained(DRAIN_SECONDS)
        await self.pool.close()

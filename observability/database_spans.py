"""A span per database statement: the data layer's units of work, wrapped.

The backends run compiled statements on their drivers directly (``db.postgres``, ``db.sqlite``), with no
SQLAlchemy engine and so no engine events; the unit of work is the one place every statement passes through.
Each span is opened on the event loop around the statement's await, so its parent is the request's span even
when the statement itself runs on SQLite's writer thread (contextvars would not follow it there): the span then
also covers the statement's wait for that thread. A statement that begins the unit's transaction covers its
BEGIN; ending the transaction is a span of its own (COMMIT or ROLLBACK).

A span carries the statement's text with its placeholders, never the values bound to them, nor an error's
message (PostgreSQL's name the offending values): only the error's type.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, NamedTuple

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Delete, Executable, Insert, Select, TableClause, Update

from db.compiled import CompiledStatements
from db.database import Database, UnitOfWork
from observability.spans import Attributes, Tracer

# As the backends compile them (db.postgres, db.sqlite), so that the text in a span is the text that ran.
_DIALECTS: dict[str, Dialect] = {
    "postgresql": postgresql.psycopg.dialect(),  # type: ignore[no-untyped-call]
    "sqlite": sqlite.pysqlite.dialect(paramstyle="named"),
}


class Described(NamedTuple):
    name: str
    text: str
    attributes: Attributes


def _operation(statement: Executable, sql: str) -> str:
    for kind, operation in ((Select, "SELECT"), (Insert, "INSERT"), (Update, "UPDATE"), (Delete, "DELETE")):
        if isinstance(statement, kind):
            return operation
    return sql.split(None, 1)[0].upper() if sql.strip() else "QUERY"


def _collection(statement: Executable) -> str | None:
    """The one table a statement reads or writes, if it names exactly one."""
    if isinstance(statement, Insert | Update | Delete):
        table = statement.table
        return table.name if isinstance(table, TableClause) else None
    if isinstance(statement, Select):
        tables = [table.name for table in statement.get_final_froms() if isinstance(table, TableClause)]
        return tables[0] if len(tables) == 1 else None
    return None


class StatementDescriptions:
    """A statement's span name and attributes, worked out on first use and kept (as ``db.compiled`` keeps its
    SQL): ``{operation} {table}`` per OpenTelemetry's database conventions, its text, the database system."""

    def __init__(self, system: str) -> None:
        self._system = system
        self._compile = CompiledStatements(_DIALECTS[system])
        self._described: dict[int, tuple[Executable, Described]] = {}

    def __call__(self, statement: Executable) -> Described:
        cached = self._described.get(id(statement))
        if cached is None or cached[0] is not statement:
            sql = self._compile(statement).sql
            operation, collection = _operation(statement, sql), _collection(statement)
            attributes: Attributes = {
                "db.system.name": self._system,
                "db.operation.name": operation,
                "db.query.text": sql,
            }
            if collection is not None:
                attributes["db.collection.name"] = collection
            cached = (statement, Described(f"{operation} {collection}" if collection else operation, sql, attributes))
            self._described[id(statement)] = cached
        return cached[1]

    def transaction_end(self, commit: bool) -> Described:
        operation = "COMMIT" if commit else "ROLLBACK"
        return Described(
            operation,
            operation,
            {"db.system.name": self._system, "db.operation.name": operation, "db.query.text": operation},
        )


class _ClientSpan:
    """A client span around one described statement (or transaction end), as a context manager."""

    __slots__ = ("_span", "_tracer")

    def __init__(self, tracer: Tracer, described: Described) -> None:
        self._tracer = tracer
        self._span = tracer.start_client(described.name, described.attributes)

    def __enter__(self) -> _ClientSpan:
        return self

    def __exit__(self, error_type: type[BaseException] | None, error: BaseException | None, _: object) -> None:
        if error is not None:
            self._span.failed(type(error).__qualname__)
        self._tracer.end(self._span)


class TracedUnitOfWork(UnitOfWork):
    """A backend's unit of work, each statement in a span."""

    __slots__ = ("_describe", "_tracer", "_unit")

    def __init__(self, unit: UnitOfWork, tracer: Tracer, describe: StatementDescriptions) -> None:
        super().__init__()
        self._unit = unit
        self._tracer = tracer
        self._describe = describe

    async def fetch_one(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> Any | None:
        with _ClientSpan(self._tracer, self._describe(statement)):
            return await self._unit.fetch_one(statement, params, alone=alone)

    async def fetch_all(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> Sequence[Any]:
        with _ClientSpan(self._tracer, self._describe(statement)):
            return await self._unit.fetch_all(statement, params, alone=alone)

    async def execute(self, statement: Executable, params: dict[str, Any], *, alone: bool = False) -> int:
        with _ClientSpan(self._tracer, self._describe(statement)):
            return await self._unit.execute(statement, params, alone=alone)

    async def write_then_record(
        self, write: Executable, record: Executable, params: dict[str, Any], *, alone: bool = False
    ) -> Any | None:
        # One span: a backend may run both as one step (db.sqlite does, alone). Its text is both statements',
        # as OpenTelemetry's conventions give a batch's.
        written, recorded = self._describe(write), self._describe(record)
        text = f"{written.text}; {recorded.text}"
        attributes = {**written.attributes, "db.query.text": text, "db.operation.batch.size": 2}
        with _ClientSpan(self._tracer, Described(written.name, text, attributes)):
            return await self._unit.write_then_record(write, record, params, alone=alone)


# ``dialect`` is a class attribute, which the data layer reads of every unit (db.tasks builds statements per
# dialect): a class per backend.
class _TracedPostgresUnitOfWork(TracedUnitOfWork):
    __slots__ = ()
    dialect = "postgresql"


class _TracedSQLiteUnitOfWork(TracedUnitOfWork):
    __slots__ = ()
    dialect = "sqlite"


_TRACED_UNITS = {unit.dialect: unit for unit in (_TracedPostgresUnitOfWork, _TracedSQLiteUnitOfWork)}


class _TracedUnits:
    """The context manager ``unit_of_work`` returns: the backend's, its unit wrapped, and the transaction's end
    in a span when the unit began one."""

    __slots__ = ("_database", "_tracer", "_units", "_wrapped")

    def __init__(
        self, units: AbstractAsyncContextManager[UnitOfWork], tracer: Tracer, database: TracedDatabase
    ) -> None:
        self._units = units
        self._tracer = tracer
        self._database = database

    async def __aenter__(self) -> UnitOfWork:
        unit = await self._units.__aenter__()
        self._wrapped = unit
        return _TRACED_UNITS[unit.dialect](unit, self._tracer, self._database.statements(unit.dialect))

    async def __aexit__(
        self, error_type: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> bool | None:
        if not self._wrapped.transaction_open:
            return await self._units.__aexit__(error_type, error, traceback)
        described = self._database.statements(self._wrapped.dialect).transaction_end(commit=error_type is None)
        with _ClientSpan(self._tracer, described):
            return await self._units.__aexit__(error_type, error, traceback)


class TracedDatabase:
    """A ``db.database.Database`` whose units of work trace their statements."""

    def __init__(self, database: Database, tracer: Tracer) -> None:
        self._database = database
        self._tracer = tracer
        self._statements = {system: StatementDescriptions(system) for system in _DIALECTS}

    def statements(self, system: str) -> StatementDescriptions:
        return self._statements[system]

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return _TracedUnits(self._database.unit_of_work(), self._tracer, self)

    async def open(self) -> None:
        await self._database.open()

    async def dispose(self) -> None:
        await self._database.dispose()

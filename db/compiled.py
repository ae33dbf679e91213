"""Statements compiled once per dialect: the backends run SQLAlchemy Core statements on their driver directly.

Statements are built once in ``db.tasks`` with bind parameters; compiling one costs far more than running it,
so each is compiled on first use and kept, keyed by its identity.
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement, Executable


class Compiled(NamedTuple):
    sql: str
    # The values SQLAlchemy bound itself (literals in the statement), which every execution passes too.
    constants: dict[str, Any]
    writes: bool


class CompiledStatements:
    """SQL text and constant parameters of each statement, for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._compiled: dict[int, tuple[Executable, Compiled]] = {}

    def __call__(self, statement: Executable) -> Compiled:
        cached = self._compiled.get(id(statement))
        if cached is None or cached[0] is not statement:
            compiled = cast(ClauseElement, statement).compile(dialect=self._dialect)
            writes = bool(compiled.isinsert or compiled.isupdate or compiled.isdelete)  # type: ignore[attr-defined]
            cached = (statement, Compiled(str(compiled), dict(compiled.params), writes))
            self._compiled[id(statement)] = cached
        return cached[1]

"""Tells a database that is not there right now (503, retry) from a query that is wrong (500, a bug)."""

from __future__ import annotations

import sqlite3

import psycopg

# SQLite reports both "cannot open the file" and "no such table" as OperationalError; its result
# codes tell them apart. These are the ones a retry can cure.
_SQLITE_TRANSIENT = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_PROTOCOL,
}

UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    # Sorted by result code (is_unavailable).
    sqlite3.Error,
    # psycopg's OperationalError covers refused connections, broken ones, statement timeouts and the pool's
    # checkout timeout; its other errors (a missing table, say) are bugs.
    psycopg.OperationalError,
    psycopg.InterfaceError,
    ConnectionError,
    TimeoutError,
)


def is_unavailable(error: BaseException) -> bool:
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_TRANSIENT
    return isinstance(error, UNAVAILABLE_ERRORS)


class OutcomeUnknown(Exception):
    """A write whose commit was sent to the database but whose answer never came back: the connection was lost,
    or the request was cut off, while it was being committed, so it may or may not have been applied.

    Raised from the error that ended it; unlike an unavailable database (nothing was changed), a retry of the
    same write may apply it twice.
    """


def is_key_conflict(error: BaseException) -> bool:
    """Whether a write failed on a primary key or unique constraint: a keyed write's on its key
    (``db.idempotency``), the one a write can meet."""
    if isinstance(error, sqlite3.IntegrityError):
        return getattr(error, "sqlite_errorcode", None) in (
            sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY,
            sqlite3.SQLITE_CONSTRAINT_UNIQUE,
        )
    return isinstance(error, psycopg.errors.UniqueViolation)

"""Tells a database that is not there right now (503, retry) from a query that is wrong (500, a bug)."""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy import exc

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
    # psycopg's OperationalError covers refused connections, broken ones, statement timeouts and the pool's
    # checkout timeout; its other errors (a missing table, say) are bugs.
    psycopg.OperationalError,
    psycopg.InterfaceError,
    exc.DBAPIError,
    exc.TimeoutError,
    exc.DisconnectionError,
    ConnectionError,
    TimeoutError,
)


def is_unavailable(error: BaseException) -> bool:
    if not isinstance(error, exc.DBAPIError):
        return isinstance(error, UNAVAILABLE_ERRORS)
    if error.connection_invalidated:
        return True
    sqlite_code = getattr(error.orig, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return sqlite_code & 0xFF in _SQLITE_TRANSIENT
    return isinstance(error, exc.OperationalError | exc.InterfaceError)
